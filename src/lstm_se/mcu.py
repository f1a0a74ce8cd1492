"""Run the exported model as the microcontroller does, and check it against the STM32F746.

* Frame maskers for the TFLite models (enhance contract: `reset()`, `__call__(mag_frame) ->
  mask`): TFLite Micro (`tflite-micro`'s Python interpreter, the same kernels' reference
  versions as on the device) or LiteRT. They compress the magnitude as the model's frontend
  does, quantize the input, dequantize the mask and carry the int8 state from one call to the
  next (requantized when the state output and input scales differ).
* The tensor arena TFLite Micro really needs, found by bisection with each try in a child
  process (a too-small arena can crash the interpreter: seen here with a segfault).
* MACs per frame counted from the model's operators, and the STM32F746 budget (flash, SRAM,
  cycles per 16 ms frame) as a table with pass/fail and margins.
* The int8-vs-float verification: mask SNR against the float Keras model, and PESQ-WB, STOI and
  SI-SDR of int8-enhanced against float-enhanced audio over the test set.

`python -m lstm_se.mcu check ...` runs the checks for `lstm-se export` in a child process;
`python -m lstm_se.mcu budget --layers 2 --units 256` reports the budget of an untrained
model of any size (size, arena and MACs do not depend on the weights).

Figures the budget rests on (also in export.json and docs/export.md):

* TFLite Micro framework code: 9,732 bytes on an Arm Cortex-M (bluepill) by the TFLM Code Size
  FAQ (tflite-micro, tensorflow/lite/micro/docs). Kernels scale with the model: we allow
  8 KiB per registered operator type and 32 KiB for the application (startup, HAL, CMSIS-DSP
  rFFT and its tables). Those two allowances are our assumptions, not measurements.
* 1.0 MAC per cycle for CMSIS-NN int8 FULLY_CONNECTED on the Cortex-M7. CMSIS-NN's
  `arm_nn_vec_mat_mult_t_s8` (the kernel TFLite Micro's CMSIS-NN FULLY_CONNECTED calls) takes
  the DSP-extension path on a Cortex-M7: each inner iteration does 8 MACs with 4 SMLAD (dual
  16-bit MAC) after 3 word loads and 6 SXTAB16 sign extensions, the q7->q15 SIMD scheme of
  Lai, Suda and Chandra, "CMSIS-NN: Efficient Neural Network Kernels for Arm Cortex-M CPUs",
  arXiv:1801.06601 (2018). That is 8 MACs per 13 instructions; the Cortex-M7 dual-issues some
  of them, so we take 1 MAC/cycle (2 would be the SMLAD peak). Element-wise ops (ADD, MUL,
  LOGISTIC, TANH) are charged 10 cycles per element (an assumption). For scale: TinyLSTM
  (Fedorov et al., Interspeech 2020, arXiv:2005.11138) reports a computational latency of
  2.39 ms for its compressed int8 model on a microcontroller (docs/DESIGN.md: the STM32F746).
* 0.8 MAC per cycle for the 16x8 model's FULLY_CONNECTED (`arm_fully_connected_s16`, which
  calls `arm_nn_vec_mat_mult_t_s16`, CMSIS-NN V.2.1.1, DSP path for rows up to 512 columns):
  each inner iteration does 8 MACs (2 rows x 4 columns) with 4 SMLAD after 2 word loads of
  int16 activations and 2 `read_and_pad` of int8 weights (a load, 2 SXTB16, 2 PKH each),
  16 instructions for 8 MACs against the int8 kernel's 13: 13/16 of the int8 figure, which
  we round to 0.8.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import LstmSeError, runs
from . import config as config_mod
from . import export as export_mod
from .export import ModelInfo

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# the target

FLASH_BYTES = 1024 * 1024
"""STM32F746: 1 MB on-chip flash."""
SRAM_BYTES = 320 * 1024
"""STM32F746: 320 KB SRAM (DTCM 64 KB + SRAM1 240 KB + SRAM2 16 KB)."""
CPU_HZ = 216_000_000
"""Cortex-M7 at 216 MHz."""

TFLM_FRAMEWORK_BYTES = 9_732
"""TFLite Micro framework code on an Arm Cortex-M (TFLM Code Size FAQ, tflite-micro docs)."""
KERNEL_ALLOWANCE_BYTES = 8 * 1024
"""Flash allowed per registered operator type (reference or CMSIS-NN kernel): an assumption."""
APP_ALLOWANCE_BYTES = 32 * 1024
"""Flash allowed for startup, HAL, CMSIS-DSP rFFT and tables, application: an assumption."""
RAM_ALLOWANCE_BYTES = 8 * 1024
"""SRAM allowed for the interpreter object, op resolver and stack: an assumption."""
MACS_PER_CYCLE = 1.0
"""CMSIS-NN int8 FULLY_CONNECTED on the Cortex-M7 (see the module doc for the derivation)."""
MACS_PER_CYCLE_16X8 = 0.8
"""CMSIS-NN 16x8 FULLY_CONNECTED (int16 activations) on the Cortex-M7 (module doc)."""
ELEMENTWISE_CYCLES = 10.0
"""Cycles charged per element of ADD, MUL, LOGISTIC, TANH: an assumption."""
MODEL_TARGET_BYTES = 512 * 1024
"""The int8 model must stay within 0.5 MB (TinyLSTM's weight budget on this part)."""
ARENA_MARGIN = 1.25
"""Recommended arena = measured minimum x this, rounded up to 1 KiB: the measurement uses the
reference kernels on a 64-bit host, CMSIS-NN kernels on the device may need other buffers."""

MASK_SNR_TARGET_DB = 40.0
"""int8 mask against the float Keras mask."""
PESQ_LOSS_TARGET = 0.03
"""PESQ-WB of int8-enhanced audio at most this much below float-enhanced audio."""
DEFAULT_MAX_CLIPS = 100
"""Test clips scored by the verification (evenly spread over the sorted test set)."""

FC_KERNELS = {
    "int8": (
        MACS_PER_CYCLE,
        "CMSIS-NN arm_nn_vec_mat_mult_t_s8 DSP path: 8 MACs per 13 instructions "
        "(4 SMLAD, 3 loads, 6 SXTAB16), the SIMD scheme of Lai et al., arXiv:1801.06601 (2018); "
        "1 MAC/cycle taken for the dual-issue Cortex-M7",
    ),
    "int16": (
        MACS_PER_CYCLE_16X8,
        "CMSIS-NN arm_nn_vec_mat_mult_t_s16 DSP path (V.2.1.1): 8 MACs per 16 instructions "
        "(4 SMLAD, 2 activation loads, 2 read_and_pad of int8 weights), 13/16 of the int8 "
        "kernel's 1 MAC/cycle, rounded to 0.8",
    ),
}
"""FULLY_CONNECTED throughput by activation type: (MACs per cycle, where the figure comes from)."""
_MAC_OPS = ("FULLY_CONNECTED",)
_ELEMENTWISE_OPS = ("ADD", "MUL", "LOGISTIC", "TANH", "SUB")


class McuError(LstmSeError, RuntimeError):
    """A check that cannot be carried out; the message says why."""


def frame_period_s(cfg: config_mod.Config) -> float:
    """Seconds between frames: hop / sample rate (16 ms at 256 / 16 kHz)."""
    return cfg.dset.hop_length / cfg.dset.sample_rate


# ---------------------------------------------------------------------------------------------
# maskers


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

    def run(
        self,
        inputs: Sequence[tuple[export_mod.TensorInfo, np.ndarray]],
        outputs: Sequence[export_mod.TensorInfo],
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

    def run(
        self,
        inputs: Sequence[tuple[export_mod.TensorInfo, np.ndarray]],
        outputs: Sequence[export_mod.TensorInfo],
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
        self.info = export_mod.describe(model_bytes, export_mod.output_names(cfg))
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

    def _to_input(self, t: export_mod.TensorInfo, x: np.ndarray) -> np.ndarray:
        if t.quantized:
            return quantize(x, t.scale, t.zero_point, t.dtype)
        return np.asarray(x, dtype=t.dtype)

    def reset(self) -> None:
        """Zero state: the quantized zero (the zero point) of every state input."""
        self.state = [self._to_input(t, np.zeros(t.shape, np.float32)) for t in self.state_in]

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
    def _carry(
        out_t: export_mod.TensorInfo, in_t: export_mod.TensorInfo, q: np.ndarray
    ) -> np.ndarray:
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


#: Exported TFLite models a masker can run on the device path: kind -> file in `<run>/export/`.
EXPORTED_MODELS = {kind: export_mod.MODEL_FILES[kind] for kind in export_mod.DEVICE_KINDS}


def exported_masker(
    run_dir: str | os.PathLike[str],
    cfg: config_mod.Config | None = None,
    backend: str = "tflm",
    kind: str = "int8",
) -> TFLiteMasker:
    """The masker of an exported run's `kind` model ('int8': `model_int8.tflite`, '16x8':
    `model_16x8.tflite`, written by `lstm-se export --int16`)."""
    if kind not in EXPORTED_MODELS:
        raise McuError(f"unknown exported model '{kind}' (one of {', '.join(EXPORTED_MODELS)})")
    run_dir = Path(run_dir)
    path = export_mod.export_dir(run_dir) / EXPORTED_MODELS[kind]
    if not path.is_file():
        flag = " --int16" if kind == "16x8" else ""
        raise McuError(f"{path} does not exist: run `lstm-se export --run {run_dir}{flag}` first")
    if cfg is None:
        cfg = config_mod.load_run_config(run_dir)
    return TFLiteMasker(path.read_bytes(), cfg, backend=backend)


def int8_masker(
    run_dir: str | os.PathLike[str],
    cfg: config_mod.Config | None = None,
    backend: str = "tflm",
) -> TFLiteMasker:
    """The int8 masker of an exported run (`<run>/export/model_int8.tflite`).

    Matches enhance's `MaskerFactory` (run folder, config): `lstm-se enhance --tflite` uses it,
    with TFLite Micro by default, so what you hear is what the device computes.
    """
    return exported_masker(run_dir, cfg, backend, "int8")


def int16_masker(
    run_dir: str | os.PathLike[str],
    cfg: config_mod.Config | None = None,
    backend: str = "tflm",
) -> TFLiteMasker:
    """The 16x8 masker of an exported run (`model_16x8.tflite`): `--tflite --int16`."""
    return exported_masker(run_dir, cfg, backend, "16x8")


# ---------------------------------------------------------------------------------------------
# arena

_PROBE = r"""
import sys
from tflite_micro.python.tflite_micro import runtime
data = open(sys.argv[1], "rb").read()
try:
    interp = runtime.Interpreter.from_bytes(data, arena_size=int(sys.argv[2]))
    interp.invoke()
except Exception as exc:
    print("FAIL", exc, flush=True)
    sys.exit(3)
if len(sys.argv) > 3:
    interp.print_allocations()
print("OK", flush=True)
"""


@dataclass(frozen=True)
class ArenaResult:
    """Tensor arena measured in the TFLite Micro Python interpreter."""

    min_bytes: int
    """Smallest arena with which the model allocated and ran (to `granularity` bytes)."""
    recorded_bytes: int | None
    """Total the interpreter's recording allocator reports for a large arena."""
    recommended_bytes: int
    """min_bytes x ARENA_MARGIN, rounded up to 1 KiB: what the firmware should reserve."""
    granularity: int
    probes: int
    crashes: int
    """Probes whose child process died (e.g. a segfault for a far too small arena)."""


def _probe(path: Path, arena: int, timeout: float, record: bool = False) -> tuple[str, str]:
    """('ok' | 'fail' | 'crash', output) for one arena size, in a child process."""
    args = [sys.executable, "-c", _PROBE, str(path), str(arena)] + (["record"] if record else [])
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "crash", "timeout"
    out = proc.stdout + proc.stderr
    if proc.returncode == 0 and "OK" in proc.stdout:
        return "ok", out
    return ("fail" if proc.returncode == 3 else "crash"), out


def measure_arena(model_bytes: bytes, granularity: int = 16, timeout: float = 120.0) -> ArenaResult:
    """Bisect the smallest tensor arena with which TFLite Micro allocates and runs the model.

    Every try runs in its own child process, so a crash is just a 'too small'.
    """
    with tempfile.TemporaryDirectory(prefix="lstm_se_arena_") as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(model_bytes)
        probes = crashes = 0

        def fits(arena: int, record: bool = False) -> tuple[bool, str]:
            nonlocal probes, crashes
            probes += 1
            status, out = _probe(path, arena, timeout, record)
            crashes += status == "crash"
            return status == "ok", out

        hi = 64 * 1024
        ok, out = fits(hi, record=True)
        while not ok:
            if hi > 64 * 1024 * 1024:
                raise McuError(f"TFLite Micro cannot run the model even with {hi} bytes:\n{out}")
            hi *= 2
            ok, out = fits(hi, record=True)
        match = re.search(r"Arena allocation total (\d+) bytes", out)
        recorded = int(match.group(1)) if match else None
        # The recorded total is a good first guess: the minimum lies a little above it.
        lo = 0
        if recorded:
            guess_ok, _ = fits(recorded)
            if guess_ok:
                hi = recorded
            else:
                lo = recorded
        while hi - lo > granularity:
            mid = (lo + hi) // 2
            mid -= mid % granularity
            if mid <= lo:
                break
            if fits(mid)[0]:
                hi = mid
            else:
                lo = mid
    recommended = int(math.ceil(hi * ARENA_MARGIN / 1024) * 1024)
    return ArenaResult(hi, recorded, recommended, granularity, probes, crashes)


# ---------------------------------------------------------------------------------------------
# MACs and the budget


@dataclass(frozen=True)
class OpCount:
    """Work per frame counted from the model's operators."""

    macs: int
    """Multiply-accumulates of FULLY_CONNECTED (batch x out x in)."""
    elementwise: int
    """Output elements of ADD, MUL, LOGISTIC, TANH (and SUB)."""
    by_op: dict[str, int]
    """MACs (FULLY_CONNECTED) or elements (element-wise ops) per operator type."""


def count_ops(info: ModelInfo) -> OpCount:
    """MACs and element-wise work of one invocation (one frame)."""
    macs = elementwise = 0
    by_op: dict[str, int] = {}
    for op in info.ops:
        if op.op in _MAC_OPS:
            weights = op.inputs[1]
            if weights is None or len(weights) != 2:
                raise McuError(f"FULLY_CONNECTED with weights of shape {weights}")
            rows = int(np.prod(op.outputs[0][:-1])) if len(op.outputs[0]) > 1 else 1
            n = rows * weights[0] * weights[1]
            macs += n
        elif op.op in _ELEMENTWISE_OPS:
            n = int(np.prod(op.outputs[0]))
            elementwise += n
        else:
            continue
        by_op[op.op] = by_op.get(op.op, 0) + n
    return OpCount(macs, elementwise, dict(sorted(by_op.items())))


def stft_buffer_bytes(n_fft: int, hop: int) -> dict[str, int]:
    """SRAM of the firmware's signal path around the model (float32 DSP, int16 audio I/O).

    The analysis window and the FFT twiddle tables are constants in flash.
    """
    bins = n_fft // 2 + 1
    return {
        "input history (n_fft float32)": 4 * n_fft,
        "rFFT in/out buffers (2 x n_fft float32)": 8 * n_fft,
        "magnitude and mask (2 x bins float32)": 8 * bins,
        "overlap-add accumulator (n_fft float32)": 4 * n_fft,
        "audio DMA ping-pong, in and out (4 x hop int16)": 8 * hop,
    }


def runtime_flash_bytes(op_types: int) -> int:
    """TFLite Micro framework + kernel and application allowances (see the module doc)."""
    return TFLM_FRAMEWORK_BYTES + KERNEL_ALLOWANCE_BYTES * op_types + APP_ALLOWANCE_BYTES


@dataclass(frozen=True)
class BudgetRow:
    """One budget line: value against limit."""

    name: str
    value: float
    limit: float
    unit: str
    detail: str

    @property
    def passed(self) -> bool:
        """value <= limit."""
        return self.value <= self.limit

    @property
    def margin(self) -> float:
        """limit - value (negative when over)."""
        return self.limit - self.value

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with pass and margins."""
        return {
            "name": self.name,
            "value": self.value,
            "limit": self.limit,
            "unit": self.unit,
            "margin": self.margin,
            "margin_pct": 100.0 * self.margin / self.limit,
            "pass": self.passed,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Budget:
    """The STM32F746 budget of one model."""

    rows: tuple[BudgetRow, ...]
    cycles_per_frame: float
    ms_per_frame: float
    macs_per_cycle: float = MACS_PER_CYCLE
    """The FULLY_CONNECTED throughput the cycles rest on (int8 or 16x8 kernel)."""
    macs_per_cycle_source: str = FC_KERNELS["int8"][1]
    """Where that throughput comes from."""

    @property
    def passed(self) -> bool:
        """Every row within its limit."""
        return all(r.passed for r in self.rows)

    def table(self) -> str:
        """Markdown table with pass/fail and margins."""
        lines = [
            "| budget (STM32F746) | value | limit | margin | result |",
            "|---|---:|---:|---:|---|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r.name}: {r.detail} | {_fmt(r.value, r.unit)} | {_fmt(r.limit, r.unit)} | "
                f"{_fmt(r.margin, r.unit)} ({100 * r.margin / r.limit:.1f}%) | "
                f"{'pass' if r.passed else 'FAIL'} |"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready budget with the table and the figures it rests on."""
        return {
            "pass": self.passed,
            "rows": [r.to_dict() for r in self.rows],
            "cycles_per_frame": self.cycles_per_frame,
            "ms_per_frame": self.ms_per_frame,
            "table": self.table(),
            "assumptions": {
                "cpu_hz": CPU_HZ,
                "flash_bytes": FLASH_BYTES,
                "sram_bytes": SRAM_BYTES,
                "tflm_framework_bytes": TFLM_FRAMEWORK_BYTES,
                "tflm_framework_source": "TFLM Code Size FAQ (tflite-micro, "
                "tensorflow/lite/micro/docs): 9,732 bytes on an Arm Cortex-M (bluepill)",
                "kernel_allowance_bytes_per_op_type": KERNEL_ALLOWANCE_BYTES,
                "app_allowance_bytes": APP_ALLOWANCE_BYTES,
                "ram_allowance_bytes": RAM_ALLOWANCE_BYTES,
                "macs_per_cycle": self.macs_per_cycle,
                "macs_per_cycle_source": self.macs_per_cycle_source,
                "elementwise_cycles_per_element": ELEMENTWISE_CYCLES,
                "allowances": "kernel, application and RAM allowances and element-wise cycles "
                "are assumptions, not measurements",
            },
        }


def _fmt(value: float, unit: str) -> str:
    if unit == "B":
        return f"{value / 1024:,.1f} KiB"
    if unit == "cycles":
        return f"{value / 1e6:.3f} M"
    return f"{value:,.0f} {unit}"


def budget(
    model_bytes: int,
    arena_bytes: int,
    state_bytes: int,
    stft_bytes: int,
    ops: OpCount,
    op_types: int,
    frame_period: float = 256 / 16000,
    activations: str = "int8",
) -> Budget:
    """The STM32F746 budget: flash, model size, SRAM and cycles per frame (MACs at the rate
    of the FULLY_CONNECTED kernel for `activations`, 'int8' or 'int16': FC_KERNELS)."""
    if activations not in FC_KERNELS:
        raise ValueError(f"no FULLY_CONNECTED rate for {activations} activations")
    macs_per_cycle, macs_source = FC_KERNELS[activations]
    runtime = runtime_flash_bytes(op_types)
    cycles = ops.macs / macs_per_cycle + ops.elementwise * ELEMENTWISE_CYCLES
    frame_cycles = frame_period * CPU_HZ
    ram = arena_bytes + state_bytes + stft_bytes + RAM_ALLOWANCE_BYTES
    rows = (
        BudgetRow(
            "flash",
            model_bytes + runtime,
            FLASH_BYTES,
            "B",
            f"model {model_bytes:,} B + TFLM runtime est. {runtime:,} B",
        ),
        BudgetRow("model size", model_bytes, MODEL_TARGET_BYTES, "B", "target 0.5 MB"),
        BudgetRow(
            "SRAM",
            ram,
            SRAM_BYTES,
            "B",
            f"arena {arena_bytes:,} + state {state_bytes:,} + STFT {stft_bytes:,} "
            f"+ runtime/stack {RAM_ALLOWANCE_BYTES:,} B",
        ),
        BudgetRow(
            "cycles/frame",
            cycles,
            frame_cycles,
            "cycles",
            f"{ops.macs:,} MACs at {macs_per_cycle:g}/cycle + {ops.elementwise:,} element ops "
            f"x {ELEMENTWISE_CYCLES:g}, {frame_period * 1e3:g} ms frame at {CPU_HZ / 1e6:g} MHz",
        ),
    )
    return Budget(rows, cycles, 1e3 * cycles / CPU_HZ, macs_per_cycle, macs_source)


def state_bytes(info: ModelInfo) -> int:
    """Bytes of the state the application carries between frames (its own copy)."""
    size = {"float32": 4, "int16": 2, "int8": 1}
    return sum(t.elements * size.get(t.dtype, 4) for t in info.inputs if t.name != "frame")


def model_budget(
    model_bytes: bytes, cfg: config_mod.Config, arena: ArenaResult | None = None
) -> tuple[Budget, OpCount, ArenaResult]:
    """Measure the arena (unless given), count the ops and compute the budget of a model."""
    info = export_mod.describe(model_bytes, export_mod.output_names(cfg))
    arena = arena or measure_arena(model_bytes)
    ops = count_ops(info)
    stft = sum(stft_buffer_bytes(cfg.dset.n_fft, cfg.dset.hop_length).values())
    b = budget(
        len(model_bytes),
        arena.recommended_bytes,
        state_bytes(info),
        stft,
        ops,
        len(info.op_counts),
        frame_period_s(cfg),
        info.input("frame").dtype,
    )
    return b, ops, arena


# ---------------------------------------------------------------------------------------------
# verification


def mask_snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """10 log10(sum ref^2 / sum (ref - est)^2); inf when identical."""
    ref = np.asarray(reference, dtype=np.float64)
    err = ref - np.asarray(estimate, dtype=np.float64)
    noise = float(np.sum(err**2))
    return math.inf if noise == 0 else 10 * math.log10(float(np.sum(ref**2)) / noise)


def clip_magnitudes(noisy: np.ndarray, cfg: config_mod.Config) -> np.ndarray:
    """|STFT| frames `(frames, bins)` of a waveform, as enhance computes them (normalized
    with the clip's own statistics, causal framing with the streaming padding)."""
    from . import audio, features

    d = cfg.dset
    x = np.asarray(noisy, dtype=np.float32)
    xn = audio.normalize(x, audio.norm_stats(x, d.normalize))
    if d.center:
        spec = features.stft(xn, d.n_fft, d.hop_length, d.win_length, True, d.fft_normalize)
    else:
        front, back = features.streaming_pad(len(xn), d.n_fft, d.hop_length)
        spec = features.stft(
            np.pad(xn, (front, back)), d.n_fft, d.hop_length, d.win_length, False, d.fft_normalize
        )
    return np.abs(spec).astype(np.float32)


def run_masker(masker: Any, mags: np.ndarray) -> np.ndarray:
    """Masks `(frames, bins)` of a masker run frame by frame from reset state."""
    masker.reset()
    return np.stack([np.asarray(masker(m), dtype=np.float32) for m in mags])


def float_masks(trained: Any, mags: np.ndarray) -> np.ndarray:
    """Masks of the float Keras sequence model over a whole clip `(frames, bins)`."""
    return np.asarray(trained(mags[np.newaxis].astype(np.float32), training=False))[0]


def testset_pairs(cfg: config_mod.Config) -> list[tuple[Path, Path]]:
    """(noisy, clean) test files of the run's corpus (VoiceBank-DEMAND layout), sorted."""
    root = Path(cfg.dset.wav)
    noisy_dir, clean_dir = root / "noisy_testset_wav", root / "clean_testset_wav"
    if not noisy_dir.is_dir() or not clean_dir.is_dir():
        return []
    from . import audio

    clean = {p.stem: p for p in audio.list_audio(clean_dir)}
    return [(p, clean[p.stem]) for p in audio.list_audio(noisy_dir) if p.stem in clean]


def evenly_spread(items: Sequence[Any], n: int) -> list[Any]:
    """At most `n` items, evenly spaced over `items` (all when there are no more): the test
    clips the export verifies on, deterministic and covering every speaker and SNR of a
    sorted list."""
    if len(items) <= n:
        return list(items)
    idx = np.linspace(0, len(items) - 1, n).round().astype(int)
    return [items[i] for i in idx]


def verify(
    cfg: config_mod.Config,
    trained: Any,
    int8_bytes: bytes,
    float_bytes: bytes | None = None,
    int16_bytes: bytes | None = None,
    max_clips: int = DEFAULT_MAX_CLIPS,
    clips: Sequence[tuple[np.ndarray, np.ndarray | None]] | None = None,
) -> dict[str, Any]:
    """int8 (TFLite Micro) against float Keras: mask SNR, and audio scores over test clips.

    `clips` are (noisy, clean or None) waveforms at cfg.dset.sample_rate; by default the
    run's test set (up to `max_clips`). The mask SNR pools all frames of all clips. With
    clean references, PESQ-WB, STOI and SI-SDR of int8-enhanced and float-enhanced audio
    are compared (mean over clips).
    """
    from . import audio

    source = "given clips"
    if clips is None:
        pairs = evenly_spread(testset_pairs(cfg), max_clips)
        if not pairs:
            raise McuError(
                f"no test set under '{cfg.dset.wav}' (noisy_testset_wav/clean_testset_wav)"
            )
        source = f"{cfg.dset.wav} test set: {len(pairs)} of {len(testset_pairs(cfg))} clips"
        clips = [
            (audio.read_mono(n, cfg.dset.sample_rate), audio.read_mono(c, cfg.dset.sample_rate))
            for n, c in pairs
        ]
    maskers: dict[str, TFLiteMasker] = {"int8_tflm": TFLiteMasker(int8_bytes, cfg, "tflm")}
    maskers["int8_litert"] = TFLiteMasker(int8_bytes, cfg, "litert")
    if float_bytes is not None:
        maskers["float_litert"] = TFLiteMasker(float_bytes, cfg, "litert")
    if int16_bytes is not None:
        maskers["16x8_tflm"] = TFLiteMasker(int16_bytes, cfg, "tflm")
    ref_all, mag_all, est_all = [], [], {k: [] for k in maskers}
    per_clip_snr = []
    for noisy, _clean in clips:
        mags = clip_magnitudes(noisy, cfg)
        ref = float_masks(trained, mags)
        ref_all.append(ref)
        mag_all.append(mags)
        for key, masker in maskers.items():
            est_all[key].append(run_masker(masker, mags))
        per_clip_snr.append(mask_snr_db(ref, est_all["int8_tflm"][-1]))
    ref_cat = np.concatenate(ref_all)
    snr = {k: round(mask_snr_db(ref_cat, np.concatenate(v)), 2) for k, v in est_all.items()}
    # The same error weighted by the noisy magnitude: the SNR of the masked spectrum |M X|,
    # which is what reaches the audio (a mask error where |X| is small is inaudible).
    mag_cat = np.concatenate(mag_all)
    spec_snr = {
        k: round(mask_snr_db(ref_cat * mag_cat, np.concatenate(v) * mag_cat), 2)
        for k, v in est_all.items()
    }
    tflm_vs_litert = mask_snr_db(
        np.concatenate(est_all["int8_tflm"]), np.concatenate(est_all["int8_litert"])
    )
    out: dict[str, Any] = {
        "source": source,
        "clips": len(clips),
        "frames": int(ref_cat.shape[0]),
        "mask_snr_db": snr["int8_tflm"],
        "mask_snr_db_by_model": snr,
        "mask_snr_db_worst_clip": round(min(per_clip_snr), 2),
        "masked_spectrum_snr_db_by_model": spec_snr,
        "mask_mean": round(float(ref_cat.mean()), 4),
        "int8_tflm_vs_litert_snr_db": round(tflm_vs_litert, 2)
        if math.isfinite(tflm_vs_litert)
        else "identical",
    }
    kinds = [k for k in export_mod.DEVICE_KINDS if f"{k}_tflm" in maskers]
    device = {kind: maskers[f"{kind}_tflm"] for kind in kinds}
    audio = None
    if any(c is not None for _, c in clips):
        audio = out["audio"] = _audio_scores(cfg, trained, device, clips)
    for kind in device:
        delta = audio[export_mod.report_key("delta", kind)]["pesq_wb"] if audio else None
        out[export_mod.report_key("targets", kind)] = _targets(snr[f"{kind}_tflm"], delta)
    return out


def _targets(mask_snr_db: float, pesq_delta: float | None = None) -> dict[str, bool]:
    """The verification targets of one device model against float Keras: the mask SNR, and the
    PESQ-WB lost when audio was scored."""
    out = {f"mask SNR >= {MASK_SNR_TARGET_DB:g} dB": mask_snr_db >= MASK_SNR_TARGET_DB}
    if pesq_delta is not None:
        out[f"PESQ lost <= {PESQ_LOSS_TARGET:g}"] = pesq_delta >= -PESQ_LOSS_TARGET
    return out


def _audio_scores(
    cfg: config_mod.Config,
    trained: Any,
    maskers: Mapping[str, TFLiteMasker],
    clips: Sequence[tuple[np.ndarray, np.ndarray | None]],
) -> dict[str, Any]:
    """Scores of float-enhanced (offline Keras) and device-enhanced (streaming TFLite Micro,
    one per masker: 'int8', optionally '16x8') audio against the clean references.

    Keys: 'float', and per masker kind k: k (its means), 'delta' (int8 - float) or
    'delta_<k>', '<k>_vs_float_si_sdr_db'; 'table' shows them all."""
    from . import enhance, metrics

    rate = cfg.dset.sample_rate
    rows: dict[str, list[dict[str, float]]] = {"float": [], **{k: [] for k in maskers}}
    sdr_vs_float: dict[str, list[float]] = {k: [] for k in maskers}
    for noisy, clean in clips:
        if clean is None:
            continue
        enhanced = {"float": enhance.enhance_waveform(noisy, rate, cfg, model=trained)[0]}
        for key, masker in maskers.items():
            enhanced[key] = enhance.enhance_waveform(noisy, rate, cfg, masker=masker)[0]
        n = min(len(clean), *(len(e) for e in enhanced.values()))
        for key, enh in enhanced.items():
            rows[key].append(
                {
                    "pesq_wb": metrics.pesq_wb(clean[:n], enh[:n], rate),
                    "stoi": metrics.stoi(clean[:n], enh[:n], rate),
                    "si_sdr": metrics.si_sdr(clean[:n], enh[:n]),
                }
            )
            if key != "float":
                sdr_vs_float[key].append(metrics.si_sdr(enhanced["float"][:n], enh[:n]))
    mean = {
        k: {m: float(np.nanmean([r[m] for r in v])) for m in ("pesq_wb", "stoi", "si_sdr")}
        for k, v in rows.items()
    }
    lines = [
        "| audio (vs clean) | PESQ-WB | STOI | SI-SDR (dB) |",
        "|---|---:|---:|---:|",
        "| float Keras | {pesq_wb:.3f} | {stoi:.4f} | {si_sdr:.2f} |".format(**mean["float"]),
    ]
    out: dict[str, Any] = {"clips": len(rows["float"]), "float": mean["float"]}
    for key in maskers:
        delta = {m: mean[key][m] - mean["float"][m] for m in mean["float"]}
        out[key] = mean[key]
        out[export_mod.report_key("delta", key)] = delta
        out[f"{key}_vs_float_si_sdr_db"] = float(np.nanmean(sdr_vs_float[key]))
        lines += [
            f"| {key} TFLite Micro | {mean[key]['pesq_wb']:.3f} | {mean[key]['stoi']:.4f} | "
            f"{mean[key]['si_sdr']:.2f} |",
            f"| {key} - float | {delta['pesq_wb']:+.3f} | {delta['stoi']:+.4f} | "
            f"{delta['si_sdr']:+.2f} |",
        ]
    out["table"] = "\n".join(lines)
    out["note"] = "PESQ-WB (pesq 0.0.4), STOI (pystoi), SI-SDR zero-mean (Le Roux et al. 2019)"
    return out


def verify_on_magnitudes(
    cfg: config_mod.Config,
    trained: Any,
    int8_bytes: bytes,
    mags: Sequence[np.ndarray],
    int16_bytes: bytes | None = None,
) -> dict[str, Any]:
    """Mask SNR of int8 (and 16x8) in TFLite Micro against float Keras on magnitude segments."""
    ref = np.concatenate([float_masks(trained, m) for m in mags])
    out: dict[str, Any] = {
        "source": f"{len(mags)} training-record segments (no test set)",
        "clips": len(mags),
        "frames": int(ref.shape[0]),
    }
    models = {"int8": int8_bytes, "16x8": int16_bytes}
    for kind, data in models.items():
        if data is None:
            continue
        masker = TFLiteMasker(data, cfg, "tflm")
        snr = mask_snr_db(ref, np.concatenate([run_masker(masker, m) for m in mags]))
        out[export_mod.report_key("mask_snr_db", kind)] = round(snr, 2)
        out[export_mod.report_key("targets", kind)] = _targets(snr)
    return out


# ---------------------------------------------------------------------------------------------
# the export check (child process of `lstm-se export`)


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
        from .export import training_segments

        log.warning("no test set under %s: verifying the mask on training segments", cfg.dset.wav)
        segs = training_segments(cfg, 8, cfg.seed + 1)
        report["verification"] = verify_on_magnitudes(cfg, trained, int8, segs, int16_bytes)
    return report


def config_budget(cfg: config_mod.Config, frames: int = 200, seed: int = 0) -> dict[str, Any]:
    """Budget of an untrained model of `cfg`'s size (random weights, synthetic calibration):
    size, arena and MACs depend only on the architecture."""
    import keras

    from . import model as model_mod

    keras.utils.set_random_seed(seed)
    trained = model_mod.build_model(cfg)
    stream = model_mod.build_streaming_model(cfg, trained, frontend=False)
    rng = np.random.default_rng(seed)
    bins = config_mod.derive(cfg).n_bins
    segs = [np.abs(rng.normal(0, 0.05, (frames, bins))).astype(np.float32)]
    samples = export_mod.representative_samples(cfg, stream, segs)
    int8 = export_mod.convert(stream, "int8", samples)
    b, ops, arena = model_budget(int8, cfg)
    info = export_mod.describe(int8, export_mod.output_names(cfg))
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
        except (McuError, export_mod.ExportError) as exc:
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
