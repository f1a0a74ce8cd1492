"""Benchmark enhancement on CPU: real-time factor offline and streaming, per-frame latency, and
the memory a long file costs.

    python bench/enhance.py [--run pretrained/lstm-2x128 | --config conf/config.yaml]
                            [--seconds 10] [--repeats 3] [--memory-minutes 1 10]
                            [--out bench/enhance.json]

Without --run or --config, the shipped pretrained model; with --config, a model with fresh
(untrained) weights is built from it: the weights do not change the cost. The real-time factor
(RTF) is processing time / audio duration (below 1 is faster than real time); the median over
`--repeats` runs after one warm-up run. Streaming is timed with the masker `lstm-se enhance
--streaming` uses (the float model in LiteRT) and with the Keras reference masker. Per-frame
latency is the time of one `StreamingEnhancer.push` (window, rFFT, model step with carried
state, irFFT, overlap-add) for every hop of the signal, and of the model step alone; the budget
is one hop (16 ms at 16 kHz, hop 256). Memory: in a fresh process per case, the peak resident
memory while a signal of each `--memory-minutes` length is enhanced, above what the process
held just before (model loaded, the input signal made), offline and streaming. Prints the
figures and writes them as JSON.
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

    if args.config:
        cfg = config.load(args.config, args.overrides)
        return cfg, model_mod.build_model(cfg), f"fresh weights from {args.config}"
    cfg, model = enhance.load(args.run)  # None: the shipped pretrained model
    return cfg, model, f"run {args.run or 'pretrained (default)'}"


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


def _rss_mb() -> float:
    """Resident memory now (Linux /proc; elsewhere the process's peak so far)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS, kB on Linux
    return kb / (1024 * 1024) if sys.platform == "darwin" else kb / 1024


def _peak_during(fn) -> tuple[float, float]:
    """(peak resident MB while `fn` runs, sampled every 2 ms; seconds it took)."""
    import threading

    peak = _rss_mb()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.002):
            peak = max(peak, _rss_mb())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    done.set()
    thread.join()
    return max(peak, _rss_mb()), seconds


def _memory_child(args: argparse.Namespace) -> int:
    """In a fresh process: peak memory added by enhancing `--minutes` of audio."""
    from lstm_se import enhance, maskers

    cfg, model, _ = _load(args)
    rate = cfg.dset.sample_rate
    masker = maskers.LiteRTMasker(cfg, model) if args.mode == "streaming" else None
    run = (lambda x: enhance.enhance_waveform(x, rate, cfg, masker=masker)) if masker else (
        lambda x: enhance.enhance_waveform(x, rate, cfg, model=model))  # fmt: skip
    run(_signal(2.0, rate))  # warm-up: tracing, first allocations
    x = _signal(60.0 * args.minutes, rate)
    base = _rss_mb()
    peak, seconds = _peak_during(lambda: run(x))
    print(json.dumps({"baseline_mb": round(base, 1), "extra_mb": round(peak - base, 1),
                      "seconds": round(seconds, 2)}))  # fmt: skip
    return 0


def _memory(args: argparse.Namespace) -> dict[str, object]:
    import subprocess

    rows: dict[str, object] = {}
    for mode in ("offline", "streaming"):
        for minutes in args.memory_minutes:
            cmd = [sys.executable, __file__, "--memory-child", "--mode", mode,
                   "--minutes", str(minutes)]  # fmt: skip
            cmd += ["--run", args.run] if args.run else []
            cmd += ["--config", args.config, *args.overrides] if args.config else []
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows[f"{mode}_{minutes:g}min"] = row
            log.info("memory %s, %g min: +%.0f MB peak (%.1f s)", mode, minutes,
                     row["extra_mb"], row["seconds"])  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default=None, help="trained run folder (default: pretrained)")
    parser.add_argument("--config", default=None, help="config for a fresh model instead")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    parser.add_argument("--seconds", type=float, default=10.0, help="audio length per run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (median reported)")
    parser.add_argument("--memory-minutes", type=float, nargs="*", default=[1.0, 10.0],
                        help="file lengths for the memory figure (none: skip it)")  # fmt: skip
    parser.add_argument("--out", default="bench/enhance.json", help="JSON output file")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="offline", help=argparse.SUPPRESS)
    parser.add_argument("--minutes", type=float, default=1.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.memory_child:
        return _memory_child(args)

    import tensorflow as tf

    from lstm_se import enhance, maskers
    from lstm_se.config import atomic_write_text

    cfg, model, source = _load(args)
    d = cfg.dset
    rate = d.sample_rate
    x = _signal(args.seconds, rate)
    start = time.perf_counter()
    masker = maskers.LiteRTMasker(cfg, model)
    convert_s = time.perf_counter() - start
    keras_masker = maskers.KerasMasker(cfg, model)

    offline = _rtf(lambda: enhance.enhance_waveform(x, rate, cfg, model=model), args.seconds,
                   args.repeats)  # fmt: skip
    streaming = _rtf(lambda: enhance.enhance_waveform(x, rate, cfg, masker=masker), args.seconds,
                     args.repeats)  # fmt: skip
    streaming_keras = _rtf(lambda: enhance.enhance_waveform(x, rate, cfg, masker=keras_masker),
                           args.seconds, args.repeats)  # fmt: skip
    streaming["litert_convert_s"] = round(convert_s, 3)
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
        "streaming_keras": streaming_keras,
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
    if args.memory_minutes:
        result["memory"] = _memory(args)
    text = json.dumps(result, indent=1)
    print(text)
    atomic_write_text(Path(args.out), text + "\n")
    log.info(
        "RTF offline %.4f, streaming %.4f (LiteRT; Keras %.4f); frame latency median %.3f ms, "
        "p99 %.3f ms (budget %.1f ms)",
        offline["rtf"],
        streaming["rtf"],
        streaming_keras["rtf"],
        result["latency_push"]["median_ms"],
        result["latency_push"]["p99_ms"],
        result["frame_budget_ms"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
