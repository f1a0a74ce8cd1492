"""Frame maskers around the exported TFLite models, in TFLite Micro (as the device) or LiteRT.

A masker follows enhance's contract (`reset()`, `__call__(mag_frame) -> mask`): it compresses
the magnitude as the model's frontend does, quantizes the input, dequantizes the mask and
carries the integer state from one call to the next (requantized when the state output and
input scales differ). TFLite Micro is `tflite-micro`'s Python interpreter: the reference
versions of the kernels the device runs. `lstm-se enhance --tflite` and `lstm-se evaluate
--tflite` take their masker factories from here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import config as config_mod
from .export_files import DEVICE_FILE, DEVICE_KINDS, MODEL_FILES, McuError, export_dir
from .tflite_info import TensorInfo, describe, output_names


def _round_half_away(x: np.ndarray) -> np.ndarray:
    # TFLite and C's roundf round halves away from zero; numpy's round goes to even.
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: str) -> np.ndarray:
    """Real values -> integers of `dtype` (int8/int16) with saturation."""
    info = np.iinfo(dtype)
    q = _round_half_away(np.asarray(x, dtype=np.float64) / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Integers -> real values (float32)."""
    return (scale * (np.asarray(q, dtype=np.float64) - zero_point)).astype(np.float32)


def _outputs(model_bytes: bytes) -> int:
    return len(describe(model_bytes).outputs)


class _TflmBackend:
    """TFLite Micro's Python interpreter: inputs and outputs by position."""

    name = "tflm"

    def __init__(self, model_bytes: bytes, arena_size: int | None = None) -> None:
        try:
            from tflite_micro.python.tflite_micro import runtime
        except ImportError as exc:
            raise McuError(
                f"TFLite Micro's Python interpreter is not installed ({exc}): the tflite-micro "
                "package has no wheels for this platform; LiteRT (backend 'litert') still runs"
            ) from None

        self.interp = runtime.Interpreter.from_bytes(model_bytes, arena_size=arena_size)

    def reset(self) -> None:
        """Reset the variable tensors (a fused LSTM's state) to their initial values."""
        self.interp.reset()

    def run(
        self,
        inputs: Sequence[tuple[TensorInfo, np.ndarray]],
        outputs: Sequence[TensorInfo],
    ) -> list[np.ndarray]:
        for t, x in inputs:
            self.interp.set_input(x.reshape(t.shape), t.position)
        self.interp.invoke()
        return [np.array(self.interp.get_output(t.position)) for t in outputs]


class _LiteRTBackend:
    """LiteRT's interpreter (one thread): tensors by index."""

    name = "litert"

    def __init__(self, model_bytes: bytes) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interp = Interpreter(model_content=model_bytes, num_threads=1)
        self.interp.allocate_tensors()

    def reset(self) -> None:
        """Reset the variable tensors (a fused LSTM's state) to their initial values."""
        self.interp.reset_all_variables()

    def run(
        self,
        inputs: Sequence[tuple[TensorInfo, np.ndarray]],
        outputs: Sequence[TensorInfo],
    ) -> list[np.ndarray]:
        for t, x in inputs:
            self.interp.set_tensor(t.tensor_index, x.reshape(t.shape))
        self.interp.invoke()
        return [np.array(self.interp.get_tensor(t.tensor_index)) for t in outputs]


BACKENDS = ("tflm", "litert")


