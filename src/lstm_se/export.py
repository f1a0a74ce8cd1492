"""Export a trained run for the STM32F746: float, int8 (and 16x8) TFLite, a C array, export.json.

`lstm-se export --run result/<name> [--int16]` writes into `result/<name>/export/`:

- `model_float.tflite`: float32 one-frame model (compressed magnitude in, mask and state out);
- `model_int8.tflite`: full-integer int8 (int8 weights, activations, input and output);
- `model_16x8.tflite`: int16 activations and int8 weights (only with `--int16`);
- `model_int8.cc` / `.h`: the int8 model as a 16-byte aligned C array with its length, the
  tensor positions, shapes, scales and zero points, for TFLite Micro firmware;
- `model_16x8.cc` / `.h`: the same for the 16x8 model (only with `--int16`; symbols
  `lstm_se_16x8_*`, so firmware can hold both);
- `export.json`: sizes, op list, quantization parameters, representative data, measured
  arena, MACs per frame, the STM32F746 budget and the int8-vs-float verification.

The model exported is `model.build_streaming_model(cfg, trained, frontend=False)`: batch 1, one
frame, explicit h/c state in and out, LSTM cells unrolled (docs/DESIGN.md, decision 1: a plain
Keras LSTM converts to a WHILE loop that TFLite Micro cannot run). Its input is the
*compressed* magnitude (`model.compress`): TFLite Micro has no POW, and an int8 input needs the
compressed range.

Representative data: segments of the run's training records, run frame by frame through the
float streaming model from zero state, so that the state inputs see the values they meet in
use. The segments are drawn with the run's seed: the same run exports the same bytes.

Conversion runs in a child process (`python -m lstm_se.export _convert SPEC`): the TFLite
converter's calibration is native code that can crash the interpreter (it segfaults on a plain
Keras LSTM), and a crash there must become a clear error, not a dead export. The TFLite Micro
checks (arena search, verification, budget) run in `lstm_se.mcu`, also as a child process:
mcu comes after export in the pipeline (it reads what export writes), and TFLite Micro, too,
can abort the process.

This module also holds the flatbuffer introspection (`describe`) that mcu.py and the C header
use; it needs no TensorFlow import.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import LstmSeError, new_file_mode, runs
from . import config as config_mod

log = logging.getLogger(__name__)

EXPORT_DIR = "export"
FLOAT_FILE = "model_float.tflite"
INT8_FILE = "model_int8.tflite"
INT16_FILE = "model_16x8.tflite"
C_SOURCE_FILE = "model_int8.cc"
C_HEADER_FILE = "model_int8.h"
C_SOURCE_16X8_FILE = "model_16x8.cc"
C_HEADER_16X8_FILE = "model_16x8.h"
JSON_FILE = "export.json"

#: Training segments in the representative dataset (each run frame by frame from zero state).
#: 64 two-second segments are ~3,900 frames: enough for stable ranges, seconds to calibrate.
REP_SEGMENTS = 64
#: C identifier prefix of everything in the generated header and source (the 16x8 model's
#: has its own, so that firmware can build both in).
C_PREFIX = "lstm_se"
C_PREFIX_16X8 = "lstm_se_16x8"

MODEL_FILES = {"float": FLOAT_FILE, "int8": INT8_FILE, "16x8": INT16_FILE}
"""Each exported model kind and its file in `<run>/export/`."""
DEVICE_KINDS = ("int8", "16x8")
"""The models meant for the device (the float one is the reference they are checked against)."""


def report_key(name: str, kind: str) -> str:
    """export.json's key for a figure of one device model: `name` for int8 (the model the issue
    verifies), `name_16x8` for 16x8 (e.g. 'budget_16x8', 'c_array_16x8', 'targets_16x8')."""
    return name if kind == "int8" else f"{name}_{kind}"


C_ARRAYS = {
    "int8": (C_HEADER_FILE, C_SOURCE_FILE, C_PREFIX),
    "16x8": (C_HEADER_16X8_FILE, C_SOURCE_16X8_FILE, C_PREFIX_16X8),
}
"""The C array of each device model: header, source and symbol prefix."""

#: The converter's child process may take this long (2x256 calibrates in about a minute).
CONVERT_TIMEOUT_S = 1800
#: The mcu check child (arena search, verification over the test set).
CHECK_TIMEOUT_S = 3600


class ExportError(LstmSeError, RuntimeError):
    """An export that cannot be carried out; the message says why and what to do."""


def export_dir(run_dir: str | os.PathLike[str]) -> Path:
    """`<run>/export`, where every export file of a run lives."""
    return Path(run_dir) / EXPORT_DIR


def input_names(cfg: config_mod.Config) -> list[str]:
    """Names of the streaming model's inputs in Keras order: frame, h_1, c_1, ..., h_L, c_L."""
    return ["frame", *_state_names(cfg.model.layers)]


