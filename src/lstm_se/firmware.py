"""The firmware's builds (host shared object, Cortex-M7 ELF, qemu run) and its host harness.

`firmware/` (portable C99) runs the streaming path of `lstm-se enhance --streaming --tflite`
around the exported device model, one hop per call, with the constants of the generated
`lstm_se_dsp_config.h` (`firmware_header`). This module builds it for the host (a shared
object driven through ctypes, `HostFirmware`, with the model call answered by TFLite Micro's
Python interpreter, `TflmModel`) and for the Cortex-M7 (`build_m7`, run in qemu by `run_qemu`).

    python -m lstm_se.firmware header --run pretrained/lstm-2x128   # -> <run>/export/
    python -m lstm_se.firmware build --target host|m7 --out DIR     # see docs/firmware.md
"""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import config as config_mod
from .firmware_header import (
    DSP_HEADER,
    FirmwareError,
    device_model,
    elements,
    q_dtype,
    states,
    tensors,
    write_dsp_header,
)

log = logging.getLogger(__name__)

FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware"
CMSIS_DIR = FIRMWARE_DIR / "third_party" / "CMSIS-DSP"

_TRANSFORMS = ("rfft_fast_{p}", "rfft_fast_init_{p}", "cfft_{p}", "cfft_init_{p}")
CMSIS_SOURCES = {
    # The real FFT of each precision and what it calls; the tables are whole (unmodified):
    # --gc-sections keeps only the ones of the FFT length used.
    "f32": [f"Source/TransformFunctions/arm_{t.format(p='f32')}.c" for t in _TRANSFORMS]
    + ["Source/TransformFunctions/arm_cfft_radix8_f32.c"],
    "f64": [f"Source/TransformFunctions/arm_{t.format(p='f64')}.c" for t in _TRANSFORMS],
    "common": [
        "Source/TransformFunctions/arm_bitreversal2.c",
        "Source/CommonTables/arm_common_tables.c",
        "Source/CommonTables/arm_const_structs.c",
    ],
}

