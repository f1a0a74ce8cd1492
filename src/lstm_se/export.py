"""`lstm-se export`: float, int8 (and 16x8) TFLite, their C arrays and export.json for a run.

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

The stages, each in its own module: conversion (`convert`, in a child process: the converter
is native code that can crash), the model's description (`tflite_info`), the TFLite Micro
checks (`mcu`: arena in `tflm_arena`, budget in `mcu_budget`, verification in `verify`, also
in a child process, since TFLite Micro, too, can abort the process) and the C output
(`c_array`). This module runs them and writes the files.
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
from .export_files import (
    C_ARRAYS,
    C_HEADER_16X8_FILE,
    C_SOURCE_16X8_FILE,
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
from .firmware import export_dsp_header
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


def _convert_in_child(run_dir: Path, work: Path, int16: bool, segments: int) -> dict[str, Any]:
    spec = work / "convert_spec.json"
    spec.write_text(
        json.dumps({"run": str(run_dir), "out": str(work), "int16": int16, "segments": segments})
    )
    _run_child(
        ["-m", "lstm_se.convert", str(spec)],
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

    `max_clips` caps the test clips of the verification (verify.DEFAULT_MAX_CLIPS when None);
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
            m = models[kind]
            c_files += write_c_array(work, m.info, m.data, cfg, arena, m.sha256, *C_ARRAYS[kind])
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
        # The firmware's constants (window, quantization, sizes) for this very model.
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
