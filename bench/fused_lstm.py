"""Measure TFLite's fused int8 LSTM candidate (convert_lstm) of a run against float Keras.

    python bench/fused_lstm.py --run RUN [--clips N] [--testset DIR] [--json OUT]

Converts the run's one-frame model with the fused UNIDIRECTIONAL_SEQUENCE_LSTM kernel (Keras 2
child process, needs tf-keras), checks in TFLite Micro that its state persists across `invoke`
and that `reset()` restores it, measures the arena, and scores it frame by frame in TFLite
Micro (LiteRT as second opinion for the mask) against the float Keras model on N evenly spread
test clips of the run's test set (or of a flat clean/ + noisy/ set): mask SNR, PESQ-WB, STOI,
SI-SDR.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from lstm_se import audio, convert, convert_lstm, runs, tflm_arena, verify
from lstm_se import model as model_mod
from lstm_se.tflite_info import describe
from lstm_se.tflite_masker import TFLiteMasker

log = logging.getLogger("bench.fused_lstm")


def convert_run(run: Path, out: Path) -> tuple[Any, Any, bytes]:
    """(cfg, trained, fused-LSTM int8 bytes) of a run, calibrated as `lstm-se export` does."""
    import os

    cfg, trained = runs.load(run)
    why = convert_lstm.supported(cfg)
    if why:
        raise SystemExit(why)
    stream = model_mod.build_streaming_model(cfg, trained, frontend=False)
    segs = convert.training_segments(cfg, convert.REP_SEGMENTS, cfg.seed)
    frames = np.concatenate([model_mod.compress(s, cfg) for s in segs])
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / convert_lstm.WEIGHTS_FILE
        convert_lstm.weights_npz(stream, cfg, frames, npz)
        spec = Path(tmp) / "spec.json"
        spec.write_text(json.dumps({"npz": str(npz), "out": str(out)}))
        env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
        proc = subprocess.run(
            [sys.executable, "-m", "lstm_se.convert_lstm", str(spec)],
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            raise SystemExit(f"fused-LSTM conversion failed ({proc.returncode}): {proc.stderr}")
    return cfg, trained, out.read_bytes()


def _pairs(cfg: Any, testset: Path | None) -> list[tuple[Path, Path]]:
    if testset is None:
        return verify.testset_pairs(cfg)
    clean = {p.stem: p for p in audio.list_audio(testset / "clean")}
    return [(p, clean[p.stem]) for p in audio.list_audio(testset / "noisy") if p.stem in clean]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--clips", type=int, default=30)
    parser.add_argument("--testset", default=None, help="flat clean/ + noisy/ folder")
    parser.add_argument("--model", default=None, help="a converted model (skip conversion)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run = Path(args.run)
    out = Path(args.model) if args.model else run / "export" / convert_lstm.LSTM_FILE
    if args.model:
        cfg, trained = runs.load(run)
        data = out.read_bytes()
    else:
        cfg, trained, data = convert_run(run, out)
    info = describe(data)
    report: dict[str, Any] = {"file": str(out), "bytes": len(data), "ops": info.op_counts}
    report["io"] = [[t.name, t.dtype, list(t.shape)] for t in info.inputs + info.outputs]
    tflm = TFLiteMasker(data, cfg, "tflm")
    rng = np.random.default_rng(0)
    frame = np.abs(rng.normal(0, 0.05, config_bins(cfg))).astype(np.float32)
    first, second = tflm(frame), tflm(frame)
    tflm.reset()
    again = tflm(frame)
    report["state_persists"] = bool(not np.array_equal(first, second))
    report["reset_restores"] = bool(np.array_equal(first, again))
    report["arena"] = tflm_arena.measure_arena(data).__dict__
    pairs = verify.evenly_spread(
        _pairs(cfg, Path(args.testset) if args.testset else None), args.clips
    )
    rate = cfg.dset.sample_rate
    clips = [(audio.read_mono(n, rate), audio.read_mono(c, rate)) for n, c in pairs]
    litert = TFLiteMasker(data, cfg, "litert")
    ref, est, est_lr = [], [], []
    for noisy, _ in clips:
        mags = verify.clip_magnitudes(noisy, cfg)
        ref.append(verify.float_masks(trained, mags))
        est.append(verify.run_masker(tflm, mags))
        est_lr.append(verify.run_masker(litert, mags))
    ref_cat = np.concatenate(ref)
    report["clips"] = len(clips)
    report["frames"] = int(ref_cat.shape[0])
    report["mask_snr_db_tflm"] = round(verify.mask_snr_db(ref_cat, np.concatenate(est)), 2)
    report["mask_snr_db_litert"] = round(verify.mask_snr_db(ref_cat, np.concatenate(est_lr)), 2)
    scores = verify._audio_scores(cfg, trained, {"lstm_int8": tflm}, clips)
    report["audio"] = {k: v for k, v in scores.items() if k != "table"}
    print(scores["table"])
    print(json.dumps({k: v for k, v in report.items() if k != "audio"}, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


def config_bins(cfg: Any) -> int:
    """Bins of the config's frames."""
    return cfg.dset.n_fft // 2 + 1


if __name__ == "__main__":
    sys.exit(main())