class TFLiteMasker:
    """Frame masker around an exported one-frame model (float, int8 or 16x8).

    Per call: compress the magnitude (`model.compress`, the frontend the export leaves out),
    quantize it into the frame input, set the carried state, invoke, dequantize the mask and
    keep the state outputs (in the model's own integer type) for the next call. A state
    output whose scale or zero point differs from its input's is requantized, as the firmware
    does with `lstm_se_requantize` from the generated header.
    """

    def __init__(
        self,
        model_bytes: bytes,
        cfg: config_mod.Config,
        backend: str = "tflm",
        arena_size: int | None = None,
    ) -> None:
        from . import model as model_mod

        if backend not in BACKENDS:
            raise ValueError(f"unknown backend '{backend}' ({', '.join(BACKENDS)})")
        self.cfg = cfg
        # A fused-LSTM model (convert_lstm) keeps its state inside: one input, one output.
        self.info = describe(model_bytes, output_names(cfg) if _outputs(model_bytes) > 1 else None)
        self.backend = (
            _TflmBackend(model_bytes, arena_size)
            if backend == "tflm"
            else _LiteRTBackend(model_bytes)
        )
        self._compress = lambda mag: model_mod.compress(mag, cfg)
        self.frame_in = self.info.input("frame")
        self.mask_out = self.info.output("mask")
        self.state_in = [self.info.input(n) for n in self.info.state_names]
        self.state_out = [self.info.output(n) for n in self.info.state_names]
        self._outputs = [self.mask_out, *self.state_out]
        bins = self.frame_in.shape[-1]
        if bins != config_mod.derive(cfg).n_bins:
            raise McuError(
                f"the model takes {bins} bins, the config has {config_mod.derive(cfg).n_bins}"
            )
        self.state: list[np.ndarray] = []
        self.reset()

    @property
    def kind(self) -> str:
        """The exported model it runs, by its activations: 'int8', '16x8' or 'float'."""
        return {"int8": "int8", "int16": "16x8", "float32": "float"}.get(
            self.frame_in.dtype, self.frame_in.dtype
        )

    @property
    def dtype(self) -> str:
        """The frame input's dtype: float32, int8 or int16."""
        return self.frame_in.dtype

    def _to_input(self, t: TensorInfo, x: np.ndarray) -> np.ndarray:
        if t.quantized:
            return quantize(x, t.scale, t.zero_point, t.dtype)
        return np.asarray(x, dtype=t.dtype)

    def reset(self) -> None:
        """Zero state: the quantized zero (the zero point) of every state input."""
        self.state = [self._to_input(t, np.zeros(t.shape, np.float32)) for t in self.state_in]
        if not self.state_in:
            self.backend.reset()

    def __call__(self, mag_frame: np.ndarray) -> np.ndarray:
        frame = self._compress(np.asarray(mag_frame, dtype=np.float32).reshape(-1))
        feeds = [(self.frame_in, self._to_input(self.frame_in, frame))]
        feeds += list(zip(self.state_in, self.state, strict=True))
        mask, *states = self.backend.run(feeds, self._outputs)
        self.state = [
            self._carry(out_t, in_t, s)
            for out_t, in_t, s in zip(self.state_out, self.state_in, states, strict=True)
        ]
        if self.mask_out.quantized:
            return dequantize(mask, self.mask_out.scale, self.mask_out.zero_point).reshape(-1)
        return np.asarray(mask, dtype=np.float32).reshape(-1)

    @staticmethod
    def _carry(out_t: TensorInfo, in_t: TensorInfo, q: np.ndarray) -> np.ndarray:
        if not in_t.quantized:
            return np.asarray(q, dtype=in_t.dtype)
        if (out_t.scale, out_t.zero_point, out_t.dtype) == (
            in_t.scale,
            in_t.zero_point,
            in_t.dtype,
        ):
            return q
        return quantize(
            dequantize(q, out_t.scale, out_t.zero_point), in_t.scale, in_t.zero_point, in_t.dtype
        )


#: Exported TFLite models a masker can run on the device path: kind -> file in `<run>/export/`
#: ('device' is the model `lstm-se export` chose, a copy of one candidate).
EXPORTED_MODELS = {"device": DEVICE_FILE, **{kind: MODEL_FILES[kind] for kind in DEVICE_KINDS}}


def exported_masker(
    run_dir: str | os.PathLike[str],
    cfg: config_mod.Config | None = None,
    backend: str = "tflm",
    kind: str = "device",
) -> TFLiteMasker:
    """The masker of an exported run's `kind` model: 'device' (`model_device.tflite`, the
    model `lstm-se export` chose), or a candidate, 'int8' or '16x8'. Its `kind` property then
    names what it runs ('int8' or '16x8')."""
    if kind not in EXPORTED_MODELS:
        raise McuError(f"unknown exported model '{kind}' (one of {', '.join(EXPORTED_MODELS)})")
    run_dir = Path(run_dir)
    path = export_dir(run_dir) / EXPORTED_MODELS[kind]
    if not path.is_file():
        raise McuError(f"{path} does not exist: run `lstm-se export --run {run_dir}` first")
    if cfg is None:
        cfg = config_mod.load_run_config(run_dir)
    return TFLiteMasker(path.read_bytes(), cfg, backend=backend)


def device_masker(
    run_dir: str | os.PathLike[str],
    cfg: config_mod.Config | None = None,
    backend: str = "tflm",
) -> TFLiteMasker:
    """The device model's masker (`<run>/export/model_device.tflite`).

    Matches enhance's `MaskerFactory` (run folder, config): `lstm-se enhance --tflite` and
    `lstm-se evaluate --tflite` use it, with TFLite Micro by default, so what you hear is what
    the device computes.
    """
    return exported_masker(run_dir, cfg, backend, "device")


def int8_masker(
    run_dir: str | os.PathLike[str],
    cfg: config_mod.Config | None = None,
    backend: str = "tflm",
) -> TFLiteMasker:
    """The int8 candidate's masker (`model_int8.tflite`): `--tflite --int8`."""
    return exported_masker(run_dir, cfg, backend, "int8")


def int16_masker(
    run_dir: str | os.PathLike[str],
    cfg: config_mod.Config | None = None,
    backend: str = "tflm",
) -> TFLiteMasker:
    """The 16x8 candidate's masker (`model_16x8.tflite`): `--tflite --int16`."""
    return exported_masker(run_dir, cfg, backend, "16x8")
