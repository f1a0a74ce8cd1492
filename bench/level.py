"""Level sweep: how the enhanced audio's scores change with the input level.

    python bench/level.py --run RUN --testset DIR [--testset DIR ...]
                          [--levels -45 -35 -25 -15 -6] [--max-files N]
                          [--out bench/level.json]

Each noisy file of each test set (VoiceBank-DEMAND or flat `clean/` + `noisy/` layout, as
`lstm-se evaluate --testset` reads it) is scaled so that its RMS is each of `--levels` dBFS
(mean square, 0 dBFS = RMS 1.0), its clean reference by the same gain, enhanced offline by the
run's float model (`lstm-se enhance` without --streaming: the same masks, the model is causal)
and scored: PESQ-WB, STOI, zero-mean SI-SDR. Prints per level the means and per test set the
spread (max - min over levels) of each, and counts the samples over full scale in the scaled
input and in the output (float, as the model computes it; a 16-bit file would clip there). At
-6 dBFS RMS the peaks of most speech exceed full scale already in the input, so an output sample
over full scale is counted as clipping by the model only where the input had none.

Writes JSON (levels, per level and test set: means, per test set: spreads, clip counts).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("bench.level")
DEFAULT_LEVELS = (-45.0, -35.0, -25.0, -15.0, -6.0)
METRICS = ("pesq", "stoi", "si_sdr")


def _rms_db(x: np.ndarray) -> float:
    return 10.0 * np.log10(max(float(np.mean(np.square(x, dtype=np.float64))), 1e-20))


def sweep(run: str, testset_dirs: list[str], levels: list[float], max_files: int) -> dict:
    """Scores by test set and level, spreads and clip counts (see the module doc)."""
    from lstm_se import audio, enhance, metrics, runs, testsets

    cfg, model = runs.load(runs.resolve(run))
    rate = cfg.dset.sample_rate
    result: dict = {"run": str(run), "levels": levels, "testsets": {}}
    for testset in testset_dirs:
        _, pairs = testsets.testset_pairs(testset)
        if max_files and len(pairs) > max_files:
            pick = np.linspace(0, len(pairs) - 1, max_files).round().astype(int)
            pairs = [pairs[i] for i in sorted(set(pick))]
        name = Path(testset).name or str(testset)
        rows: dict[float, dict[str, list[float]]] = {lv: {m: [] for m in METRICS} for lv in levels}
        clip_in = dict.fromkeys(levels, 0)
        clip_out = dict.fromkeys(levels, 0)
        clip_out_only = dict.fromkeys(levels, 0)
        start = time.perf_counter()
        for k, pair in enumerate(pairs):
            clean = audio.read_mono(pair.clean, rate)
            noisy = audio.read_mono(pair.noisy, rate)
            n = min(len(clean), len(noisy))
            clean, noisy = clean[:n].astype(np.float64), noisy[:n].astype(np.float64)
            for lv in levels:
                gain = 10.0 ** ((lv - _rms_db(noisy)) / 20.0)
                x = noisy * gain
                out, _ = enhance.enhance_waveform(x.astype(np.float32), rate, cfg, model=model)
                ref = clean * gain
                rows[lv]["pesq"].append(metrics.pesq_wb(ref, out, rate))
                rows[lv]["stoi"].append(metrics.stoi(ref, out, rate))
                rows[lv]["si_sdr"].append(metrics.si_sdr(ref, out))
                over_in = int(np.sum(np.abs(x) > 1.0))
                over_out = int(np.sum(np.abs(out) > 1.0))
                clip_in[lv] += over_in
                clip_out[lv] += over_out
                clip_out_only[lv] += over_out if over_in == 0 else 0
            print(f"\r{name}: {k + 1}/{len(pairs)} files", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        means = {str(lv): {m: float(np.nanmean(rows[lv][m])) for m in METRICS} for lv in levels}
        spread = {
            m: float(max(v[m] for v in means.values()) - min(v[m] for v in means.values()))
            for m in METRICS
        }
        result["testsets"][name] = {
            "path": str(testset),
            "files": len(pairs),
            "means": means,
            "spread": spread,
            "input_samples_over_full_scale": {str(k): v for k, v in clip_in.items()},
            "output_samples_over_full_scale": {str(k): v for k, v in clip_out.items()},
            "output_over_full_scale_where_input_was_not": {
                str(k): v for k, v in clip_out_only.items()
            },
            "seconds": round(time.perf_counter() - start, 1),
        }
    return result


def table(result: dict) -> str:
    lines = [
        "| test set | input level (dBFS RMS) | PESQ-WB | STOI | SI-SDR (dB) | out > FS (in ok) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, ts in result["testsets"].items():
        for lv, m in ts["means"].items():
            clip = ts["output_over_full_scale_where_input_was_not"][lv]
            lines.append(
                f"| {name} ({ts['files']} files) | {float(lv):.0f} | {m['pesq']:.3f} | "
                f"{m['stoi']:.3f} | {m['si_sdr']:.2f} | {clip} |"
            )
        s = ts["spread"]
        lines.append(
            f"| {name} spread | | {s['pesq']:.3f} | {s['stoi']:.3f} | {s['si_sdr']:.2f} | |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default=None, help="run folder (default: the pretrained model)")
    parser.add_argument("--testset", action="append", required=True, help="test-set folder")
    parser.add_argument("--levels", type=float, nargs="+", default=list(DEFAULT_LEVELS))
    parser.add_argument("--max-files", type=int, default=0, help="evenly spread subset; 0: all")
    parser.add_argument("--out", default="bench/level.json", help="JSON output")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for testset in args.testset:
        if not Path(testset).is_dir():
            raise SystemExit(f"error: test set '{testset}' is not a folder")
    result = sweep(args.run, args.testset, args.levels, args.max_files)
    result["host"] = {"machine": platform.machine(), "cpus": os.cpu_count()}
    text = table(result)
    print(text)
    from lstm_se.config import atomic_write_text

    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
