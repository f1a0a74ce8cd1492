"""The tensor arena a model really needs in TFLite Micro, found by bisection.

Each try runs the model in TFLite Micro's Python interpreter in its own child process: a
too-small arena can crash the interpreter (seen here with a segfault), and a crash is then just
a 'too small'. The recommended arena adds a margin (`ARENA_MARGIN`): the measurement uses the
reference kernels on a 64-bit host, CMSIS-NN kernels on the device may need other buffers.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .export_files import McuError

ARENA_MARGIN = 1.25
"""Recommended arena = measured minimum x this, rounded up to 1 KiB: the measurement uses the
reference kernels on a 64-bit host, CMSIS-NN kernels on the device may need other buffers."""

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
