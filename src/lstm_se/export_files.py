"""What `lstm-se export` writes where: file names, model kinds, report keys, errors, atomic writes.

Every export file of a run lives in `<run>/export/` (`export_dir`). This module is the common
ground of the export stage (`export`, `convert`, `c_array`, `tflite_info`) and of the device
checks after it (`tflite_masker`, `tflm_arena`, `mcu_budget`, `verify`, `mcu`); it imports
neither TensorFlow nor any of them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from . import LstmSeError, new_file_mode

EXPORT_DIR = "export"
FLOAT_FILE = "model_float.tflite"
INT8_FILE = "model_int8.tflite"
INT16_FILE = "model_16x8.tflite"
DEVICE_FILE = "model_device.tflite"
C_SOURCE_FILE = "model_int8.cc"
C_HEADER_FILE = "model_int8.h"
C_SOURCE_16X8_FILE = "model_16x8.cc"
C_HEADER_16X8_FILE = "model_16x8.h"
C_SOURCE_DEVICE_FILE = "model_device.cc"
C_HEADER_DEVICE_FILE = "model_device.h"
JSON_FILE = "export.json"

#: C identifier prefix of everything in the device model's generated header and source; each
#: candidate's C array (`lstm-se export --all-c-arrays`) has its own, so firmware can hold several.
C_PREFIX = "lstm_se"
C_PREFIX_INT8 = "lstm_se_int8"
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
    "device": (C_HEADER_DEVICE_FILE, C_SOURCE_DEVICE_FILE, C_PREFIX),
    "int8": (C_HEADER_FILE, C_SOURCE_FILE, C_PREFIX_INT8),
    "16x8": (C_HEADER_16X8_FILE, C_SOURCE_16X8_FILE, C_PREFIX_16X8),
}
"""The C array of the device model and of each candidate: header, source and symbol prefix."""


class ExportError(LstmSeError, RuntimeError):
    """An export that cannot be carried out; the message says why and what to do."""


class McuError(LstmSeError, RuntimeError):
    """A device check (TFLite Micro, arena, budget, verification) that cannot be carried out;
    the message says why."""


def export_dir(run_dir: str | os.PathLike[str]) -> Path:
    """`<run>/export`, where every export file of a run lives."""
    return Path(run_dir) / EXPORT_DIR


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
