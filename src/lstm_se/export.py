"""`lstm-se export`: the device model for the STM32F746, its C array and export.json for a run.

`lstm-se export --run result/<name> [--all-c-arrays]` converts the trained model into every
device candidate, measures each in TFLite Micro, picks the device model (`device_choice`) and
writes into `result/<name>/export/`:

- `model_device.tflite`: the chosen device model (a copy of one candidate's bytes);
- `model_device.cc` / `.h`: it as a 16-byte aligned C array with its length, the tensor
  positions, shapes, scales and zero points (symbols `lstm_se_*`), for TFLite Micro firmware;
- `lstm_se_dsp_config.h`: the firmware's signal-path constants for it (`firmware_header`);
- `model_float.tflite`: float32 one-frame model (compressed magnitude in, mask and state out),
  the reference the candidates are checked against;
- `model_int8.tflite`: candidate, full-integer int8 (int8 weights, activations, input, output);
- `model_16x8.tflite`: candidate, int16 activations and int8 weights;
- `model_int8.cc` / `.h`, `model_16x8.cc` / `.h`: the candidates' C arrays (only with
  `--all-c-arrays`; symbols `lstm_se_int8_*`, `lstm_se_16x8_*`);
- `export.json`: sizes, op lists, quantization parameters, representative data, measured
  arenas, MACs per frame, each candidate's STM32F746 budget and verification against float,
  and `device`: the chosen kind, the reason and every candidate's figures.

The stages, each in its own module: conversion (`convert`, in a child process: the converter
is native code that can crash), the model's description (`tflite_info`), the TFLite Micro
checks (`mcu`: arena in `tflm_arena`, budget in `mcu_budget`, verification in `verify`, also
in a child process, since TFLite Micro, too, can abort the process), the choice
(`device_choice`) and the C output (`c_array`). This module runs them and writes the files.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import config as config_mod
from .c_array import write_c_array
from .convert import REP_SEGMENTS
from .device_choice import choose
from .export_files import (
    C_ARRAYS,
    DEVICE_FILE,
    DEVICE_KINDS,
    FLOAT_FILE,
    INT8_FILE,
    INT16_FILE,
    JSON_FILE,
    MODEL_FILES,
    ExportError,
    atomic_write_bytes,
    export_dir,
    report_key,
    sha256_bytes,
)
from .firmware_header import export_dsp_header
from .tflite_info import ModelInfo, describe, output_names, quantization_table

log = logging.getLogger(__name__)

#: The converter's child process may take this long (2x256 calibrates in about a minute).
CONVERT_TIMEOUT_S = 1800
#: The mcu check child (arena search, verification over the test set).
CHECK_TIMEOUT_S = 3600


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


def _convert_in_child(run_dir: Path, work: Path, segments: int) -> dict[str, Any]:
    spec = work / "convert_spec.json"
    spec.write_text(
        json.dumps({"run": str(run_dir), "out": str(work), "int16": True, "segments": segments})
    )
    _run_child(
        ["-m", "lstm_se.convert", str(spec)],
        "TFLite conversion",
        CONVERT_TIMEOUT_S,
        stage_hint=True,
    )
    return json.loads((work / "representative.json").read_text())


def _check_in_child(run_dir: Path, work: Path, max_clips: int | None) -> dict[str, Any]:
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
        "--model-16x8",
        str(work / INT16_FILE),
    ]
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
    all_c_arrays: bool = False,
    segments: int = REP_SEGMENTS,
    max_clips: int | None = None,
    check: bool = True,
) -> ExportResult:
    """Export a run into `<run>/export/` (see the module doc); returns paths and the report.

    `all_c_arrays` also writes each candidate's C array; `max_clips` caps the test clips of
    the verification (None: verify.DEFAULT_MAX_CLIPS, the whole test set); `check=False`
    skips the TFLite Micro checks (no arena, budget or verification), and the device model is
    then the int8 one, unverified.
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
        log.info("converting %s (float, int8, 16x8) in a child process", run_dir)
        rep = _convert_in_child(run_dir, work, segments)
        log.info("converted in %.1f s", time.perf_counter() - start)
        kinds = ["float", *DEVICE_KINDS]
        models = {k: _Model.read(work / MODEL_FILES[k], cfg) for k in kinds}
        mcu_report: dict[str, Any] = {}
        if check:
            start = time.perf_counter()
            log.info("TFLite Micro checks (arena, budget, candidates vs float) in a child process")
            try:
                mcu_report = _check_in_child(run_dir, work, max_clips)
            except ExportError as exc:
                # The models are good; only their check failed. Write them, and say so in
                # export.json and in the exit status, rather than throw the conversion away.
                log.error("%s", exc)
                mcu_report = {"check_error": str(exc)}
            log.info("checked in %.1f s", time.perf_counter() - start)
        report = _report(run_dir, cfg, models, rep, mcu_report)
        device = report["device"]["kind"]
        atomic_write_bytes(work / DEVICE_FILE, models[device].data)
        c_kinds = {"device": device, **({k: k for k in DEVICE_KINDS} if all_c_arrays else {})}
        c_files = []
        for array, kind in c_kinds.items():
            arena = mcu_report.get(report_key("arena", kind), {}).get("recommended_bytes")
            m = models[kind]
            c_files += write_c_array(work, m.info, m.data, cfg, arena, m.sha256, *C_ARRAYS[array])
        files = [*(MODEL_FILES[k] for k in kinds), DEVICE_FILE, *c_files]
        result = ExportResult(folder)
        for name in files:
            os.replace(work / name, folder / name)  # same folder tree: an atomic rename
            result.files[name] = folder / name
        # C arrays of an earlier export that this one did not write would describe other bytes.
        stale = {n for kind in DEVICE_KINDS for n in C_ARRAYS[kind][:2]} - set(files)
        for name in sorted(stale):
            if (folder / name).exists():
                (folder / name).unlink()
                log.info("removed %s of an earlier export (no --all-c-arrays this time)", name)
        # The firmware's constants (window, quantization, sizes) for the device model.
        header = export_dsp_header(folder, cfg, report)
        if header is not None:
            result.files[header.name] = header
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


