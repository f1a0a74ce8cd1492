"""The firmware's generated constants: `lstm_se_dsp_config.h` for a run's device model.

`firmware/` (portable C99) runs the streaming path of `lstm-se enhance --streaming --tflite`
around the exported device model (`export.json`'s `device`: int8 or 16x8), one hop per call.
Every number it needs (window, hop, FFT scale, the frontend, the tensor width, the frame and
mask quantization, the state tensors, the overlap-add envelope) comes from
`lstm_se_dsp_config.h`, which `dsp_header` writes from a run's config and its export report
(`export/export.json`): the firmware never copies a number by hand. `lstm-se export` writes it;
`python -m lstm_se.firmware header --run DIR` writes it again.

What the firmware does not implement is refused here, at generation time, with the reason:
mel input, utterance normalization (`dset.normalize`), centred frames, float models.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import LstmSeError, features
from . import config as config_mod
from .export_files import report_key

log = logging.getLogger(__name__)

DSP_HEADER = "lstm_se_dsp_config.h"
"""The generated header's name: `firmware/include/lstm_se.h` includes it by this name."""

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


TENSOR_BITS = {"int8": 8, "int16": 16}
"""Integer tensor types the firmware carries (int8 model: int8; 16x8 model: int16)."""


def tensors(model: Mapping[str, Any], side: str) -> dict[str, Mapping[str, Any]]:
    """An export.json model's 'inputs' or 'outputs' by tensor name."""
    return {t["name"]: t for t in model[side]}


def elements(t: Mapping[str, Any]) -> int:
    """Values in a tensor of export.json."""
    return int(np.prod(t["shape"]))


def device_kind(report: Mapping[str, Any], kind: str | None = None) -> str:
    """`kind` when given, else the kind of the export's device model ('int8' or '16x8';
    'int8' for an export made before the device choice)."""
    return kind or report.get("device", {}).get("kind", "int8")


def device_model(report: Mapping[str, Any], kind: str | None = None) -> Mapping[str, Any]:
    """export.json's description of the device model, or of the candidate `kind` (its
    tensors, quantization, sha256)."""
    kind = device_kind(report, kind)
    model = report.get("models", {}).get(kind)
    if model is None:
        raise FirmwareError(f"the export report has no {kind} model (run `lstm-se export`)")
    return model


def q_dtype(report: Mapping[str, Any], kind: str | None = None) -> np.dtype:
    """numpy dtype of the device model's (or candidate `kind`'s) tensors as the firmware
    carries them."""
    return np.dtype(device_model(report, kind)["inputs"][0]["dtype"])


def check_supported(
    cfg: config_mod.Config, report: Mapping[str, Any], kind: str | None = None
) -> None:
    """Raise FirmwareError naming every setting of `cfg`/the export the firmware lacks (for
    the device model, or the candidate `kind`)."""
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
    kind = device_kind(report, kind)
    model = report.get("models", {}).get(kind)
    if model is None:
        problems.append(f"the export report has no {kind} model (run `lstm-se export`)")
    else:
        dtypes = {t["dtype"] for side in ("inputs", "outputs") for t in model[side]}
        if len(dtypes) != 1 or not dtypes <= set(TENSOR_BITS):
            problems.append(
                f"the {kind} model's tensors are {', '.join(sorted(dtypes))}: the firmware "
                f"carries one integer type, {' or '.join(TENSOR_BITS)}"
            )
        ins, outs = tensors(model, "inputs"), tensors(model, "outputs")
        want_in, want_out = {"frame", *state_names(m.layers)}, {"mask", *state_names(m.layers)}
        if set(ins) != want_in or set(outs) != want_out:
            problems.append(
                f"the {kind} model's tensors {sorted(ins)} -> {sorted(outs)} are not "
                f"{sorted(want_in)} -> {sorted(want_out)}"
            )
        else:
            bins = n // 2 + 1
            for t in (ins["frame"], outs["mask"]):
                if elements(t) != bins:
                    problems.append(f"'{t['name']}' has {elements(t)} values, not {bins} bins")
            for name in state_names(m.layers):
                if elements(ins[name]) != elements(outs[name]):
                    problems.append(f"state '{name}' input and output sizes differ")
    if problems:
        raise FirmwareError(
            "the firmware cannot run this model: " + "; ".join(problems) + " (docs/firmware.md)"
        )


def states(
    cfg: config_mod.Config, report: Mapping[str, Any], kind: str | None = None
) -> list[StateTensor]:
    """The device model's (or candidate `kind`'s) state tensors in carry order."""
    model = device_model(report, kind)
    ins, outs = tensors(model, "inputs"), tensors(model, "outputs")
    return [
        StateTensor(
            name,
            elements(ins[name]),
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


def dsp_header(cfg: config_mod.Config, report: Mapping[str, Any], kind: str | None = None) -> str:
    """`lstm_se_dsp_config.h` for a run's config and its export report (export.json): for
    the device model, or for the candidate `kind` ('int8', '16x8')."""
    from .model import _POWER_FLOOR  # the frontend's floor, where model.compress keeps it

    check_supported(cfg, report, kind)
    d, m = cfg.dset, cfg.model
    n, hop = d.n_fft, d.hop_length
    win = d.win_length or n
    kind = device_kind(report, kind)
    model = device_model(report, kind)
    frame, mask = tensors(model, "inputs")["frame"], tensors(model, "outputs")["mask"]
    st = states(cfg, report, kind)
    offsets = np.cumsum([0] + [s.size for s in st[:-1]]).tolist()
    window = features.window(n, win)
    inv_env = inverse_envelope(n, hop, win)
    arena = report.get(report_key("arena", kind), {}).get("recommended_bytes")

    def arr(values: Sequence[Any]) -> str:
        return "{" + ", ".join(str(v) for v in values) + "}"

    def define(name: str, value: Any, why: str = "") -> str:
        return (f"/* {why} */\n" if why else "") + f"#define LSTM_SE_DSP_{name} {value}"

    lines = [
        "/* Generated by lstm_se.firmware_header.dsp_header (`lstm-se export`): do not edit. */",
        f"/* Signal path constants of run '{report.get('run', '?')}' for firmware/, device model",
        f" * {kind} ({model['file']}), sha256 {model['sha256']}. */",
        "#ifndef LSTM_SE_DSP_CONFIG_H_",
        "#define LSTM_SE_DSP_CONFIG_H_",
        "",
        define("MODEL_SHA256", f'"{model["sha256"]}"'),
        define(
            "TENSOR_BITS",
            TENSOR_BITS[frame["dtype"]],
            f"{frame['dtype']} frame, mask and state tensors ({kind} model)",
        ),
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
        define("STATE_TOTAL", sum(s.size for s in st), "values of all states"),
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
