"""Which exported model goes on the device: every candidate's figures, the choice and its reason.

The device model is judged by what the user hears: each candidate (int8, 16x8) runs frame by
frame in TFLite Micro over the test clips and its audio is scored against the float Keras
model's (`verify`). A candidate is fit for the device when

* it loses at most `FIDELITY_TARGETS` against float (PESQ-WB, STOI, SI-SDR; mean over clips),
* its STM32F746 budget passes (flash, model size, SRAM, cycles; `mcu_budget`), and
* its estimated time per frame leaves at least half of the frame free (`MAX_FRAME_SHARE`).

Of the fit candidates the fastest (fewest estimated cycles per frame) is chosen. When none is
fit, the choice falls on the budget-passing candidate that loses the least PESQ-WB, and the
reason says what it misses. Without a test set (no audio to score) the mask SNR on training
segments decides, and the reason says so. The mask SNR is reported for every candidate, never a
pass/fail line: a mask error the ear cannot hear is no defect.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .export_files import DEVICE_KINDS, report_key

FIDELITY_TARGETS = {"pesq_wb": 0.03, "stoi": 0.005, "si_sdr": 0.3}
"""Most a device model may lose against float Keras, mean over the test clips (SI-SDR in dB)."""
MAX_FRAME_SHARE = 0.5
"""The model's estimated cycles per frame may take at most this share of the frame."""

_METRIC_NAMES = {"pesq_wb": "PESQ-WB", "stoi": "STOI", "si_sdr": "SI-SDR"}
_UNITS = {"pesq_wb": "", "stoi": "", "si_sdr": " dB"}


def fidelity_targets(delta: Mapping[str, float]) -> dict[str, bool]:
    """Each fidelity target met by a device model whose scores minus float's are `delta`."""
    return {
        f"{_METRIC_NAMES[k]} lost <= {limit:g}{_UNITS[k]}": float(delta[k]) >= -limit
        for k, limit in FIDELITY_TARGETS.items()
    }


def candidate(report: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    """One candidate's figures from export.json (None when the export has no such model)."""
    model = report.get("models", {}).get(kind)
    if model is None:
        return None
    ver = report.get("verification", {})
    budget = report.get(report_key("budget", kind), {})
    cycles = budget.get("cycles_per_frame")
    frame_cycles = next(
        (r["limit"] for r in budget.get("rows", []) if r["name"] == "cycles/frame"), None
    )
    audio = ver.get("audio", {})
    delta = audio.get(report_key("delta", kind))
    out: dict[str, Any] = {
        "file": model["file"],
        "bytes": model["bytes"],
        "ops": model["ops"],
        "arena_bytes": report.get(report_key("arena", kind), {}).get("recommended_bytes"),
        "budget_pass": budget.get("pass"),
        "cycles_per_frame": cycles,
        "ms_per_frame": budget.get("ms_per_frame"),
        "frame_share": cycles / frame_cycles if cycles and frame_cycles else None,
        "macs_per_cycle": budget.get("assumptions", {}).get("macs_per_cycle"),
        "mask_snr_db": ver.get("mask_snr_db_by_model", {}).get(f"{kind}_tflm")
        or ver.get(report_key("mask_snr_db", kind)),
    }
    if delta is not None:
        out["audio"] = {"float": audio["float"], "device": audio[kind], "delta": delta}
        out["fidelity"] = fidelity_targets(delta)
    out["fits"] = bool(out["budget_pass"]) and (
        out["frame_share"] is not None and out["frame_share"] <= MAX_FRAME_SHARE
    )
    out["meets"] = out["fits"] and "fidelity" in out and all(out["fidelity"].values())
    return out


def _misses(c: Mapping[str, Any]) -> list[str]:
    out = [k for k, ok in c.get("fidelity", {}).items() if not ok]
    if not c["budget_pass"]:
        out.append("STM32F746 budget")
    share = c["frame_share"]
    if share is None or share > MAX_FRAME_SHARE:
        out.append(f"at most {MAX_FRAME_SHARE:.0%} of the frame")
    return out


def _losses(c: Mapping[str, Any]) -> str:
    d = c["audio"]["delta"]
    return (
        f"PESQ-WB {d['pesq_wb']:+.3f}, STOI {d['stoi']:+.4f}, SI-SDR {d['si_sdr']:+.2f} dB "
        "against float"
    )


def choose(report: Mapping[str, Any]) -> dict[str, Any]:
    """export.json's `device` entry: the chosen kind, why, the targets and every candidate."""
    cands = {k: c for k in DEVICE_KINDS if (c := candidate(report, k)) is not None}
    if not cands:
        raise ValueError("the export report holds no device model candidate")
    fit = {k: c for k, c in cands.items() if c["fits"]}
    meets = {k: c for k, c in fit.items() if c["meets"]}
    scored = {k: c for k, c in fit.items() if "audio" in c}
    if meets:
        kind = min(meets, key=lambda k: meets[k]["cycles_per_frame"])
        c = meets[kind]
        reason = (
            f"the fastest candidate that meets every target: {_losses(c)}, "
            f"{c['frame_share']:.0%} of the frame"
        )
    elif scored:
        kind = max(scored, key=lambda k: scored[k]["audio"]["delta"]["pesq_wb"])
        c = scored[kind]
        reason = (
            f"no candidate meets every target; this one loses the least PESQ-WB ({_losses(c)}) "
            f"and misses: {'; '.join(_misses(c))}"
        )
    elif fit:
        kind = max(fit, key=lambda k: fit[k]["mask_snr_db"] or float("-inf"))
        reason = (
            "no test set, so no audio scores: chosen by the highest mask SNR against float "
            f"({fit[kind]['mask_snr_db']} dB), not verified by ear"
        )
    else:
        kind = min(cands, key=lambda k: cands[k]["cycles_per_frame"] or float("inf"))
        reason = (
            f"no candidate fits the STM32F746; this one misses: {'; '.join(_misses(cands[kind]))}"
        )
    others = [
        f"{k}: misses {'; '.join(_misses(c)) or 'nothing'}" + (" (slower)" if c["meets"] else "")
        for k, c in cands.items()
        if k != kind
    ]
    if others:
        reason += " (" + "; ".join(others) + ")"
    return {
        "kind": kind,
        "reason": reason,
        "targets": {
            "fidelity_lost_at_most": FIDELITY_TARGETS,
            "max_frame_share": MAX_FRAME_SHARE,
            "budget": "flash, model size, SRAM and cycles of the STM32F746 (budget rows)",
            "mask_snr": "reported, not a target",
        },
        "candidates": cands,
    }
