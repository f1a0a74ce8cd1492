"""The firmware's generated constants and its builds (host shared object, Cortex-M7 ELF).

`firmware/` (portable C99) runs the streaming path of `lstm-se enhance --streaming` around the
exported int8 model, one hop per call. Every number it needs (window, hop, FFT scale, the
frontend, the frame and mask quantization, the state tensors, the overlap-add envelope) comes
from `lstm_se_dsp_config.h`, which `dsp_header` writes from a run's config and its export
report (`export/export.json`): the firmware never copies a number by hand.

    python -m lstm_se.firmware header --run pretrained/lstm-2x128   # -> <run>/export/
    python -m lstm_se.firmware build --target host|m7 --out DIR     # see docs/firmware.md

What the firmware does not implement is refused here, at generation time, with the reason:
mel input, utterance normalization (`dset.normalize`), centred frames, 16x8 or float models.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import LstmSeError, features
from . import config as config_mod

log = logging.getLogger(__name__)

DSP_HEADER = "lstm_se_dsp_config.h"
"""The generated header's name: `firmware/include/lstm_se.h` includes it by this name."""

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
COMPRESSIONS = {"none": 0, "power": 1, "log1p": 2}


class FirmwareError(LstmSeError, RuntimeError):
    """A run the firmware cannot serve, or a build that failed; the message says why."""


# ---------------------------------------------------------------------------------------------
# constants


@dataclass(frozen=True)
class StateTensor:
    """One carried state: its name, size and the quantization of its input and output."""

    name: str
    size: int
    input_position: int
    output_position: int
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int

    @property
    def same_quantization(self) -> bool:
        """Output feeds input unchanged (TFLiteMasker._carry requantizes otherwise)."""
        return (self.output_scale, self.output_zero_point) == (
            self.input_scale,
            self.input_zero_point,
        )


def state_names(layers: int) -> list[str]:
    """Carry order of the state tensors, as `model.state_names` has it: h_1, c_1, h_2, ..."""
    return [f"{k}_{i}" for i in range(1, layers + 1) for k in ("h", "c")]


def _tensors(model: Mapping[str, Any], side: str) -> dict[str, Mapping[str, Any]]:
    return {t["name"]: t for t in model[side]}


def _elements(t: Mapping[str, Any]) -> int:
    return int(np.prod(t["shape"]))


def check_supported(cfg: config_mod.Config, report: Mapping[str, Any]) -> None:
    """Raise FirmwareError naming every setting of `cfg`/the export the firmware lacks."""
    d, m = cfg.dset, cfg.model
    problems = []
    if d.center:
        problems.append("dset.center is true: frames need n_fft/2 samples of look-ahead")
    if d.normalize != "none":
        problems.append(
            f"dset.normalize is '{d.normalize}': the statistics of the whole input are unknown "
            "to a device before it ends"
        )
    if not d.fft:
        problems.append("dset.fft is false: the firmware computes STFT magnitudes")
    if m.n_mels:
        problems.append(f"model.n_mels is {m.n_mels}: the mel projection is not implemented")
    if m.input_norm not in ("none", "per-bin"):
        problems.append(f"model.input_norm '{m.input_norm}' is not folded into the model")
    if m.compression not in COMPRESSIONS:
        problems.append(f"model.compression '{m.compression}' ({', '.join(COMPRESSIONS)})")
    n = d.n_fft
    if n & (n - 1) or not 32 <= n <= 4096:
        problems.append(f"dset.n_fft {n}: CMSIS-DSP's real FFT takes powers of two, 32 to 4096")
    if d.hop_length > n:
        problems.append(f"dset.hop_length {d.hop_length} exceeds n_fft {n}")
    model = report.get("models", {}).get("int8")
    if model is None:
        problems.append("the export report has no int8 model (run `lstm-se export`)")
    else:
        for side in ("inputs", "outputs"):
            for t in model[side]:
                if t["dtype"] != "int8":
                    problems.append(f"{side[:-1]} '{t['name']}' is {t['dtype']}, not int8")
        ins, outs = _tensors(model, "inputs"), _tensors(model, "outputs")
        want_in, want_out = {"frame", *state_names(m.layers)}, {"mask", *state_names(m.layers)}
        if set(ins) != want_in or set(outs) != want_out:
            problems.append(
                f"the int8 model's tensors {sorted(ins)} -> {sorted(outs)} are not "
                f"{sorted(want_in)} -> {sorted(want_out)}"
            )
        else:
            bins = n // 2 + 1
            for t in (ins["frame"], outs["mask"]):
                if _elements(t) != bins:
                    problems.append(f"'{t['name']}' has {_elements(t)} values, not {bins} bins")
            for name in state_names(m.layers):
                if _elements(ins[name]) != _elements(outs[name]):
                    problems.append(f"state '{name}' input and output sizes differ")
    if problems:
        raise FirmwareError(
            "the firmware cannot run this model: " + "; ".join(problems) + " (docs/firmware.md)"
        )


