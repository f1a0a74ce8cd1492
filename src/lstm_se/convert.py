"""Representative data and TFLite conversion of the one-frame model (float, int8, 16x8).

The model converted is `model.build_streaming_model(cfg, trained, frontend=False)`: batch 1,
one frame, explicit h/c state in and out, LSTM cells unrolled (docs/DESIGN.md, decision 1: a
plain Keras LSTM converts to a WHILE loop that TFLite Micro cannot run). Its input is the
*compressed* magnitude (`model.compress`): TFLite Micro has no POW, and an int8 input needs the
compressed range.

Representative data: segments of the run's training records, run frame by frame through the
float streaming model from zero state, so that the state inputs see the values they meet in
use. The segments are drawn with the run's seed: the same run exports the same bytes.

`lstm-se export` runs `convert_run` in a child process (`python -m lstm_se.convert SPEC.json`):
the converter's calibration is native code that can crash the interpreter (it segfaults on a
plain Keras LSTM), and a crash there must become a clear error, not a dead export. Everything
here but `_main` imports TensorFlow only when called.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import config as config_mod
from . import runs
from .export_files import FLOAT_FILE, INT8_FILE, INT16_FILE, ExportError, atomic_write_bytes
from .tflite_info import input_names

log = logging.getLogger(__name__)

#: Training segments in the representative dataset (each run frame by frame from zero state).
#: 64 two-second segments are ~3,900 frames: enough for stable ranges, seconds to calibrate.
REP_SEGMENTS = 64


def training_segments(cfg: config_mod.Config, count: int, seed: int) -> list[np.ndarray]:
    """`count` noisy-magnitude segments `(frames, bins)` from the run's training records.

    Drawn through a seeded shuffle so that the same run and seed give the same segments.
    """
    from . import records

    folder = Path(cfg.dset.save_path)
    if not folder.is_dir():
        raise ExportError(
            f"the representative dataset needs the run's training records at '{folder}' "
            "(dset.save_path); run `lstm-se prepare` with the run's config first"
        )
    if records.load_manifest(folder)["feature_spec"].get("content") == "clean+noise":
        from . import remix  # dynamic mixing: one epoch's mixtures of the training split

        sources = remix.load_sources(folder, "train")
        ds = remix.dataset(
            sources, cfg, 1, first_epoch=seed, epochs=seed + 1, per_epoch=max(1, count)
        )
        return [np.asarray(x)[0].astype(np.float32) for x, _ in ds.take(count)]
    # A small shuffle buffer: it holds serialized segments (~0.5 MB each for 2 s); shard order
    # is shuffled too. No shard verification: it would read the whole training split.
    ds = records.dataset(
        str(folder),
        "train",
        1,
        shuffle=True,
        repeat=False,
        seed=seed,
        shuffle_buffer=256,
        verify_shards=False,
    )
    out: list[np.ndarray] = []
    for noisy_mag, _target in ds.take(count):
        out.append(np.asarray(noisy_mag)[0].astype(np.float32))
    if not out:
        raise ExportError(f"the training records at '{folder}' hold no examples")
    return out


def representative_samples(
    cfg: config_mod.Config, stream_model: Any, segments: Iterable[np.ndarray]
) -> list[dict[str, np.ndarray]]:
    """One sample per frame: {input name: array}, the state being the float model's own.

    Each segment starts from zero state and is run frame by frame through the float
    streaming model (frontend=False, so the frame is compressed here first). Keyed by input
    name because the converter reorders inputs.
    """
    import tensorflow as tf

    from . import model as model_mod

    names = input_names(cfg)
    spec = [
        tf.TensorSpec(x.shape, tf.float32, name=n)
        for x, n in zip(_zero_inputs(cfg), names, strict=True)
    ]

    @tf.function(input_signature=spec, autograph=False)
    def step(*inputs):
        return stream_model(list(inputs), training=False)

    samples: list[dict[str, np.ndarray]] = []
    for seg in segments:
        comp = model_mod.compress(seg, cfg)
        state = model_mod.initial_state(cfg)
        for frame in comp:
            x = frame.reshape(1, 1, -1).astype(np.float32)
            samples.append(dict(zip(names, [x, *state], strict=True)))
            _mask, *new_state = step(x, *state)
            state = [np.asarray(s, dtype=np.float32) for s in new_state]
    return samples


def _zero_inputs(cfg: config_mod.Config) -> list[np.ndarray]:
    bins = config_mod.derive(cfg).n_bins
    units = cfg.model.units
    return [np.zeros((1, 1, bins), np.float32)] + [
        np.zeros((1, units), np.float32) for _ in range(2 * cfg.model.layers)
    ]


def samples_digest(samples: Sequence[dict[str, np.ndarray]]) -> str:
    """sha256 of the representative samples (shows in export.json whether two exports
    calibrated on the same data)."""
    h = hashlib.sha256()
    for s in samples:
        for name in sorted(s):
            h.update(name.encode())
            h.update(np.ascontiguousarray(s[name], dtype=np.float32).tobytes())
    return h.hexdigest()


def convert(stream_model: Any, mode: str, samples: Sequence[dict[str, np.ndarray]] = ()) -> bytes:
    """Convert the one-frame model: mode 'float', 'int8' (full integer, int8 in/out) or
    '16x8' (int16 activations, int8 weights, int16 in/out)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(stream_model)
    if mode == "float":
        return bytes(converter.convert())
    if mode not in ("int8", "16x8"):
        raise ValueError(f"unknown conversion mode '{mode}' (float, int8, 16x8)")
    if not samples:
        raise ValueError(f"{mode} conversion needs representative samples")

    def representative():
        yield from samples

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    if mode == "int8":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    else:
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        ]
        converter.inference_input_type = tf.int16
        converter.inference_output_type = tf.int16
    with warnings.catch_warnings():
        # Two warnings of the converter's own making: it calibrates with the deprecated
        # tf.lite.Interpreter, and asks for input statistics that calibration supplies.
        warnings.filterwarnings("ignore", message=".*Statistics for quantized inputs.*")
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
        return bytes(converter.convert())


