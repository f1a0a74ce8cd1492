"""Plots of signals: dB spectrograms and waveforms (evaluate's examples, inference.ipynb)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from . import features


def spectrogram_figure(
    signals: Mapping[str, np.ndarray],
    rate: int,
    n_fft: int = 512,
    hop: int = 128,
    title: str | None = None,
    dynamic_range: float = 80.0,
):
    """One dB spectrogram per signal (rows, shared colour scale): a matplotlib Figure.

    Built without pyplot, so it neither needs nor changes a backend (shown by Jupyter's
    display, saved with `savefig`).
    """
    from matplotlib.figure import Figure

    specs = {
        name: 20 * np.log10(np.abs(features.stft(x, n_fft, hop, center=True)) + 1e-10).T
        if len(x)
        else np.full((n_fft // 2 + 1, 1), -200.0)
        for name, x in signals.items()
    }
    top = max(float(s.max()) for s in specs.values())
    fig = Figure(figsize=(10, 2.4 * len(specs)), layout="constrained")
    axes = fig.subplots(len(specs), 1, squeeze=False, sharex=True)
    for ax, (name, spec) in zip(axes[:, 0], specs.items(), strict=True):
        seconds = len(signals[name]) / rate
        im = ax.imshow(
            spec, origin="lower", aspect="auto", cmap="magma", vmin=top - dynamic_range, vmax=top,
            extent=(0.0, max(seconds, 1e-3), 0.0, rate / 2000),
        )  # fmt: skip
        ax.set_ylabel("kHz")
        ax.set_title(name, loc="left", fontsize=10)
    axes[-1, 0].set_xlabel("time (s)")
    fig.colorbar(im, ax=axes[:, 0], label="dB", shrink=0.8)
    if title:
        fig.suptitle(title)
    return fig


def waveform_figure(signals: Mapping[str, np.ndarray], rate: int, title: str | None = None):
    """Waveforms, one row per signal, on a shared amplitude scale: a matplotlib Figure."""
    from matplotlib.figure import Figure

    peak = max([float(np.max(np.abs(x))) for x in signals.values() if len(x)] + [1e-3])
    fig = Figure(figsize=(10, 1.8 * len(signals)), layout="constrained")
    axes = fig.subplots(len(signals), 1, squeeze=False, sharex=True)
    for ax, (name, x) in zip(axes[:, 0], signals.items(), strict=True):
        ax.plot(np.arange(len(x)) / rate, x, linewidth=0.5)
        ax.set_ylim(-1.05 * peak, 1.05 * peak)
        ax.set_title(name, loc="left", fontsize=10)
    axes[-1, 0].set_xlabel("time (s)")
    if title:
        fig.suptitle(title)
    return fig


def save_figure(fig, path: Path) -> None:
    """PNG written under a temporary name, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, path)