def states(cfg: config_mod.Config, report: Mapping[str, Any]) -> list[StateTensor]:
    """The int8 model's state tensors in carry order."""
    model = report["models"]["int8"]
    ins, outs = _tensors(model, "inputs"), _tensors(model, "outputs")
    return [
        StateTensor(
            name,
            _elements(ins[name]),
            int(ins[name]["position"]),
            int(outs[name]["position"]),
            float(ins[name]["scale"]),
            int(ins[name]["zero_point"]),
            float(outs[name]["scale"]),
            int(outs[name]["zero_point"]),
        )
        for name in state_names(cfg.model.layers)
    ]


def inverse_envelope(n_fft: int, hop: int, win_length: int) -> np.ndarray:
    """1 / the steady-state overlap-add envelope of the hop leaving the accumulator (0 where
    it is 0), computed as `enhance.StreamingEnhancer` does."""
    w2 = features.window(n_fft, win_length) ** 2
    env = np.zeros(hop)
    for start in range(0, n_fft, hop):
        part = w2[start : start + hop]
        env[: len(part)] += part
    return np.where(env > 1e-10, 1.0 / np.where(env > 1e-10, env, 1.0), 0.0)


def _c_double(x: float) -> str:
    # repr is the shortest decimal that reads back as the same double: the C compiler then
    # gets exactly Python's value (and a float32 value stays exact when stored as float).
    r = repr(float(x))
    return r if any(c in r for c in ".en") else r + ".0"


def _c_float(x: float) -> str:
    return _c_double(float(np.float32(x))) + "f"


def _c_list(values: Sequence[Any], per_line: int = 4) -> str:
    items = [str(v) for v in values]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return "{ \\\n    " + ", \\\n    ".join(lines) + " \\\n  }"


