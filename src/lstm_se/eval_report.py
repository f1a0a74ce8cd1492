"""How scores are summarized and written: means with 95 % intervals, markdown tables, the
per-file CSV and JSON without NaN. Used by `evaluate` for a run's scores and by the benches and
the notebook for their own tables."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import metrics

METRIC_NAMES = {
    "pesq": "PESQ-WB",
    "stoi": "STOI",
    "estoi": "ESTOI",
    "si_sdr": "SI-SDR (dB)",
    "csig": "CSIG",
    "cbak": "CBAK",
    "covl": "COVL",
}

CONVENTIONS = {
    "pesq": "pesq==0.0.4 wide-band (P.862.2 MOS-LQO) at 16 kHz",
    "stoi": "pystoi==0.4.1, extended=False",
    "estoi": "pystoi==0.4.1, extended=True",
    "si_sdr": "Le Roux et al. 2019, both signals zero-mean",
    "composite": "Hu and Loizou 2008 (composite.m re-implemented), with PESQ-WB",
    "lengths": "clean and noisy of equal length, else the pair is skipped "
    "(--allow-length-mismatch: truncated to the common length, the samples cut counted)",
    "rate": "all signals resampled to the model rate before scoring",
}

MIN_INTERVAL_N = 10
"""Fewest valid values a 95 % interval is shown for (a t interval from 2 or 3 files is wide and
rests on a deviation estimated from almost nothing)."""


def _ci95(values: np.ndarray) -> tuple[float, float, int]:
    """(mean, half-width of the 95 % Student-t interval, n) over the finite values; the
    half-width is NaN below MIN_INTERVAL_N values."""
    import scipy.stats

    v = values[np.isfinite(values)]
    n = len(v)
    if n == 0:
        return math.nan, math.nan, 0
    if n < MIN_INTERVAL_N:
        return float(v.mean()), math.nan, n
    half = float(scipy.stats.t.ppf(0.975, n - 1) * v.std(ddof=1) / math.sqrt(n))
    return float(v.mean()), half, n


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Means with 95 % intervals (noisy and enhanced), valid counts, and means by input SNR."""
    out: dict[str, Any] = {"noisy": {}, "enhanced": {}, "by_snr": {}}
    for prefix in ("noisy", "enhanced"):
        for key in metrics.SCORE_KEYS:
            vals = np.array([r[f"{prefix}_{key}"] for r in rows], dtype=float)
            mean, half, n = _ci95(vals)
            out[prefix][key] = {"mean": mean, "ci95": half, "n": n}
    snrs = sorted({r["snr"] for r in rows if r.get("snr") is not None})
    for snr in snrs:
        group = [r for r in rows if r.get("snr") == snr]
        entry: dict[str, Any] = {"files": len(group)}
        for prefix in ("noisy", "enhanced"):
            entry[prefix] = {
                key: _nanmean([r[f"{prefix}_{key}"] for r in group]) for key in metrics.SCORE_KEYS
            }
        out["by_snr"][f"{snr:g}"] = entry
    return out


def _nanmean(values: Sequence[float]) -> float:
    v = np.array(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if len(v) else math.nan


def _fmt(value: float, digits: int) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"


def _digits(key: str) -> int:
    return 2 if key == "si_sdr" else 3


def markdown_table(
    summary: Mapping[str, Any], title: str, n_files: int, notes: Sequence[str] = ()
) -> str:
    """The evaluation as markdown: overall means with 95 % intervals, then means by input SNR.
    `notes` (e.g. skipped pairs) are printed under the title."""
    lines = [
        f"### {title}",
        "",
        f"{n_files} files; mean ± half-width of the 95 % confidence interval (Student t) over "
        f"the files with a finite value (n), shown from n >= {MIN_INTERVAL_N}.",
        "",
        *[f"**{note}**\n" for note in notes],
        "| metric | noisy | enhanced | change | n |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, name in METRIC_NAMES.items():
        d = _digits(key)
        noisy, enh = summary["noisy"][key], summary["enhanced"][key]

        def cell(s: Mapping[str, float], d: int = d) -> str:
            if not math.isfinite(s["mean"]):
                return "n/a"
            ci = f" ± {s['ci95']:.{d}f}" if math.isfinite(s["ci95"]) else ""
            return f"{s['mean']:.{d}f}{ci}"

        change = enh["mean"] - noisy["mean"]
        sign = "+" if change >= 0 else ""
        lines.append(
            f"| {name} | {cell(noisy)} | {cell(enh)} | "
            f"{sign + _fmt(change, d) if math.isfinite(change) else 'n/a'} | {enh['n']} |"
        )
    if summary["by_snr"]:
        keys = list(METRIC_NAMES)
        lines += [
            "",
            "By input SNR (mean, noisy -> enhanced):",
            "",
            "| SNR (dB) | files | " + " | ".join(METRIC_NAMES[k] for k in keys) + " |",
            "|---:|---:|" + "---|" * len(keys),
        ]
        for snr, entry in sorted(summary["by_snr"].items(), key=lambda kv: float(kv[0])):
            cells = [
                f"{_fmt(entry['noisy'][k], _digits(k) - 1)} -> "
                f"{_fmt(entry['enhanced'][k], _digits(k) - 1)}"
                for k in keys
            ]
            lines.append(f"| {snr} | {entry['files']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "PESQ-WB: pesq 0.0.4 at 16 kHz; STOI/ESTOI: pystoi 0.4.1; SI-SDR: zero-mean (Le Roux "
        "et al. 2019); CSIG/CBAK/COVL: Hu and Loizou 2008 with PESQ-WB.",
    ]
    return "\n".join(lines) + "\n"


def csv_text(rows: Sequence[Mapping[str, Any]]) -> str:
    columns = ["utt", "snr", "seconds"] + [
        f"{p}_{k}" for p in ("noisy", "enhanced") for k in metrics.SCORE_KEYS
    ]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: ("" if row.get(k) is None else f"{row[k]:.6g}" if isinstance(row[k], float)
                    else row[k])
                for k in columns
            }
        )  # fmt: skip
    return buf.getvalue()


def json_safe(obj: Any) -> Any:
    """NaN/inf become null: JSON has no NaN."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def scores_table(scores: Mapping[str, Mapping[str, float]]) -> str:
    """Markdown table of `score_all` results, one column per signal (e.g. noisy, enhanced)."""
    names = list(scores)
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for key, label in METRIC_NAMES.items():
        cells = [_fmt(scores[n][key], _digits(key)) for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
