"""Benchmark enhancement on CPU: real-time factor offline and streaming, per-frame latency.

    python bench/enhance.py [--run result/demo | --config conf/config.yaml] [--seconds 10]
                            [--repeats 3] [--out bench/enhance.json]

Without --run, a model with fresh (untrained) weights is built from the config: the weights do
not change the cost. The real-time factor (RTF) is processing time / audio duration (below 1 is
faster than real time); the median over `--repeats` runs after one warm-up run. Per-frame latency
is the time of one `StreamingEnhancer.push` (window, rFFT, Keras one-frame model with carried
state, irFFT, overlap-add) for every hop of the signal, and of the model step alone; the budget
is one hop (16 ms at 16 kHz, hop 256). Prints the figures and writes them as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("bench.enhance")


def _load(args: argparse.Namespace):
    from lstm_se import config, enhance
    from lstm_se import model as model_mod

    if args.run:
        cfg, model = enhance.load(args.run)
        return cfg, model, f"run {args.run}"
    cfg = config.load(args.config, args.overrides)
    return cfg, model_mod.build_model(cfg), f"fresh weights from {args.config or 'defaults'}"


def _signal(seconds: float, rate: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(round(seconds * rate)) / rate
    speechy = np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return (0.3 * speechy + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def _rtf(fn, seconds: float, repeats: int) -> dict[str, float]:
    fn()  # warm-up: graph tracing, first-call allocations
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    med = statistics.median(times)
    return {"seconds_median": round(med, 4), "rtf": round(med / seconds, 5)}


def _percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = np.array(samples_s) * 1e3
    return {
        "median_ms": round(float(np.median(ms)), 4),
        "p99_ms": round(float(np.percentile(ms, 99)), 4),
        "max_ms": round(float(ms.max()), 4),
        "frames": len(ms),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default=None, help="trained run folder (default: fresh model)")
    parser.add_argument("--config", default=None, help="config for a fresh model")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    parser.add_argument("--seconds", type=float, default=10.0, help="audio length per run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (median reported)")
    parser.add_argument("--out", default="bench/enhance.json", help="JSON output file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    import tensorflow as tf

    from lstm_se import enhance
    from lstm_se.config import atomic_write_text

    cfg, model, source = _load(args)
    d = cfg.dset
    rate = d.sample_rate
    x = _signal(args.seconds, rate)
    masker = enhance.KerasMasker(cfg, model)

    offline = _rtf(lambda: enhance.enhance_waveform(x, rate, cfg, model=model), args.seconds,
                   args.repeats)  # fmt: skip
    streaming = _rtf(lambda: enhance.enhance_waveform(x, rate, cfg, masker=masker), args.seconds,
                     args.repeats)  # fmt: skip

    # Per-frame latency of the streaming path, hop in -> hop out, on the real signal.
    streamer = enhance.StreamingEnhancer(masker, d.n_fft, d.hop_length, d.win_length,
                                         d.fft_normalize)  # fmt: skip
    hops = [x[i : i + d.hop_length] for i in range(0, len(x) - d.hop_length + 1, d.hop_length)]
    for h in hops[:20]:  # warm-up
        streamer.push(h)
    streamer.reset()
    push_times = []
    for h in hops:
        start = time.perf_counter()
        streamer.push(h)
        push_times.append(time.perf_counter() - start)
    masker.reset()
    mags = np.abs(np.random.default_rng(1).standard_normal((len(hops), d.n_fft // 2 + 1)))
    mags = (mags * 0.01).astype(np.float32)
    step_times = []
    for m in mags:
        start = time.perf_counter()
        masker(m)
        step_times.append(time.perf_counter() - start)

    result = {
        "model": source,
        "layers": cfg.model.layers,
        "units": cfg.model.units,
        "n_mels": cfg.model.n_mels,
        "sample_rate": rate,
        "n_fft": d.n_fft,
        "hop": d.hop_length,
        "audio_seconds": args.seconds,
        "repeats": args.repeats,
        "offline": offline,
        "streaming": streaming,
        "frame_budget_ms": round(1e3 * d.hop_length / rate, 3),
        "latency_push": _percentiles(push_times),
        "latency_model_step": _percentiles(step_times),
        "algorithmic_delay_ms": round(1e3 * (d.n_fft - d.hop_length) / rate, 3),
        "machine": {
            "python": sys.version.split()[0],
            "tensorflow": tf.__version__,
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "tf_threads": {
                "intra": tf.config.threading.get_intra_op_parallelism_threads(),
                "inter": tf.config.threading.get_inter_op_parallelism_threads(),
            },
        },
    }
    text = json.dumps(result, indent=1)
    print(text)
    atomic_write_text(Path(args.out), text + "\n")
    log.info(
        "RTF offline %.4f, streaming %.4f; frame latency median %.3f ms, p99 %.3f ms "
        "(budget %.1f ms)",
        offline["rtf"],
        streaming["rtf"],
        result["latency_push"]["median_ms"],
        result["latency_push"]["p99_ms"],
        result["frame_budget_ms"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
