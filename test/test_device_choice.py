"""device_choice: which candidate becomes the device model, and why, from export.json figures."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lstm_se import device_choice

FRAME = 3_456_000.0


def _report(
    int8_delta: dict[str, float] | None,
    int16_delta: dict[str, float] | None,
    int8_cycles: float = 0.41e6,
    int16_cycles: float = 0.50e6,
) -> dict[str, Any]:
    """An export report with both candidates, their budgets and (optionally) audio deltas."""

    def budget(cycles: float) -> dict[str, Any]:
        return {
            "pass": cycles <= FRAME,
            "cycles_per_frame": cycles,
            "ms_per_frame": cycles / 216e3,
            "rows": [{"name": "cycles/frame", "limit": FRAME}],
            "assumptions": {"macs_per_cycle": 1.0},
        }

    def model(kind: str) -> dict[str, Any]:
        return {"file": f"model_{kind}.tflite", "bytes": 400_000, "ops": {"ADD": 1}}

    report: dict[str, Any] = {
        "models": {"float": model("float"), "int8": model("int8"), "16x8": model("16x8")},
        "budget": budget(int8_cycles),
        "budget_16x8": budget(int16_cycles),
        "arena": {"recommended_bytes": 35_840},
        "arena_16x8": {"recommended_bytes": 36_864},
        "verification": {"mask_snr_db_by_model": {"int8_tflm": 7.7, "16x8_tflm": 36.0}},
    }
    if int8_delta is not None:
        scores = {"pesq_wb": 1.67, "stoi": 0.80, "si_sdr": 9.45}
        report["verification"]["audio"] = {
            "float": scores,
            "int8": scores,
            "16x8": scores,
            "delta": int8_delta,
            "delta_16x8": int16_delta,
        }
    return report


GOOD = {"pesq_wb": 0.002, "stoi": -0.0001, "si_sdr": -0.01}
BAD = {"pesq_wb": -0.131, "stoi": -0.0288, "si_sdr": -1.58}


def test_the_fastest_candidate_that_meets_every_target_is_chosen():
    chosen = device_choice.choose(_report(GOOD, GOOD))
    assert chosen["kind"] == "int8"  # fewer cycles than 16x8, both meet every target
    assert "fastest" in chosen["reason"] and "16x8: misses nothing (slower)" in chosen["reason"]
    assert chosen["candidates"]["16x8"]["meets"] and chosen["candidates"]["int8"]["meets"]


def test_a_candidate_that_loses_quality_is_passed_over_and_the_reason_says_why():
    chosen = device_choice.choose(_report(BAD, GOOD))
    assert chosen["kind"] == "16x8"
    assert "int8: misses PESQ-WB lost <= 0.03" in chosen["reason"]
    assert "SI-SDR lost <= 0.3 dB" in chosen["reason"]
    int8 = chosen["candidates"]["int8"]
    assert int8["fidelity"] == {
        "PESQ-WB lost <= 0.03": False,
        "STOI lost <= 0.005": False,
        "SI-SDR lost <= 0.3 dB": False,
    }
    assert int8["mask_snr_db"] == 7.7 and not int8["meets"]
    assert chosen["candidates"]["16x8"]["frame_share"] == pytest.approx(0.5e6 / FRAME)


def test_each_fidelity_target_alone_decides():
    for metric, just_over in (("pesq_wb", -0.031), ("stoi", -0.0051), ("si_sdr", -0.31)):
        delta = dict(GOOD, **{metric: just_over})
        assert device_choice.choose(_report(delta, GOOD))["kind"] == "16x8", metric
        at_limit = dict(GOOD, **{metric: -device_choice.FIDELITY_TARGETS[metric]})
        assert device_choice.choose(_report(at_limit, GOOD))["kind"] == "int8", metric


def test_more_than_half_the_frame_is_not_fit_for_the_device():
    report = _report(GOOD, GOOD, int8_cycles=0.51 * FRAME, int16_cycles=0.6e6)
    chosen = device_choice.choose(report)
    assert chosen["kind"] == "16x8"
    assert "int8: misses at most 50% of the frame" in chosen["reason"]


def test_when_none_meets_every_target_the_least_pesq_lost_is_chosen():
    worse = dict(BAD, pesq_wb=-0.2)
    chosen = device_choice.choose(_report(BAD, worse))
    assert chosen["kind"] == "int8"
    assert chosen["reason"].startswith("no candidate meets every target")


def test_without_audio_the_mask_snr_decides_and_says_so():
    chosen = device_choice.choose(_report(None, None))
    assert chosen["kind"] == "16x8"
    assert "no test set" in chosen["reason"] and "36.0 dB" in chosen["reason"]
    assert "fidelity" not in chosen["candidates"]["16x8"]


def test_over_budget_candidates_are_named():
    report = _report(GOOD, GOOD, int8_cycles=2 * FRAME, int16_cycles=3 * FRAME)
    chosen = device_choice.choose(report)
    assert chosen["kind"] == "int8" and "fits the STM32F746" in chosen["reason"]
    assert "STM32F746 budget" in chosen["reason"]


def test_a_report_without_candidates_is_an_error():
    report = _report(GOOD, GOOD)
    empty = copy.deepcopy(report)
    empty["models"] = {"float": report["models"]["float"]}
    with pytest.raises(ValueError, match="no device model candidate"):
        device_choice.choose(empty)
