"""Speech and noise levels as the mixer measures them, and the SNR they define.

**SNR definition** (:func:`active_speech_power`, :func:`active_snr`). The speech level is
measured on *active* speech, so that pauses do not make the noise look louder than it is: the
speech is cut into non-overlapping 20 ms frames (a tail shorter than a frame is ignored; a file
shorter than one frame is one frame), and a frame is active when its mean-square energy is
within 40 dB of the loudest frame's. The speech power is the mean energy of the active frames.
The noise power is the mean square over the whole noise segment that is added (every sample,
pauses and all). SNR = 10 log10(speech power / noise power). This is a simplified form of the
ITU-T P.56 active speech level (fixed relative threshold instead of P.56's adaptive one).
"""

from __future__ import annotations

import math

import numpy as np

FRAME_MS = 20.0
"""Frame length of the active-speech measurement."""
ACTIVE_RANGE_DB = 40.0
"""A frame is active speech when its energy is within this many dB of the loudest frame."""

SNR_DEFINITION = (
    "speech power = mean energy of the active 20 ms frames (non-overlapping; active = energy "
    "within 40 dB of the loudest frame); noise power = mean square of the whole added noise "
    "segment; SNR = 10 log10(speech power / noise power)"
)


def active_speech_power(
    x: np.ndarray, rate: int, frame_ms: float = FRAME_MS, range_db: float = ACTIVE_RANGE_DB
) -> float:
    """Mean energy of the active frames of `x` (see the module docstring); 0.0 for silence."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return 0.0
    n = max(1, round(rate * frame_ms / 1000.0))
    n_frames = len(x) // n
    frames = x[None, :] if n_frames == 0 else x[: n_frames * n].reshape(n_frames, n)
    energy = np.mean(np.square(frames), axis=1)
    loudest = float(energy.max())
    if loudest <= 0.0:
        return 0.0
    active = energy >= loudest * 10.0 ** (-range_db / 10.0)
    return float(energy[active].mean())


def noise_power(x: np.ndarray) -> float:
    """Mean square of every sample of `x` (0.0 for an empty array)."""
    x = np.asarray(x, dtype=np.float64)
    return float(np.mean(np.square(x))) if x.size else 0.0


def active_snr(clean: np.ndarray, noisy: np.ndarray, rate: int) -> float:
    """SNR in dB of a pair as the mixer defines it: active clean power over (noisy - clean) power.

    +inf when noisy equals clean; -inf when the clean signal is silent.
    """
    clean = np.asarray(clean, dtype=np.float64)
    noisy = np.asarray(noisy, dtype=np.float64)
    if clean.shape != noisy.shape:
        raise ValueError(f"clean {clean.shape} and noisy {noisy.shape} differ in length")
    p_s = active_speech_power(clean, rate)
    p_n = noise_power(noisy - clean)
    if p_s <= 0.0:
        return float("-inf")
    if p_n <= 0.0:
        return float("inf")
    return 10.0 * math.log10(p_s / p_n)