def output_names(cfg: config_mod.Config) -> list[str]:
    """Names of its outputs in Keras order: mask, h_1, c_1, ... (a state output feeds the
    state input of the same name at the next frame)."""
    return ["mask", *_state_names(cfg.model.layers)]


def _state_names(layers: int) -> list[str]:
    # Same order as model.state_names; spelled out here so that reading a model file needs
    # neither Keras nor a config.
    return [f"{k}_{i}" for i in range(1, layers + 1) for k in ("h", "c")]


# ---------------------------------------------------------------------------------------------
# flatbuffer introspection (no TensorFlow import: ai_edge_litert ships the schema)

_DTYPES = {0: "float32", 2: "int32", 3: "uint8", 4: "int64", 7: "int16", 9: "int8"}


@dataclass(frozen=True)
class TensorInfo:
    """One input or output tensor of a TFLite model."""

    name: str
    """Keras name: frame, mask, h_1, c_1, ..."""
    position: int
    """Index among the subgraph's inputs (or outputs): what TFLite Micro's `input(i)` takes."""
    tensor_index: int
    """Index in the subgraph's tensor list: what LiteRT's `set_tensor` takes."""
    shape: tuple[int, ...]
    dtype: str
    """numpy dtype name: float32, int8, int16."""
    scale: float
    """Quantization scale (0.0 for a float tensor)."""
    zero_point: int

    @property
    def elements(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def quantized(self) -> bool:
        """True for an int8/int16 tensor with a scale."""
        return self.dtype in ("int8", "int16") and self.scale > 0


@dataclass(frozen=True)
class OpInfo:
    """One operator: builtin name and the shapes of its tensors (None for an absent input)."""

    op: str
    inputs: tuple[tuple[int, ...] | None, ...]
    outputs: tuple[tuple[int, ...], ...]
    input_dtypes: tuple[str | None, ...]


@dataclass(frozen=True)
class ModelInfo:
    """What a converted model holds: named inputs/outputs, operators, sizes."""

    size_bytes: int
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    ops: tuple[OpInfo, ...]
    weight_bytes: int
    """Bytes of constant buffers (weights, biases, shape constants)."""

    def input(self, name: str) -> TensorInfo:
        """The input called `name` (frame, h_1, ...)."""
        return _by_name(self.inputs, name, "input")

    def output(self, name: str) -> TensorInfo:
        """The output called `name` (mask, h_1, ...)."""
        return _by_name(self.outputs, name, "output")

    @property
    def op_counts(self) -> dict[str, int]:
        """Operator name -> how many times it occurs, sorted by name."""
        counts: dict[str, int] = {}
        for op in self.ops:
            counts[op.op] = counts.get(op.op, 0) + 1
        return dict(sorted(counts.items()))

    @property
    def state_names(self) -> list[str]:
        """Names of the state inputs, in Keras order."""
        names = [t.name for t in self.inputs if t.name != "frame"]
        return sorted(names, key=lambda n: (int(n.split("_")[1]), n[0] != "h"))


def _by_name(tensors: Sequence[TensorInfo], name: str, kind: str) -> TensorInfo:
    for t in tensors:
        if t.name == name:
            return t
    raise KeyError(f"the model has no {kind} '{name}' (it has {[t.name for t in tensors]})")


def describe(model_bytes: bytes, out_names: Sequence[str] | None = None) -> ModelInfo:
    """Parse a TFLite flatbuffer: named inputs/outputs, operators and sizes.

    Inputs are named by the signature (the Keras input names: frame, h_1, c_1, ...). The
    converter reorders inputs and names outputs only `output_k` (the k-th Keras output), so
    outputs are named through `out_names` (default: mask then the states in Keras order, as
    `output_names` gives). Raises ExportError for a file that is not such a model.
    """
    from ai_edge_litert import schema_py_generated as schema

    try:
        model = schema.ModelT.InitFromPackedBuf(bytearray(model_bytes), 0)
    except Exception as exc:  # flatbuffers raises assorted errors on garbage
        raise ExportError(f"not a TFLite model ({exc})") from exc
    if not model.subgraphs or len(model.subgraphs) != 1:
        raise ExportError("expected a TFLite model with exactly one subgraph")
    graph = model.subgraphs[0]
    if not model.signatureDefs:
        raise ExportError("the TFLite model has no signature; convert it from the Keras model")
    sig = model.signatureDefs[0]
    in_by_index = {int(t.tensorIndex): _text(t.name) for t in sig.inputs}
    out_keys = {int(t.tensorIndex): _text(t.name) for t in sig.outputs}
    n_out = len(graph.outputs)
    if out_names is None:
        out_names = ["mask", *_state_names((n_out - 1) // 2)]
    if len(out_names) != n_out:
        raise ExportError(f"the model has {n_out} outputs, expected {len(out_names)}")

    def tensor(pos: int, index: int, name: str) -> TensorInfo:
        t = graph.tensors[index]
        q = t.quantization
        scale = float(q.scale[0]) if q is not None and q.scale is not None and len(q.scale) else 0.0
        zp = (
            int(q.zeroPoint[0])
            if q is not None and q.zeroPoint is not None and len(q.zeroPoint)
            else 0
        )
        return TensorInfo(
            name=name,
            position=pos,
            tensor_index=int(index),
            shape=_shape(t),
            dtype=_DTYPES.get(int(t.type), f"type{t.type}"),
            scale=scale,
            zero_point=zp,
        )

    inputs = tuple(tensor(i, idx, in_by_index[int(idx)]) for i, idx in enumerate(graph.inputs))
    outputs = []
    for i, idx in enumerate(graph.outputs):
        key = out_keys.get(int(idx), "")
        if not key.startswith("output_"):
            raise ExportError(f"unexpected output signature name '{key}'")
        outputs.append(tensor(i, idx, out_names[int(key.split("_")[1])]))

    op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    ops = []
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
        ins = tuple(_shape(graph.tensors[i]) if i >= 0 else None for i in op.inputs)
        dts = tuple(
            _DTYPES.get(int(graph.tensors[i].type), "?") if i >= 0 else None for i in op.inputs
        )
        outs = tuple(_shape(graph.tensors[i]) for i in op.outputs)
        ops.append(OpInfo(op_names.get(builtin, f"OP{builtin}"), ins, outs, dts))
    weight_bytes = sum(len(b.data) for b in model.buffers if b.data is not None)
    # Large models keep buffers outside the flatbuffer's vectors (offset/size); count those too.
    weight_bytes += sum(int(b.size) for b in model.buffers if b.data is None and b.size)
    return ModelInfo(len(model_bytes), inputs, tuple(outputs), tuple(ops), int(weight_bytes))


def _shape(tensor: Any) -> tuple[int, ...]:
    # A scalar (e.g. a 16x8 model's constants) has no shape vector at all.
    return () if tensor.shape is None else tuple(int(s) for s in tensor.shape)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def quantization_table(info: ModelInfo) -> dict[str, list[dict[str, Any]]]:
    """Inputs and outputs with position, tensor index, shape, dtype, scale and zero point."""
    return {
        "inputs": [asdict(t) | {"shape": list(t.shape)} for t in info.inputs],
        "outputs": [asdict(t) | {"shape": list(t.shape)} for t in info.outputs],
    }


# ---------------------------------------------------------------------------------------------
# representative data and conversion (these import TensorFlow; they run in the child process)


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


# ---------------------------------------------------------------------------------------------
# C array


def _c_name(name: str) -> str:
    return name.upper().replace("-", "_")


def _c_float(x: float) -> str:
    # repr round-trips a double; the float32 value printed with 9 significant digits
    # round-trips a float, which is what the firmware compares against.
    return f"{float(np.float32(x)):.9g}f"


def c_header(
    info: ModelInfo,
    cfg: config_mod.Config,
    arena_bytes: int | None,
    sha256: str,
    prefix: str = C_PREFIX,
) -> str:
    """The C header of a quantized model (int8, or int16 activations for 16x8): array, length
    and every I/O tensor's constants, all named `<prefix>_*` / `<PREFIX>_*`."""
    p, P = prefix, prefix.upper()
    d, m = cfg.dset, cfg.model
    ctype = info.input("frame").dtype  # int8 or int16: the I/O type of every tensor below
    if ctype not in ("int8", "int16"):
        raise ExportError(f"the C header needs an int8 or 16x8 model, this one has {ctype} I/O")
    guard = f"{P}_MODEL_{ctype.upper()}_H_"
    lo, hi = (-128, 127) if ctype == "int8" else (-32768, 32767)
    kind = "int8" if ctype == "int8" else "16x8 (int16 activations, int8 weights)"
    lines = [
        "/* Generated by `lstm-se export`: do not edit. */",
        f"/* {kind} TFLite model of the lstm-se streaming mask model, sha256 {sha256}. */",
        "/*",
        f" * Per frame (every {P}_HOP_LENGTH samples), with a tflite::MicroInterpreter on",
        f" * {p}_model and a tensor arena of {P}_TENSOR_ARENA_SIZE bytes:",
        f" *   1. input({P}_INPUT_FRAME) <- quantize(compress(|rfft(window x last n_fft",
        " *      samples)| / n_fft)) with the frame's scale and zero point;",
        f" *   2. input({P}_STATE_INPUTS[k]) <- carried state k (at the start of a stream:",
        " *      the input's zero point, i.e. a real 0);",
        " *   3. Invoke();",
        f" *   4. mask <- dequantize(output({P}_OUTPUT_MASK)); mask x spectrum, irfft,",
        " *      overlap-add;",
        f" *   5. carried state k <- {p}_requantize(output({P}_STATE_OUTPUTS[k])) (a state",
        " *      output's scale may differ from its input's).",
        " * Read every output (4, 5) before writing the next frame's inputs: TFLite Micro may",
        " * place an output in memory that an input used.",
        " */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        "#include <math.h>",
        "#include <stdint.h>",
        "",
        "#ifdef __cplusplus",
        'extern "C" {',
        "#endif",
        "",
        f"#define {P}_MODEL_LEN {info.size_bytes}u",
        "/* The model, 16-byte aligned as TFLite Micro requires (flatbuffer alignment). */",
        f"extern const unsigned char {p}_model[];",
        f"extern const unsigned int {p}_model_len;",
        "",
    ]
    if arena_bytes is not None:
        lines += [
            "/* Tensor arena measured in the TFLite Micro interpreter, with a margin. */",
            f"#define {P}_TENSOR_ARENA_SIZE {int(arena_bytes)}u",
        ]
    else:
        # Left undefined on purpose: firmware that uses it fails to build instead of guessing.
        lines.append(f"/* {P}_TENSOR_ARENA_SIZE: not measured in this export (export.json). */")
    lines += [
        f"#define {P}_SAMPLE_RATE {d.sample_rate}",
        f"#define {P}_N_FFT {d.n_fft}",
        f"#define {P}_HOP_LENGTH {d.hop_length}",
        f"#define {P}_WIN_LENGTH {d.win_length}",
        f"#define {P}_FFT_NORMALIZE {1 if d.fft_normalize else 0}",
        f"#define {P}_N_BINS {config_mod.derive(cfg).n_bins}",
        f"#define {P}_N_LAYERS {m.layers}",
        f"#define {P}_N_UNITS {m.units}",
        "/* 0 none, 1 power (x^p), 2 log1p */",
        f"#define {P}_COMPRESSION {('none', 'power', 'log1p').index(m.compression)}",
        f"#define {P}_COMPRESSION_POWER {_c_float(m.compression_power)}",
        f"#define {P}_N_INPUTS {len(info.inputs)}",
        f"#define {P}_N_OUTPUTS {len(info.outputs)}",
        f"#define {P}_N_STATES {len(info.state_names)}",
        "",
    ]
    for kind, tensors in (("INPUT", info.inputs), ("OUTPUT", info.outputs)):
        for t in sorted(tensors, key=lambda t: t.position):
            base = f"{P}_{kind}_{_c_name(t.name)}"
            lines += [
                f"/* {kind.lower()} '{t.name}': {t.dtype} {list(t.shape)} */",
                f"#define {base} {t.position}",
                f"#define {base}_ELEMENTS {t.elements}",
                f"#define {base}_SHAPE {{{', '.join(str(s) for s in t.shape)}}}",
                f"#define {base}_RANK {len(t.shape)}",
                f"#define {base}_SCALE {_c_float(t.scale)}",
                f"#define {base}_ZERO_POINT ({t.zero_point})",
            ]
        lines.append("")
    states = info.state_names
    lines += [
        "/* State tensors in carry order: output position k feeds input position k. */",
        f"#define {P}_STATE_INPUTS {{{', '.join(f'{P}_INPUT_{_c_name(n)}' for n in states)}}}",
        f"#define {P}_STATE_OUTPUTS {{{', '.join(f'{P}_OUTPUT_{_c_name(n)}' for n in states)}}}",
    ]
    for kind in ("INPUT", "OUTPUT"):
        for what in ("SCALE", "ZERO_POINT"):
            items = ", ".join(f"{P}_{kind}_{_c_name(n)}_{what}" for n in states)
            lines.append(f"#define {P}_STATE_{kind}_{what}S {{{items}}}")
    lines += [
        "",
        f"/* real value -> {ctype}, rounding half away from zero as TFLite does. */",
        f"static inline {ctype}_t {p}_quantize(float x, float scale, int32_t zero_point) {{",
        "  float q = roundf(x / scale) + (float)zero_point;",
        f"  return ({ctype}_t)(q < {lo}.0f ? {lo}.0f : (q > {hi}.0f ? {hi}.0f : q));",
        "}",
        "",
        f"static inline float {p}_dequantize({ctype}_t q, float scale, int32_t zero_point) {{",
        "  return scale * (float)((int32_t)q - zero_point);",
        "}",
        "",
        "/* A state output value as the matching state input expects it. */",
        f"static inline {ctype}_t {p}_requantize({ctype}_t q, float out_scale,",
        "    int32_t out_zero_point, float in_scale, int32_t in_zero_point) {",
        f"  return {p}_quantize({p}_dequantize(q, out_scale, out_zero_point), in_scale,",
        "                          in_zero_point);",
        "}",
        "",
        "#ifdef __cplusplus",
        "}",
        "#endif",
        "",
        f"#endif  /* {guard} */",
        "",
    ]
    return "\n".join(lines)


def c_source(
    model_bytes: bytes, header_name: str = C_HEADER_FILE, sha256: str = "", prefix: str = C_PREFIX
) -> str:
    """The C/C++ source holding the model bytes as a 16-byte aligned array and its length."""
    p = prefix
    hexes = [f"0x{b:02x}" for b in model_bytes]
    rows = [", ".join(hexes[i : i + 16]) for i in range(0, len(hexes), 16)]
    body = ",\n  ".join(rows)
    return (
        "/* Generated by `lstm-se export`: do not edit. */\n"
        f"/* sha256 {sha256} */\n"
        f'#include "{header_name}"\n\n'
        "/* alignas is C++11 and C23; the attribute covers C compilers before C23. */\n"
        "#if defined(__cplusplus)\n"
        "#define LSTM_SE_ALIGN16 alignas(16)\n"
        "#else\n"
        "#define LSTM_SE_ALIGN16 __attribute__((aligned(16)))\n"
        "#endif\n\n"
        f"LSTM_SE_ALIGN16 const unsigned char {p}_model[] = {{\n  {body}\n}};\n\n"
        f"const unsigned int {p}_model_len = {len(model_bytes)}u;\n"
    )


# ---------------------------------------------------------------------------------------------
# files


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write under a temporary name in the same folder, fsync, then rename into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600; exported files are meant to be read by others (firmware builds):
        # the user's umask decides, as for any other new file.
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------
# child processes


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _run_child(
    args: list[str], what: str, timeout: float, stage_hint: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run `python -m ...` and turn a crash, a timeout or a failure into an ExportError."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    cmd = [sys.executable, *args]
    log.debug("child: %s", " ".join(cmd))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        raise ExportError(f"{what} did not finish within {timeout:.0f} s") from exc
    for line in proc.stderr.splitlines():
        log.debug("[%s] %s", what, line)
    if proc.returncode == 0:
        return proc
    stage = ""
    if stage_hint:
        stages = [ln[6:] for ln in proc.stdout.splitlines() if ln.startswith("STAGE ")]
        stage = f" during '{stages[-1]}'" if stages else ""
    if proc.returncode < 0:
        try:
            sig = signal.Signals(-proc.returncode).name
        except ValueError:
            sig = f"signal {-proc.returncode}"
        raise ExportError(
            f"{what} crashed with {sig}{stage} (native code in the child process; the export "
            f"itself is unharmed). Last lines of its log:\n{_tail(proc.stderr)}"
        )
    raise ExportError(f"{what} failed{stage} (exit {proc.returncode}):\n{_tail(proc.stderr)}")


def _convert_in_child(run_dir: Path, work: Path, int16: bool, segments: int) -> dict[str, Any]:
    spec = work / "convert_spec.json"
    spec.write_text(
        json.dumps({"run": str(run_dir), "out": str(work), "int16": int16, "segments": segments})
    )
    _run_child(
        ["-m", "lstm_se.export", "_convert", str(spec)],
        "TFLite conversion",
        CONVERT_TIMEOUT_S,
        stage_hint=True,
    )
    return json.loads((work / "representative.json").read_text())


def _check_in_child(
    run_dir: Path, work: Path, int16: bool, max_clips: int | None
) -> dict[str, Any]:
    out = work / "mcu.json"
    args = [
        "-m",
        "lstm_se.mcu",
        "check",
        "--run",
        str(run_dir),
        "--model",
        str(work / INT8_FILE),
        "--float-model",
        str(work / FLOAT_FILE),
        "--json",
        str(out),
    ]
    if int16:
        args += ["--model-16x8", str(work / INT16_FILE)]
    if max_clips is not None:
        args += ["--max-clips", str(max_clips)]
    _run_child(args, "TFLite Micro check (lstm_se.mcu)", CHECK_TIMEOUT_S)
    return json.loads(out.read_text())


# ---------------------------------------------------------------------------------------------
# the export


@dataclass
class ExportResult:
    """Paths written and the content of export.json."""

    folder: Path
    files: dict[str, Path] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)


def export_run(
    run_dir: str | os.PathLike[str],
    int16: bool = False,
    segments: int = REP_SEGMENTS,
    max_clips: int | None = None,
    check: bool = True,
) -> ExportResult:
    """Export a run into `<run>/export/` (see the module doc); returns paths and the report.

    `max_clips` caps the test clips of the verification (mcu.DEFAULT_MAX_CLIPS when None);
    `check=False` skips the TFLite Micro checks (no arena, budget or verification).
    """
    run_dir = Path(run_dir)
    try:
        cfg = config_mod.load_run_config(run_dir)
    except config_mod.ConfigError as exc:
        raise ExportError(str(exc)) from None
    folder = export_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".work-", dir=folder))
    try:
        start = time.perf_counter()
        log.info("converting %s (float, int8%s) in a child process", run_dir, ", 16x8" * int16)
        rep = _convert_in_child(run_dir, work, int16, segments)
        log.info("converted in %.1f s", time.perf_counter() - start)
        kinds = ["float", "int8", *(["16x8"] if int16 else [])]
        models = {k: _Model.read(work / MODEL_FILES[k], cfg) for k in kinds}
        mcu_report: dict[str, Any] = {}
        if check:
            start = time.perf_counter()
            log.info("TFLite Micro checks (arena, budget, int8 vs float) in a child process")
            try:
                mcu_report = _check_in_child(run_dir, work, int16, max_clips)
            except ExportError as exc:
                # The models are good; only their check failed. Write them, and say so in
                # export.json and in the exit status, rather than throw the conversion away.
                log.error("%s", exc)
                mcu_report = {"check_error": str(exc)}
            log.info("checked in %.1f s", time.perf_counter() - start)
        c_files = []
        for kind in kinds[1:]:
            arena = mcu_report.get(report_key("arena", kind), {}).get("recommended_bytes")
            c_files += _c_array(work, cfg, models[kind], arena, *C_ARRAYS[kind])
        report = _report(run_dir, cfg, models, rep, mcu_report)
        files = [*(MODEL_FILES[k] for k in kinds), *c_files]
        result = ExportResult(folder)
        for name in files:
            os.replace(work / name, folder / name)  # same folder tree: an atomic rename
            result.files[name] = folder / name
        if not int16:
            # A 16x8 model from an earlier export would no longer match the int8 one.
            for name in (INT16_FILE, C_HEADER_16X8_FILE, C_SOURCE_16X8_FILE):
                if (folder / name).exists():
                    (folder / name).unlink()
                    log.info("removed %s of an earlier export (no --int16 this time)", name)
        # export.json last: its presence says the export is complete.
        atomic_write_bytes(folder / JSON_FILE, (json.dumps(report, indent=2) + "\n").encode())
        result.files[JSON_FILE] = folder / JSON_FILE
        result.report = report
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


@dataclass(frozen=True)
class _Model:
    """A converted model as the export writes and reports it: read and described once."""

    file: str
    data: bytes
    info: ModelInfo
    sha256: str

    @classmethod
    def read(cls, path: Path, cfg: config_mod.Config) -> _Model:
        data = path.read_bytes()
        return cls(path.name, data, describe(data, output_names(cfg)), sha256_bytes(data))


def _c_array(
    work: Path,
    cfg: config_mod.Config,
    model: _Model,
    arena: int | None,
    header_name: str,
    source_name: str,
    prefix: str,
) -> list[str]:
    """Write the C header and source of `model` into `work` (itself renamed into place
    afterwards); return their names."""
    header = c_header(model.info, cfg, arena, model.sha256, prefix)
    (work / header_name).write_text(header)
    (work / source_name).write_text(c_source(model.data, header_name, model.sha256, prefix))
    return [header_name, source_name]


def _report(
    run_dir: Path,
    cfg: config_mod.Config,
    models: Mapping[str, _Model],
    rep: dict[str, Any],
    mcu_report: dict[str, Any],
) -> dict[str, Any]:
    c_arrays = {
        report_key("c_array", kind): {
            "header": C_ARRAYS[kind][0],
            "source": C_ARRAYS[kind][1],
            "symbol": f"{C_ARRAYS[kind][2]}_model",
            "bytes": len(models[kind].data),
            "alignment": 16,
        }
        for kind in DEVICE_KINDS
        if kind in models
    }
    return {
        "run": run_dir.name,
        "model": {
            "layers": cfg.model.layers,
            "units": cfg.model.units,
            "bins": config_mod.derive(cfg).n_bins,
            "n_mels": cfg.model.n_mels,
            "input": "compressed magnitude: model.compress(|STFT| / n_fft)",
            "compression": cfg.model.compression,
            "compression_power": cfg.model.compression_power,
        },
        "models": {
            kind: {
                "file": m.file,
                "bytes": len(m.data),
                "sha256": m.sha256,
                "ops": m.info.op_counts,
                **quantization_table(m.info),
            }
            for kind, m in models.items()
        },
        "op_list": [op.op for op in models["int8"].info.ops],
        "representative": rep,
        **c_arrays,
        **mcu_report,
    }


def summary_lines(report: dict[str, Any]) -> list[str]:
    """Human-readable lines for the log: sizes, ops, arena, MACs, budget, verification."""
    lines = []
    for key, m in report["models"].items():
        lines.append(f"{key:>6}: {m['file']} {m['bytes']:,} bytes")
    ops = report["models"]["int8"]["ops"]
    lines.append("int8 ops: " + ", ".join(f"{k} x{v}" for k, v in ops.items()))
    if "budget" in report:
        lines.extend(report["budget"]["table"].splitlines())
    if "budget_16x8" in report:
        lines.append("16x8 model:")
        lines.extend(report["budget_16x8"]["table"].splitlines())
    ver = report.get("verification", {})
    if "mask_snr_db_by_model" in ver:
        lines.append(f"verification on {ver['source']} ({ver['frames']} frames)")
        lines.append(
            "mask SNR vs float Keras (dB): "
            + ", ".join(f"{k} {v}" for k, v in ver["mask_snr_db_by_model"].items())
        )
        lines.append(
            "masked-spectrum SNR vs float Keras (dB): "
            + ", ".join(f"{k} {v}" for k, v in ver["masked_spectrum_snr_db_by_model"].items())
        )
    elif "mask_snr_db" in ver:
        lines.append(f"mask SNR int8 vs float Keras: {ver['mask_snr_db']} dB ({ver['source']})")
    if "audio" in ver:
        lines.extend(ver["audio"].get("table", "").splitlines())
    return lines


def target_warnings(report: Mapping[str, Any], run_dir: str | os.PathLike[str]) -> list[str]:
    """The verification targets each model missed, and what to do when the int8 model missed
    one: the 16x8 model (measured when exported with --int16) and where the error comes from."""
    ver = report.get("verification", {})
    missed = {
        kind: [k for k, ok in ver[report_key("targets", kind)].items() if not ok]
        for kind in DEVICE_KINDS
        if report_key("targets", kind) in ver
    }
    lines = [
        f"verification target missed by the {kind} model: {'; '.join(keys)}"
        for kind, keys in missed.items()
        if keys
    ]
    int8_missed = bool(missed.get("int8"))
    if "16x8" in missed:
        if int8_missed and not missed["16x8"]:
            lines.append(f"the 16x8 model meets every target: {INT16_FILE}, {C_SOURCE_16X8_FILE}")
    elif int8_missed:
        lines.append(
            f"`lstm-se export --run {run_dir} --int16` adds the 16x8 model (int16 activations), "
            "which met every target on the trained runs in docs/export.md"
        )
    if int8_missed:
        lines.append(
            f"where the int8 error comes from: python bench/int8_error.py --run {run_dir} "
            "(docs/export.md, 'Where the int8 error comes from')"
        )
    return lines


def command(args: argparse.Namespace) -> int:
    """`lstm-se export --run DIR [--int16]`.

    Exit 0 when exported and checked (an over-budget model or a missed verification target
    is a warning: the numbers are in the log and export.json), 1 when the files were written
    but the TFLite Micro check failed, 2 when the export failed.
    """
    try:
        result = export_run(args.run, int16=bool(getattr(args, "int16", False)))
    except (ExportError, config_mod.ConfigError) as exc:
        log.error("export failed: %s", exc)
        return 2
    for line in summary_lines(result.report):
        log.info("%s", line)
    for kind in DEVICE_KINDS:
        budget = result.report.get(report_key("budget", kind), {})
        if budget and not budget.get("pass", True):
            log.warning(
                "the %s model is over the STM32F746 budget: %s (the files are written anyway)",
                kind,
                ", ".join(r["name"] for r in budget["rows"] if not r["pass"]),
            )
    for line in target_warnings(result.report, args.run):
        log.warning("%s", line)
    log.info("wrote %s", ", ".join(str(p) for p in result.files.values()))
    if "check_error" in result.report:
        log.error("the TFLite Micro check failed; export.json says why (check_error)")
        return 1
    return 0


def _child_main(argv: Sequence[str]) -> int:
    """Entry of the conversion child process: `_convert SPEC.json`."""
    if len(argv) != 2 or argv[0] != "_convert":
        print("usage: python -m lstm_se.export _convert SPEC.json", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    spec = json.loads(Path(argv[1]).read_text())
    from .records import RecordsError

    try:
        rep = convert_run(spec["run"], spec["out"], bool(spec["int16"]), int(spec["segments"]))
    except (ExportError, RecordsError, FileNotFoundError, config_mod.ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    config_mod.atomic_write_text(Path(spec["out"]) / "representative.json", json.dumps(rep))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
