"""mcu_budget.py: MACs counted from the ops, the STM32F746 budget table and its figures."""

from __future__ import annotations

import pytest
from device_models import BINS, UNITS, random_converted

from lstm_se import mcu_budget, tflite_info, tflm_arena


@pytest.fixture(scope="module")
def converted():
    return random_converted()


def test_macs_counted_from_the_ops_match_the_lstm_formula(converted):
    _, _, int8, _ = converted
    ops = mcu_budget.count_ops(tflite_info.describe(int8))
    u = UNITS
    # Each LSTM layer: 4 gates x units x (inputs + units); the mask Dense: units x bins.
    expected = 4 * u * (BINS + u) + 4 * u * (u + u) + u * BINS
    assert ops.macs == expected == ops.by_op["FULLY_CONNECTED"]
    assert ops.elementwise > 0 and set(ops.by_op) >= {"ADD", "MUL", "LOGISTIC", "TANH"}


def _ops(macs: int, elementwise: int = 5000) -> mcu_budget.OpCount:
    return mcu_budget.OpCount(macs, elementwise, {"FULLY_CONNECTED": macs})


def test_budget_passes_a_small_model_and_fails_an_oversized_one():
    budget = mcu_budget.budget
    stft = sum(mcu_budget.stft_buffer_bytes(512, 256).values())
    small = budget(400_000, 36 * 1024, 512, stft, _ops(360_000), 8)
    assert small.passed and all(r.margin > 0 for r in small.rows)
    assert "FAIL" not in small.table()
    big = budget(1_200_000, 48 * 1024, 1024, stft, _ops(1_100_000), 8)
    assert not big.passed
    failed = {r.name for r in big.rows if not r.passed}
    assert failed == {"flash", "model size"}
    flash = next(r for r in big.rows if r.name == "flash")
    assert flash.margin == _flash_margin(1_200_000, 8) < 0
    assert "FAIL" in big.table()
    assert big.to_dict()["rows"][0]["margin_pct"] < 0
    slow = budget(100_000, 20_000, 256, stft, _ops(4_000_000), 8)
    assert [r.name for r in slow.rows if not r.passed] == ["cycles/frame"]
    # 16 ms at 216 MHz
    cycles = next(r for r in slow.rows if r.name == "cycles/frame")
    assert cycles.limit == pytest.approx(3_456_000)
    ram = budget(100_000, 400 * 1024, 256, stft, _ops(1000), 8)
    assert [r.name for r in ram.rows if not r.passed] == ["SRAM"]
    # The 16x8 kernel's lower throughput costs cycles, and the report names its source.
    int16 = budget(400_000, 36 * 1024, 512, stft, _ops(360_000), 8, 0.016, "int16")
    assert int16.cycles_per_frame - small.cycles_per_frame == pytest.approx(360_000 * 0.25)
    assert "s16" in int16.to_dict()["assumptions"]["macs_per_cycle_source"]
    assert "s8" in small.to_dict()["assumptions"]["macs_per_cycle_source"]
    with pytest.raises(ValueError, match="no FULLY_CONNECTED rate"):
        budget(1, 1, 1, 1, _ops(1), 1, 0.016, "int4")


def _flash_margin(model_bytes: int, op_types: int) -> int:
    return mcu_budget.FLASH_BYTES - model_bytes - mcu_budget.runtime_flash_bytes(op_types)


def test_model_budget_of_a_converted_model(converted):
    cfg, _, int8, _ = converted
    arena = tflm_arena.measure_arena(int8)
    b, ops, got = mcu_budget.model_budget(int8, cfg, arena)
    assert got is arena and b.passed
    rows = {r.name: r for r in b.rows}
    assert rows["model size"].value == len(int8)
    assert rows["SRAM"].value >= arena.recommended_bytes + 4 * UNITS
    assert b.cycles_per_frame >= ops.macs / mcu_budget.MACS_PER_CYCLE
    assert mcu_budget.frame_period_s(cfg) == pytest.approx(0.016)
