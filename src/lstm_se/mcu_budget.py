"""MACs per frame counted from a model's operators, and its STM32F746 budget.

`model_budget(model_bytes, cfg)` measures the arena (`tflm_arena`), counts the work of one
frame (`count_ops`) and checks flash, model size, SRAM and cycles per 16 ms frame against the
STM32F746 (`budget`), as a table with pass/fail and margins.

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

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import config as config_mod
from .export_files import McuError
from .tflite_info import ModelInfo, describe, output_names
from .tflm_arena import ArenaResult, measure_arena

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
_ELEMENTWISE_OPS = ("ADD", "MUL", "LOGISTIC", "TANH", "SUB", "MINIMUM", "MAXIMUM")


def frame_period_s(cfg: config_mod.Config) -> float:
    """Seconds between frames: hop / sample rate (16 ms at 256 / 16 kHz)."""
    return cfg.dset.hop_length / cfg.dset.sample_rate


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
    info = describe(model_bytes, output_names(cfg))
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