def _report(
    run_dir: Path,
    cfg: config_mod.Config,
    models: Mapping[str, _Model],
    rep: dict[str, Any],
    mcu_report: dict[str, Any],
) -> dict[str, Any]:
    report: dict[str, Any] = {
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
        **mcu_report,
    }
    if "check_error" in mcu_report or not mcu_report:
        # Nothing measured: the int8 model, as before the candidates were compared.
        why = "the TFLite Micro check failed" if mcu_report else "exported without the check"
        report["device"] = {"kind": "int8", "reason": f"{why}: int8, unverified", "candidates": {}}
    else:
        report["device"] = choose(report)
    device = report["device"]["kind"]
    report["device"] |= {
        "file": DEVICE_FILE,
        "sha256": models[device].sha256,
        "c_array": {
            "header": C_ARRAYS["device"][0],
            "source": C_ARRAYS["device"][1],
            "symbol": f"{C_ARRAYS['device'][2]}_model",
            "bytes": len(models[device].data),
            "alignment": 16,
        },
    }
    return report


def summary_lines(report: dict[str, Any]) -> list[str]:
    """Human-readable lines for the log: sizes, ops, budgets, verification, the device choice."""
    lines = []
    for key, m in report["models"].items():
        lines.append(f"{key:>6}: {m['file']} {m['bytes']:,} bytes")
    for kind in DEVICE_KINDS:
        ops = report["models"][kind]["ops"]
        lines.append(f"{kind} ops: " + ", ".join(f"{k} x{v}" for k, v in ops.items()))
        budget = report.get(report_key("budget", kind))
        if budget:
            lines.append(f"{kind} model:")
            lines.extend(budget["table"].splitlines())
    ver = report.get("verification", {})
    if "mask_snr_db_by_model" in ver:
        lines.append(f"verification on {ver['source']} ({ver['frames']} frames)")
        lines.append(
            "mask SNR vs float Keras (dB, reported, not a target): "
            + ", ".join(f"{k} {v}" for k, v in ver["mask_snr_db_by_model"].items())
        )
    if "audio" in ver:
        lines.extend(ver["audio"].get("table", "").splitlines())
    device = report.get("device")
    if device:
        lines.append(f"device model: {device['kind']} -> {device['file']}: {device['reason']}")
    return lines


def target_warnings(report: Mapping[str, Any]) -> list[str]:
    """What the chosen device model misses (fidelity against float, budget, frame share)."""
    device = report.get("device", {})
    cand = device.get("candidates", {}).get(device.get("kind"))
    if not cand:
        return []
    missed = [k for k, ok in cand.get("fidelity", {}).items() if not ok]
    if not cand["fits"]:
        missed.append("the STM32F746 budget or half the frame")
    if not missed:
        return []
    return [
        f"the device model ({device['kind']}) misses: {'; '.join(missed)}. Every candidate's "
        "figures are in export.json ('device'); where the int8 error comes from: "
        "python bench/int8_error.py (docs/export.md)"
    ]


def command(args: argparse.Namespace) -> int:
    """`lstm-se export --run DIR [--all-c-arrays]`.

    Exit 0 when exported and checked (an over-budget model or a missed target is a warning:
    the numbers are in the log and export.json), 1 when the files were written but the TFLite
    Micro check failed, 2 when the export failed.
    """
    if getattr(args, "int16", False):
        log.info("--int16 is no longer needed: the 16x8 model is always a candidate")
    try:
        result = export_run(
            args.run,
            all_c_arrays=bool(getattr(args, "all_c_arrays", False)),
            max_clips=getattr(args, "max_clips", None),
        )
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
    for line in target_warnings(result.report):
        log.warning("%s", line)
    log.info("wrote %s", ", ".join(str(p) for p in result.files.values()))
    if "check_error" in result.report:
        log.error("the TFLite Micro check failed; export.json says why (check_error)")
        return 1
    return 0
