"""What a converted TFLite model holds, read from the flatbuffer without TensorFlow.

`describe(model_bytes)` names the one-frame model's inputs and outputs (frame, mask, h_1, c_1,
...) with their positions, tensor indices, shapes, dtypes, scales and zero points, and lists
its operators with their tensor shapes: what the C header, the maskers, the MAC count and the
budget read. `ai_edge_litert` ships the schema; no TensorFlow import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from . import config as config_mod
from .export_files import ExportError


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
        if key in out_names:  # Keras 2 (the fused-LSTM model) names outputs by layer
            outputs.append(tensor(i, idx, key))
            continue
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