def dsp_header(cfg: config_mod.Config, report: Mapping[str, Any]) -> str:
    """`lstm_se_dsp_config.h` for a run's config and its export report (export.json)."""
    from .model import _POWER_FLOOR  # the frontend's floor, where model.compress keeps it

    check_supported(cfg, report)
    d, m = cfg.dset, cfg.model
    n, hop = d.n_fft, d.hop_length
    win = d.win_length or n
    model = report["models"]["int8"]
    frame, mask = _tensors(model, "inputs")["frame"], _tensors(model, "outputs")["mask"]
    st = states(cfg, report)
    offsets = np.cumsum([0] + [s.size for s in st[:-1]]).tolist()
    window = features.window(n, win)
    inv_env = inverse_envelope(n, hop, win)
    arena = report.get("arena", {}).get("recommended_bytes")

    def arr(values: Sequence[Any]) -> str:
        return "{" + ", ".join(str(v) for v in values) + "}"

    def define(name: str, value: Any, why: str = "") -> str:
        return (f"/* {why} */\n" if why else "") + f"#define LSTM_SE_DSP_{name} {value}"

    lines = [
        "/* Generated by lstm_se.firmware.dsp_header (`lstm-se export`): do not edit. */",
        f"/* Signal path constants of run '{report.get('run', '?')}' for firmware/, int8 model",
        f" * sha256 {model['sha256']}. */",
        "#ifndef LSTM_SE_DSP_CONFIG_H_",
        "#define LSTM_SE_DSP_CONFIG_H_",
        "",
        define("MODEL_SHA256", f'"{model["sha256"]}"'),
        define("SAMPLE_RATE", d.sample_rate),
        define("N_FFT", n, "plain integer: lstm_se.c pastes it into the CMSIS init's name"),
        define("HOP", hop),
        define("WIN_LENGTH", win),
        define("N_BINS", n // 2 + 1),
        define("HISTORY", n - hop, "input delay of the output in samples (n_fft - hop)"),
        define(
            "FFT_SCALE",
            _c_double(1.0 / n if d.fft_normalize else 1.0),
            "|X| scale of the model input (dset.fft_normalize: 1 / n_fft)",
        ),
        define("COMPRESSION", COMPRESSIONS[m.compression], "0 none, 1 power (x^p), 2 log1p"),
        define("COMPRESSION_POWER", _c_float(m.compression_power)),
        define("POWER_FLOOR", _c_float(_POWER_FLOOR), "x^p of max(x, floor), as model.compress"),
        define("FRAME_INPUT_POSITION", frame["position"], "TFLite input index of the frame"),
        define("FRAME_SCALE", _c_double(frame["scale"])),
        define("FRAME_ZERO_POINT", f"({frame['zero_point']})"),
        define("MASK_OUTPUT_POSITION", mask["position"], "TFLite output index of the mask"),
        define("MASK_SCALE", _c_double(mask["scale"])),
        define("MASK_ZERO_POINT", f"({mask['zero_point']})"),
        define("N_STATES", len(st), "state tensors, carried by lstm_se_t in this order:"),
        define("STATE_NAMES", arr([f'"{s.name}"' for s in st])),
        define("STATE_TOTAL", sum(s.size for s in st), "int8 values of all states"),
        define("STATE_SIZES", arr([s.size for s in st])),
        define("STATE_OFFSETS", arr(offsets)),
        define(
            "STATE_INPUT_POSITIONS",
            arr([str(s.input_position) for s in st]),
            "TFLite tensor indices of each state's input and output",
        ),
        define("STATE_OUTPUT_POSITIONS", arr([str(s.output_position) for s in st])),
        define("STATE_INPUT_SCALES", arr([_c_double(s.input_scale) for s in st])),
        define("STATE_INPUT_ZERO_POINTS", arr([str(s.input_zero_point) for s in st])),
        define("STATE_OUTPUT_SCALES", arr([_c_double(s.output_scale) for s in st])),
        define("STATE_OUTPUT_ZERO_POINTS", arr([str(s.output_zero_point) for s in st])),
        define(
            "STATE_SAME_QUANTIZATION",
            arr([str(int(s.same_quantization)) for s in st]),
            "1: the output feeds the input as is; 0: requantized",
        ),
    ]
    if arena is not None:
        lines.append(
            define("TENSOR_ARENA_SIZE", f"{int(arena)}u", "TFLite Micro arena (export check)")
        )
    lines += [
        define(
            "WINDOW",
            _c_list([_c_double(v) for v in window]),
            f"periodic Hann of {win}, centred in n_fft (features.window): analysis and synthesis",
        ),
        define(
            "INVERSE_ENVELOPE",
            _c_list([_c_double(v) for v in inv_env]),
            "1 / overlap-add envelope of the hop that leaves the accumulator",
        ),
        "",
        "#endif /* LSTM_SE_DSP_CONFIG_H_ */",
        "",
    ]
    return "\n".join(lines)


def write_dsp_header(
    export_folder: str | os.PathLike[str],
    cfg: config_mod.Config | None = None,
    report: Mapping[str, Any] | None = None,
) -> Path:
    """Write `lstm_se_dsp_config.h` into a run's export folder; returns its path.

    `cfg` defaults to the run's (the folder's parent), `report` to the folder's export.json.
    """
    folder = Path(export_folder)
    if cfg is None:
        cfg = config_mod.load_run_config(folder.parent)
    if report is None:
        path = folder / "export.json"
        if not path.is_file():
            raise FirmwareError(f"{path} does not exist: run `lstm-se export` first")
        report = json.loads(path.read_text())
    out = folder / DSP_HEADER
    config_mod.atomic_write_text(out, dsp_header(cfg, report))
    return out


def export_dsp_header(
    export_folder: str | os.PathLike[str], cfg: config_mod.Config, report: Mapping[str, Any]
) -> Path | None:
    """`lstm-se export`'s call: the header, or a warning naming what the firmware lacks (the
    export itself does not depend on the firmware)."""
    try:
        path = write_dsp_header(export_folder, cfg, report)
    except FirmwareError as exc:
        # A header of an earlier export would describe another model: remove it.
        (Path(export_folder) / DSP_HEADER).unlink(missing_ok=True)
        log.warning("%s; no %s written", exc, DSP_HEADER)
        return None
    log.info("firmware constants: %s", path)
    return path


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
    elf: str | os.PathLike[str], samples: np.ndarray, workdir: str | os.PathLike[str]
) -> dict[str, Any]:
    """Run the qemu test program on float32 `samples` (a whole number of hops) under
    `-icount shift=0`; returns the output, the features and the instructions of each frame."""
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
        "features": np.fromfile(work / "lstm_se_features.i8", np.int8),
        "instructions": ticks.astype(np.float64) * per_tick,
        "instructions_per_tick": per_tick,
        "state_bytes": int(printed["state_bytes"]),
    }