def convert_run(
    run_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    int16: bool = False,
    segments: int = REP_SEGMENTS,
) -> dict[str, Any]:
    """Load a run, build the streaming model, convert it; write the .tflite files to
    `out_dir` and return what the representative data was. Runs in the child process."""
    from . import model as model_mod

    out_dir = Path(out_dir)
    cfg, trained = runs.load(Path(run_dir))
    stream = model_mod.build_streaming_model(cfg, trained, frontend=False)
    _stage("representative data")
    segs = training_segments(cfg, segments, cfg.seed)
    samples = representative_samples(cfg, stream, segs)
    rep = {
        "source": f"{cfg.dset.save_path} (train split)",
        "segments": len(segs),
        "frames": len(samples),
        "seed": cfg.seed,
        "sha256": samples_digest(samples),
        "ranges": {
            name: [
                float(min(s[name].min() for s in samples)),
                float(max(s[name].max() for s in samples)),
            ]
            for name in input_names(cfg)
        },
    }
    modes = [("float", FLOAT_FILE), ("int8", INT8_FILE)] + ([("16x8", INT16_FILE)] if int16 else [])
    for mode, name in modes:
        _stage(f"convert {mode}")
        start = time.perf_counter()
        data = convert(stream, mode, samples)
        atomic_write_bytes(out_dir / name, data)
        log.info("%s: %d bytes in %.1f s", name, len(data), time.perf_counter() - start)
    return rep


def _stage(text: str) -> None:
    # The parent reads the last stage from stdout to say where a crash happened.
    print(f"STAGE {text}", flush=True)


def _main(argv: Sequence[str]) -> int:
    """Entry of the conversion child process: `python -m lstm_se.convert SPEC.json`."""
    if len(argv) != 1:
        print("usage: python -m lstm_se.convert SPEC.json", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    spec = json.loads(Path(argv[0]).read_text())
    from .records import RecordsError

    try:
        rep = convert_run(spec["run"], spec["out"], bool(spec["int16"]), int(spec["segments"]))
    except (ExportError, RecordsError, FileNotFoundError, config_mod.ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    config_mod.atomic_write_text(Path(spec["out"]) / "representative.json", json.dumps(rep))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
