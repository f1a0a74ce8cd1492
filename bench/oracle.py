"""Oracle masks: what a mask model of this project's form can reach at best on a test set.

    python bench/oracle.py --testset DIR [--testset DIR ...] [--run RUN] [--max-files N]
                           [--workers N] [--out bench/oracle.json]

The model multiplies each bin of the noisy STFT by a real gain in [floor, 1] (a sigmoid,
lifted by `model.mask_floor`) and keeps the noisy phase. Knowing the clean speech, the best such
gains are known too, so scoring them tells how much of a gap to a quality target the mask form
itself leaves, and how much is the model's estimate. Two oracles, both clipped to
[floor, 1] and applied with the run's STFT (`dset.n_fft`, `hop_length`, `win_length`, causal
framing as `lstm-se enhance`):

* `irm`: the magnitude ratio |S| / |X| (S clean, X noisy), the ideal amplitude mask;
* `psm`: the phase-sensitive mask |S| cos(angle S - angle X) / |X|, the real gain closest to
  the clean STFT in the squared error (Erdogan et al. 2015).

Prints, per test set, the noisy input's and each oracle's PESQ-WB, STOI and SI-SDR means (the
`metrics.score_all` code `lstm-se evaluate` uses) and writes them as JSON. Test sets are read
as `lstm-se evaluate --testset` reads them (VoiceBank-DEMAND or flat `clean/` + `noisy/`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ORACLES = ("irm", "psm")
METRICS = ("pesq", "stoi", "si_sdr")


def oracle_masks(clean_spec: np.ndarray, noisy_spec: np.ndarray, floor: float) -> dict:
    """The two oracle masks of `clean_spec` in `noisy_spec` (complex, same shape), each
    clipped to [floor, 1]."""
    noisy_mag = np.abs(noisy_spec)
    safe = np.maximum(noisy_mag, 1e-12)
    irm = np.abs(clean_spec) / safe
    psm = np.real(clean_spec * np.conj(noisy_spec)) / (safe * safe)
    return {"irm": np.clip(irm, floor, 1.0), "psm": np.clip(psm, floor, 1.0)}


def apply_oracles(
    clean: np.ndarray, noisy: np.ndarray, n_fft: int, hop: int, win: int, floor: float
) -> dict[str, np.ndarray]:
    """Each oracle's output waveform, as long as the input."""
    from lstm_se import features

    n = len(noisy)
    front, back = features.streaming_pad(n, n_fft, hop)

    def spec(x: np.ndarray) -> np.ndarray:
        return features.stft(np.pad(x, (front, back)), n_fft, hop, win, center=False)

    noisy_spec = spec(noisy)
    out = {}
    for name, mask in oracle_masks(spec(clean), noisy_spec, floor).items():
        y = features.istft(noisy_spec * mask, n_fft, hop, win, center=False)
        out[name] = y[front : front + n]
    return out


def _score_pair(job: tuple[str, str, int, int, int, int, float]) -> dict[str, dict[str, float]]:
    from lstm_se import audio, metrics

    clean_path, noisy_path, rate, n_fft, hop, win, floor = job
    clean = audio.read_mono(clean_path, rate).astype(np.float64)
    noisy = audio.read_mono(noisy_path, rate).astype(np.float64)
    n = min(len(clean), len(noisy))
    clean, noisy = clean[:n], noisy[:n]
    signals = {"noisy": noisy, **apply_oracles(clean, noisy, n_fft, hop, win, floor)}
    return {
        name: {
            "pesq": metrics.pesq_wb(clean, y, rate),
            "stoi": metrics.stoi(clean, y, rate),
            "si_sdr": metrics.si_sdr(clean, y),
        }
        for name, y in signals.items()
    }


def measure(run: str | None, testset_dirs: list[str], max_files: int, workers: int) -> dict:
    """Means per test set of the noisy input and each oracle (see the module doc)."""
    from lstm_se import runs, testsets

    run_dir = runs.resolve(run)
    cfg = runs.load_config(run_dir)
    d = cfg.dset
    floor = float(cfg.model.mask_floor)
    result: dict[str, Any] = {
        "run": str(run_dir),
        "stft": {"n_fft": d.n_fft, "hop": d.hop_length, "win": d.win_length},
        "mask_range": [floor, 1.0],
        "testsets": {},
    }
    for testset in testset_dirs:
        _, pairs = testsets.testset_pairs(testset)
        if max_files and len(pairs) > max_files:
            pick = np.linspace(0, len(pairs) - 1, max_files).round().astype(int)
            pairs = [pairs[i] for i in sorted(set(pick))]
        jobs = [
            (str(p.clean), str(p.noisy), d.sample_rate, d.n_fft, d.hop_length, d.win_length, floor)
            for p in pairs
        ]
        start = time.perf_counter()
        rows = []
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for k, row in enumerate(pool.map(_score_pair, jobs)):
                rows.append(row)
                print(f"\r{Path(testset).name}: {k + 1}/{len(jobs)} files", end="", file=sys.stderr)
        print(file=sys.stderr)
        means = {
            name: {m: float(np.nanmean([r[name][m] for r in rows])) for m in METRICS}
            for name in ("noisy", *ORACLES)
        }
        result["testsets"][Path(testset).name or str(testset)] = {
            "path": str(testset),
            "files": len(rows),
            "means": means,
            "seconds": round(time.perf_counter() - start, 1),
        }
    return result


def table(result: dict) -> str:
    lines = [
        "| test set | signal | PESQ-WB | STOI | SI-SDR (dB) |",
        "|---|---|---:|---:|---:|",
    ]
    for name, ts in result["testsets"].items():
        for signal, m in ts["means"].items():
            lines.append(
                f"| {name} ({ts['files']} files) | {signal} | {m['pesq']:.3f} | "
                f"{m['stoi']:.3f} | {m['si_sdr']:.2f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default=None, help="run folder (default: the pretrained model)")
    parser.add_argument("--testset", action="append", required=True, help="test-set folder")
    parser.add_argument("--max-files", type=int, default=0, help="evenly spread subset; 0: all")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default="bench/oracle.json", help="JSON output")
    args = parser.parse_args(argv)
    for testset in args.testset:
        if not Path(testset).is_dir():
            raise SystemExit(f"error: test set '{testset}' is not a folder")
    result = measure(args.run, args.testset, args.max_files, args.workers)
    result["host"] = {"machine": platform.machine(), "cpus": os.cpu_count()}
    print(table(result))
    from lstm_se.config import atomic_write_text

    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