WARNINGS = ("-Wall", "-Wextra", "-Werror")
COMMON_FLAGS = (
    "-std=c99",
    "-O2",
    *WARNINGS,
    # CMSIS-DSP's own switch for building without CMSIS-Core (the Python wrapper uses it):
    # the float FFTs need none of its intrinsics, and CMSIS-Core is not vendored.
    "-D__GNUC_PYTHON__",
    # No fused multiply-add: the host and the M7 builds then round every operation alike,
    # which is what lets the qemu test demand equal output.
    "-ffp-contract=off",
    "-ffunction-sections",
    "-fdata-sections",
)
M7_FLAGS = ("-mcpu=cortex-m7", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard", "-mthumb")
ARM_CC = "arm-none-eabi-gcc"
QEMU = "qemu-system-arm"
# ---------------------------------------------------------------------------------------------
# builds


def sources(precision: str) -> list[Path]:
    """C sources of the firmware library for 'f32' (the M7) or 'f64' (host reference)."""
    if precision not in ("f32", "f64"):
        raise ValueError(f"precision is 'f32' or 'f64', not '{precision}'")
    cmsis = CMSIS_SOURCES[precision] + CMSIS_SOURCES["common"]
    return [FIRMWARE_DIR / "src" / "lstm_se.c", *(CMSIS_DIR / s for s in cmsis)]


def include_flags(config_dir: str | os.PathLike[str]) -> list[str]:
    """-I for the firmware, CMSIS-DSP and the folder holding the generated header."""
    dirs = [FIRMWARE_DIR / "include", CMSIS_DIR / "Include", CMSIS_DIR / "PrivateInclude"]
    return [f"-I{p}" for p in [*dirs, Path(config_dir)]]


def _run(cmd: Sequence[str | os.PathLike[str]], what: str) -> str:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if proc.returncode != 0 or proc.stderr.strip():
        # stderr is the compiler's warnings: -Werror makes them errors, and any other text
        # there (a linker note) is worth failing on too.
        raise FirmwareError(f"{what} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout


def build_host(
    out: str | os.PathLike[str],
    config_dir: str | os.PathLike[str],
    precision: str = "f64",
    extra_sources: Sequence[str | os.PathLike[str]] = (),
    cc: str = "cc",
) -> Path:
    """The firmware as a host shared object (for ctypes); returns its path."""
    if shutil.which(cc) is None:
        raise FirmwareError(f"no C compiler '{cc}' on PATH")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    define = ["-DLSTM_SE_DSP_F64"] if precision == "f64" else []
    cmd = [cc, *COMMON_FLAGS, "-fPIC", "-shared", *define, *include_flags(config_dir)]
    _run([*cmd, *sources(precision), *extra_sources, "-o", out, "-lm"], f"host build {out}")
    return out


def arm_toolchain() -> str | None:
    """Why the Cortex-M7 build or its qemu run cannot happen here, or None when both can."""
    missing = [t for t in (ARM_CC, QEMU) if shutil.which(t) is None]
    if missing:
        return (
            f"{' and '.join(missing)} not on PATH (Debian: apt-get install gcc-arm-none-eabi "
            "libnewlib-arm-none-eabi qemu-system-arm)"
        )
    return None


def build_m7(out_dir: str | os.PathLike[str], config_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Cross-compile for the Cortex-M7: the qemu test program (`firmware/test/`, mps2-an500
    with semihosting) and the sizes of the DSP part. Returns {'elf', 'sizes': {text, data,
    bss}}: a program of init + process with a model stub, less the same program without them
    (both with start-up code and libc), so libm's share of the DSP (powf, sqrtf) counts."""
    problem = arm_toolchain()
    if problem:
        raise FirmwareError(problem)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    flags = [*COMMON_FLAGS, *M7_FLAGS, *include_flags(config_dir)]
    objects = []
    for src in sources("f32"):
        obj = out / (src.stem + ".o")
        _run([ARM_CC, *flags, "-c", src, "-o", obj], f"M7 compile {src.name}")
        objects.append(obj)
    test = FIRMWARE_DIR / "test"
    link = [
        "-nostartfiles",
        "--specs=nosys.specs",
        f"-T{test / 'mps2_an500.ld'}",
        "-Wl,--gc-sections",
    ]
    startup = test / "startup_m7.c"

    def elf(name: str, srcs: Sequence[Path | str], objs: Sequence[Path]) -> Path:
        path = out / name
        _run([ARM_CC, *flags, *link, startup, *srcs, *objs, "-o", path, "-lm"], f"M7 link {name}")
        return path

    qemu_elf = elf("lstm_se_qemu.elf", [test / "qemu_main.c", test / "standin_model.c"], objects)
    probe = elf("size_probe.elf", [test / "size_probe.c"], objects)
    base = elf("size_baseline.elf", ["-DLSTM_SE_SIZE_BASELINE", test / "size_probe.c"], [])
    with_dsp, without = elf_sizes(probe), elf_sizes(base)
    return {"elf": qemu_elf, "sizes": {k: with_dsp[k] - without[k] for k in with_dsp}}


def elf_sizes(elf: str | os.PathLike[str]) -> dict[str, int]:
    """text/data/bss of an ELF as arm-none-eabi-size reports them (text includes rodata)."""
    rows = _run(["arm-none-eabi-size", "-B", elf], "size").splitlines()
    text, data, bss = (int(v) for v in rows[1].split()[:3])
    return {"text": text, "data": data, "bss": bss}


def run_qemu(
    elf: str | os.PathLike[str],
    samples: np.ndarray,
    workdir: str | os.PathLike[str],
    features_dtype: np.dtype | str = np.int8,
) -> dict[str, Any]:
    """Run the qemu test program on float32 `samples` (a whole number of hops) under
    `-icount shift=0`; returns the output, the features (of the header's tensor type,
    `features_dtype`) and the instructions of each frame."""
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    np.asarray(samples, np.float32).tofile(work / "lstm_se_in.f32")
    cmd = [QEMU, "-M", "mps2-an500", "-nographic", "-monitor", "none", "-serial", "none"]
    cmd += ["-semihosting-config", "enable=on,target=native", "-icount", "shift=0"]
    proc = subprocess.run(
        [*cmd, "-kernel", str(elf)], cwd=work, capture_output=True, text=True, timeout=600
    )
    if proc.returncode != 0:
        raise FirmwareError(f"qemu exited {proc.returncode}: {proc.stdout}{proc.stderr}")
    # Semihosting's console is qemu's stderr (no chardev given).
    text = proc.stdout + proc.stderr
    printed = dict(line.split() for line in text.splitlines() if line.count(" ") == 1)
    # SysTick counts the board clock; with one instruction per virtual ns the calibration
    # loop (2 instructions per turn) says how many instructions one tick is.
    per_tick = int(printed["calibration_instructions"]) / int(printed["calibration_ticks"])
    ticks = np.fromfile(work / "lstm_se_ticks.u32", np.uint32)
    return {
        "output": np.fromfile(work / "lstm_se_out.f32", np.float32),
        "features": np.fromfile(work / "lstm_se_features.q", features_dtype),
        "instructions": ticks.astype(np.float64) * per_tick,
        "instructions_per_tick": per_tick,
        "state_bytes": int(printed["state_bytes"]),
    }


# ---------------------------------------------------------------------------------------------
# host harness (ctypes)

ModelFn = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
)
"""lstm_se_model_fn as ctypes sees it (the tensor pointers are lstm_se_q: int8 or int16)."""


class HostFirmware:
    """A host build of the firmware (`build_host`, its header made for the device model or
    the candidate `kind`), driven from Python.

    `stream(model)` makes one lstm_se_t for a Python model call `model(features, state_in)
    -> (mask, state_out)` (arrays of the device model's integer type, `dtype`: int8 or int16;
    the states concatenated in carry order); `process(st, hop)` runs one hop.
    """

    def __init__(
        self,
        lib_path: str | os.PathLike[str],
        cfg: config_mod.Config,
        report: Mapping[str, Any],
        kind: str | None = None,
    ) -> None:
        self.lib = ctypes.CDLL(str(lib_path))
        self.lib.lstm_se_state_size.restype = ctypes.c_size_t
        self.lib.lstm_se_init.argtypes = [ctypes.c_void_p, ModelFn, ctypes.c_void_p]
        self.lib.lstm_se_reset.argtypes = [ctypes.c_void_p]
        self.lib.lstm_se_process.argtypes = [
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_void_p,
        ]
        self.lib.lstm_se_strerror.restype = ctypes.c_char_p
        self.bins = elements(tensors(device_model(report, kind), "inputs")["frame"])
        self.total_state = sum(s.size for s in states(cfg, report, kind))
        self.dtype = q_dtype(report, kind)
        self._keep: list[Any] = []  # callbacks and buffers ctypes must not collect

    def new_state(self) -> ctypes.Array[ctypes.c_char]:
        """A zeroed buffer of sizeof(lstm_se_t), 8-byte aligned, not initialized."""
        buf = (ctypes.c_double * (self.lib.lstm_se_state_size() // 8 + 1))()
        self._keep.append(buf)
        return buf  # type: ignore[return-value]

    def stream(self, model: Any) -> Any:
        """An initialized lstm_se_t whose model call is the Python `model`."""
        bins, total_state = self.bins, self.total_state
        ptr = ctypes.POINTER(np.ctypeslib.as_ctypes_type(self.dtype))

        def view(address: int, n: int) -> np.ndarray:
            return np.ctypeslib.as_array(ctypes.cast(address, ptr), (n,))

        def call(_user: Any, feats: Any, state_in: Any, mask: Any, state_out: Any) -> int:
            try:
                m, so = model(view(feats, bins).copy(), view(state_in, total_state).copy())
                view(mask, bins)[:] = m
                view(state_out, total_state)[:] = so
            except Exception:  # an exception cannot cross C: report it as the model's error
                log.exception("model call failed")
                return 1
            return 0

        fn = ModelFn(call)
        st = self.new_state()
        self._keep.append(fn)
        rc = self.lib.lstm_se_init(st, fn, None)
        if rc != 0:
            raise FirmwareError(f"lstm_se_init: {self.strerror(rc)}")
        return st

    def process(self, st: Any, hop: np.ndarray) -> np.ndarray:
        """One hop through lstm_se_process (raises FirmwareError on an error code)."""
        x = np.ascontiguousarray(hop, np.float32)
        out = np.zeros_like(x)
        rc = self.lib.lstm_se_process(st, x.ctypes.data, len(x), out.ctypes.data)
        if rc != 0:
            raise FirmwareError(f"lstm_se_process: {self.strerror(rc)}")
        return out

    def strerror(self, rc: int) -> str:
        """lstm_se_strerror of a return code."""
        return f"{rc} ({self.lib.lstm_se_strerror(rc).decode()})"


class TflmModel:
    """The model call answered by the exported device model (or the candidate `kind`) in
    TFLite Micro's Python interpreter (as `lstm-se enhance --tflite` runs it), tensors by
    position from export.json. The state is the caller's (lstm_se_t's): each call sets every
    input."""

    def __init__(
        self,
        export_folder: str | os.PathLike[str],
        cfg: config_mod.Config,
        kind: str | None = None,
    ) -> None:
        from tflite_micro.python.tflite_micro import runtime

        folder = Path(export_folder)
        self.report = json.loads((folder / "export.json").read_text())
        model = device_model(self.report, kind)
        self.interp = runtime.Interpreter.from_bytes((folder / model["file"]).read_bytes())
        ins, outs = tensors(model, "inputs"), tensors(model, "outputs")
        self.shapes = {name: t["shape"] for name, t in ins.items()}
        self.frame, self.mask = ins["frame"], outs["mask"]
        self.states = states(cfg, self.report, kind)
        self.total = sum(s.size for s in self.states)

    def __call__(self, feats: np.ndarray, state_in: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.interp.set_input(feats.reshape(self.frame["shape"]), self.frame["position"])
        off = 0
        for s in self.states:
            part = state_in[off : off + s.size].reshape(self.shapes[s.name])
            self.interp.set_input(part, s.input_position)
            off += s.size
        self.interp.invoke()
        mask = np.array(self.interp.get_output(self.mask["position"])).reshape(-1)
        out = [np.array(self.interp.get_output(s.output_position)).reshape(-1) for s in self.states]
        return mask, np.concatenate(out)


def enhance_stream(fw: HostFirmware, st: Any, x: np.ndarray, hop: int, history: int) -> np.ndarray:
    """`x` through a (fresh or reset) stream as `lstm-se enhance --streaming` frames a file:
    zeros appended to finish the last hop and flush the overlap-add, the first `history`
    output samples (the zero history's) dropped, as many samples out as in."""
    n = len(x)
    hops = -(-(n + history) // hop)
    padded = np.zeros(hops * hop, np.float32)
    padded[:n] = x
    out = np.concatenate([fw.process(st, padded[t * hop : (t + 1) * hop]) for t in range(hops)])
    return out[history : history + n]


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lstm_se.firmware", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("header", help=f"write {DSP_HEADER} into <run>/export/")
    h.add_argument("--run", default=None, help="run folder (default: the pretrained model)")
    b = sub.add_parser("build", help="build the firmware for the host or the Cortex-M7")
    b.add_argument("--target", choices=("host", "host-f32", "m7"), default="host")
    b.add_argument("--config-dir", default=None, help=f"folder with {DSP_HEADER}")
    b.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from . import runs

    try:
        if args.cmd == "header":
            print(write_dsp_header(runs.resolve(args.run) / "export"))
            return 0
        config_dir = args.config_dir or runs.resolve(None) / "export"
        if args.target == "m7":
            print(json.dumps(build_m7(args.out, config_dir)["sizes"]))
        else:
            precision = "f32" if args.target == "host-f32" else "f64"
            print(build_host(Path(args.out) / f"liblstm_se_{precision}.so", config_dir, precision))
    except (FirmwareError, runs.RunError, config_mod.ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
