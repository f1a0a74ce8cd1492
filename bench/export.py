"""Benchmark the exported model on the host: per-frame latency in LiteRT and TFLite Micro,
model sizes and the TFLite Micro arena. Prints a table and writes JSON.

    python bench/export.py --run result/demo            # the run's exported models
    python bench/export.py                              # an untrained default-config model
    python bench/export.py -c conf/config.yaml model.units=256 --json bench/export_256.json

Without --run the model is built from the config with random weights and converted here:
latency, sizes and arena depend on the architecture, not on the weights. Host latency is not
device latency (the STM32F746 estimate is the budget in export.json); it shows what the
Python interpreters cost, e.g. for `lstm-se enhance --tflite`.

Two timings per model and backend: `invoke` (set the input tensors, invoke, read the outputs)
and `masker` (the whole frame masker: compression, quantization, invoke, state carrying).
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
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from lstm_se import config as config_mod
from lstm_se import convert, export_files, mcu_budget, tflite_masker, tflm_arena

log = logging.getLogger("bench.export")


def _models_from_run(run: Path) -> tuple[config_mod.Config, dict[str, bytes], str]:
    folder = export_files.export_dir(run)
    if not (folder / export_files.INT8_FILE).is_file():
        raise SystemExit(f"{folder} holds no {export_files.INT8_FILE}: run `lstm-se export` first")
    models = {
        key: (folder / name).read_bytes()
        for key, name in (
            ("int8", export_files.INT8_FILE),
            ("float", export_files.FLOAT_FILE),
            ("16x8", export_files.INT16_FILE),
        )
        if (folder / name).is_file()
    }
    return config_mod.load_run_config(run), models, f"run {run}"


def _models_from_config(cfg: config_mod.Config, seed: int) -> tuple[dict[str, bytes], str]:
    import keras

    from lstm_se import model as model_mod

    keras.utils.set_random_seed(seed)
    trained = model_mod.build_model(cfg)
    stream = model_mod.build_streaming_model(cfg, trained, frontend=False)
    rng = np.random.default_rng(seed)
    bins = config_mod.derive(cfg).n_bins
    segs = [np.abs(rng.normal(0, 0.05, (100, bins))).astype(np.float32) for _ in range(2)]
    samples = convert.representative_samples(cfg, stream, segs)
    models = {
        "int8": convert.convert(stream, "int8", samples),
        "float": convert.convert(stream, "float"),
    }
    return models, "untrained model of the config (random weights)"


def _time_it(fn: Any, frames: np.ndarray, warmup: int) -> dict[str, float]:
    for f in frames[:warmup]:
        fn(f)
    times = []
    for f in frames:
        start = time.perf_counter()
        fn(f)
        times.append(time.perf_counter() - start)
    us = sorted(1e6 * t for t in times)
    return {
        "median_us": statistics.median(us),
        "p90_us": us[int(0.9 * (len(us) - 1))],
        "mean_us": statistics.fmean(us),
        "frames": len(us),
    }


def bench_model(
    model_bytes: bytes, cfg: config_mod.Config, backend: str, frames: int, warmup: int
) -> dict[str, Any]:
    """Per-frame latency of one model in one backend."""
    rng = np.random.default_rng(0)
    bins = config_mod.derive(cfg).n_bins
    mags = np.abs(rng.normal(0, 0.05, (frames, bins))).astype(np.float32)
    masker = tflite_masker.TFLiteMasker(model_bytes, cfg, backend)
    result = {"masker": _time_it(masker, mags, warmup)}
    # invoke alone: the inputs prepared once, as a device would have them ready.
    feeds = [(masker.frame_in, masker._to_input(masker.frame_in, mags[0]))]
    feeds += list(zip(masker.state_in, masker.state, strict=True))
    outputs = [masker.mask_out, *masker.state_out]
    result["invoke"] = _time_it(lambda _f: masker.backend.run(feeds, outputs), mags, warmup)
    return result


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", default=None, help="an exported run folder")
    parser.add_argument("--config", "-c", default=None, help="config (without --run)")
    parser.add_argument("overrides", nargs="*", metavar="key.sub=value")
    parser.add_argument("--frames", type=int, default=2000, help="timed frames per case")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="bench/export.json", help="output JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    if args.run:
        cfg, models, source = _models_from_run(Path(args.run))
    else:
        cfg = config_mod.load(args.config, args.overrides)
        models, source = _models_from_config(cfg, args.seed)
    log.info("%s: %d x %d LSTM", source, cfg.model.layers, cfg.model.units)

    report: dict[str, Any] = {
        "source": source,
        "layers": cfg.model.layers,
        "units": cfg.model.units,
        "host": {
            "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "tflite-micro": _version("tflite-micro"),
            "ai-edge-litert": _version("ai-edge-litert"),
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        },
        "frame_period_ms": 1e3 * mcu_budget.frame_period_s(cfg),
        "models": {},
    }
    for key, data in models.items():
        entry: dict[str, Any] = {"bytes": len(data)}
        if key != "float":
            arena = tflm_arena.measure_arena(data)
            entry["arena_min_bytes"] = arena.min_bytes
            entry["arena_recommended_bytes"] = arena.recommended_bytes
        entry["latency"] = {
            backend: bench_model(data, cfg, backend, args.frames, args.warmup)
            for backend in ("litert", "tflm")
            # TFLite Micro is the device's interpreter: it runs the quantized models.
            if not (backend == "tflm" and key == "float")
        }
        report["models"][key] = entry

    lines = [
        "| model | bytes | arena (min) | backend | invoke median / p90 (us) | masker median (us) |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for key, e in report["models"].items():
        for backend, lat in e["latency"].items():
            lines.append(
                f"| {key} | {e['bytes']:,} | {e.get('arena_min_bytes', '-')} | {backend} | "
                f"{lat['invoke']['median_us']:.1f} / {lat['invoke']['p90_us']:.1f} | "
                f"{lat['masker']['median_us']:.1f} |"
            )
    print("\n".join(lines))
    report["table"] = "\n".join(lines)
    out = Path(args.json)
    config_mod.atomic_write_text(out, json.dumps(report, indent=2) + "\n")
    log.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
