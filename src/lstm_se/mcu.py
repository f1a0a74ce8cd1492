"""The TFLite Micro checks of an exported run, and the budget of a model of any size.

`python -m lstm_se.mcu check ...` is the child process of `lstm-se export` (TFLite Micro is
native code that can abort the process): the tensor arena (`tflm_arena`), MACs and the
STM32F746 budget (`mcu_budget`) of each device model, and the verification against the float
Keras model over the test set (`verify`), as JSON. `python -m lstm_se.mcu budget --layers 2
--units 256` reports the budget of an untrained model of any size (size, arena and MACs do not
depend on the weights).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from . import config as config_mod
from . import runs
from .export_files import ExportError, McuError
from .mcu_budget import model_budget
from .tflite_info import describe, output_names
from .tflm_arena import ARENA_MARGIN
from .verify import DEFAULT_MAX_CLIPS, testset_pairs, verify, verify_on_magnitudes

log = logging.getLogger(__name__)


def check(
    run_dir: str | os.PathLike[str],
    model_path: str | os.PathLike[str],
    float_model_path: str | os.PathLike[str] | None = None,
    model_16x8_path: str | os.PathLike[str] | None = None,
    max_clips: int = DEFAULT_MAX_CLIPS,
) -> dict[str, Any]:
    """Arena, MACs, budget and verification of an exported int8 model; JSON-ready."""
    cfg, trained = runs.load(Path(run_dir))
    int8 = Path(model_path).read_bytes()
    b, ops, arena = model_budget(int8, cfg)
    report: dict[str, Any] = {
        "arena": asdict(arena)
        | {
            "method": "bisection in the TFLite Micro Python interpreter (reference kernels, "
            "64-bit host), one child process per try",
            "margin": ARENA_MARGIN,
        },
        "macs_per_frame": ops.macs,
        "elementwise_per_frame": ops.elementwise,
        "work_by_op": ops.by_op,
        "budget": b.to_dict(),
    }
    float_bytes = Path(float_model_path).read_bytes() if float_model_path else None
    int16_bytes = Path(model_16x8_path).read_bytes() if model_16x8_path else None
    if int16_bytes is not None:
        b16, _, arena16 = model_budget(int16_bytes, cfg)
        report["budget_16x8"] = b16.to_dict()
        report["arena_16x8"] = asdict(arena16)
    if testset_pairs(cfg):
        report["verification"] = verify(cfg, trained, int8, float_bytes, int16_bytes, max_clips)
    else:
        from .convert import training_segments

        log.warning("no test set under %s: verifying the mask on training segments", cfg.dset.wav)
        segs = training_segments(cfg, 8, cfg.seed + 1)
        report["verification"] = verify_on_magnitudes(cfg, trained, int8, segs, int16_bytes)
    return report


def config_budget(cfg: config_mod.Config, frames: int = 200, seed: int = 0) -> dict[str, Any]:
    """Budget of an untrained model of `cfg`'s size (random weights, synthetic calibration):
    size, arena and MACs depend only on the architecture."""
    import keras

    from . import convert
    from . import model as model_mod

    keras.utils.set_random_seed(seed)
    trained = model_mod.build_model(cfg)
    stream = model_mod.build_streaming_model(cfg, trained, frontend=False)
    rng = np.random.default_rng(seed)
    bins = config_mod.derive(cfg).n_bins
    segs = [np.abs(rng.normal(0, 0.05, (frames, bins))).astype(np.float32)]
    samples = convert.representative_samples(cfg, stream, segs)
    int8 = convert.convert(stream, "int8", samples)
    b, ops, arena = model_budget(int8, cfg)
    info = describe(int8, output_names(cfg))
    return {
        "layers": cfg.model.layers,
        "units": cfg.model.units,
        "int8_bytes": len(int8),
        "ops": info.op_counts,
        "arena": asdict(arena),
        "macs_per_frame": ops.macs,
        "budget": b.to_dict(),
    }


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lstm_se.mcu", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="arena, budget and verification of an exported model")
    c.add_argument("--run", required=True)
    c.add_argument("--model", required=True, help="int8 .tflite")
    c.add_argument("--float-model", default=None)
    c.add_argument("--model-16x8", default=None)
    c.add_argument("--max-clips", type=int, default=DEFAULT_MAX_CLIPS)
    c.add_argument("--json", required=True, help="where to write the report")
    b = sub.add_parser("budget", help="budget of an untrained model of a given size")
    b.add_argument("--config", default=None)
    b.add_argument("--layers", type=int, default=None)
    b.add_argument("--units", type=int, default=None)
    b.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.cmd == "check":
        try:
            report = check(args.run, args.model, args.float_model, args.model_16x8, args.max_clips)
        except (McuError, ExportError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        config_mod.atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
        return 0
    overrides = [f"model.{k}={v}" for k, v in (("layers", args.layers), ("units", args.units)) if v]
    cfg = config_mod.load(args.config, overrides)
    report = config_budget(cfg)
    print(report["budget"]["table"])
    print(
        f"int8 model {report['int8_bytes']:,} B, arena min {report['arena']['min_bytes']:,} B, "
        f"{report['macs_per_frame']:,} MACs/frame"
    )
    if args.json:
        config_mod.atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