# ---------------------------------------------------------------------------------------------
# host harness (ctypes)

ModelFn = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_int8),
    ctypes.POINTER(ctypes.c_int8),
    ctypes.POINTER(ctypes.c_int8),
    ctypes.POINTER(ctypes.c_int8),
)
"""lstm_se_model_fn as ctypes sees it."""


class HostFirmware:
    """A host build of the firmware (`build_host`), driven from Python.

    `stream(model)` makes one lstm_se_t for a Python model call `model(features, state_in)
    -> (mask, state_out)` (int8 arrays, the states concatenated in carry order);
    `process(st, hop)` runs one hop.
    """

    def __init__(
        self,
        lib_path: str | os.PathLike[str],
        cfg: config_mod.Config,
        report: Mapping[str, Any],
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
        model = report["models"]["int8"]
        self.bins = _elements(_tensors(model, "inputs")["frame"])
        self.total_state = sum(s.size for s in states(cfg, report))
        self._keep: list[Any] = []  # callbacks and buffers ctypes must not collect

    def new_state(self) -> ctypes.Array[ctypes.c_char]:
        """A zeroed buffer of sizeof(lstm_se_t), 8-byte aligned, not initialized."""
        buf = (ctypes.c_double * (self.lib.lstm_se_state_size() // 8 + 1))()
        self._keep.append(buf)
        return buf  # type: ignore[return-value]

    def stream(self, model: Any) -> Any:
        """An initialized lstm_se_t whose model call is the Python `model`."""
        bins, total_state = self.bins, self.total_state

        def call(_user: Any, feats: Any, state_in: Any, mask: Any, state_out: Any) -> int:
            try:
                f = np.ctypeslib.as_array(feats, (bins,)).copy()
                s = np.ctypeslib.as_array(state_in, (total_state,)).copy()
                m, so = model(f, s)
                np.ctypeslib.as_array(mask, (bins,))[:] = m
                np.ctypeslib.as_array(state_out, (total_state,))[:] = so
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
    """The model call answered by the exported int8 model in TFLite Micro's Python
    interpreter (as `lstm-se enhance --tflite` runs it), tensors by position from export.json.
    The state is the caller's (lstm_se_t's): each call sets every input."""

    def __init__(self, export_folder: str | os.PathLike[str], cfg: config_mod.Config) -> None:
        from tflite_micro.python.tflite_micro import runtime

        folder = Path(export_folder)
        self.report = json.loads((folder / "export.json").read_text())
        model = self.report["models"]["int8"]
        self.interp = runtime.Interpreter.from_bytes((folder / model["file"]).read_bytes())
        ins, outs = _tensors(model, "inputs"), _tensors(model, "outputs")
        self.frame, self.mask = ins["frame"], outs["mask"]
        self.states = states(cfg, self.report)
        self.total = sum(s.size for s in self.states)

    def __call__(self, feats: np.ndarray, state_in: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.interp.set_input(feats.reshape(self.frame["shape"]), self.frame["position"])
        off = 0
        for s in self.states:
            shape = _tensors(self.report["models"]["int8"], "inputs")[s.name]["shape"]
            self.interp.set_input(state_in[off : off + s.size].reshape(shape), s.input_position)
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
