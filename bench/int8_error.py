"""Where the int8 error of the exported model comes from, by tensor kind: a numpy simulation.

Its int8 arithmetic is simulated with fake quantization switched on per tensor kind. Prints a
table and writes JSON.

    python bench/int8_error.py --run RUN_DIR [--clips 8] [--json RUN_DIR/export/int8_error.json]

The one-frame model that `lstm-se export` converts (frontend left out, explicit LSTM state) is
re-computed here in float64 from the Keras weights, frame by frame, the clips side by side. Each
tensor the int8 TFLite model holds can be rounded to its int8 grid (fake quantization) or left
exact, one switch per kind of tensor:

    w   weights: per-channel symmetric int8 kernels (FULLY_CONNECTED), per-tensor int8 LSTM
        biases and batch-norm constants (ADD/MUL operands); Dense biases are int32 (exact here)
    x   input frame (the compressed magnitude)      xm  mel projection output (with mel)
    h   h state in                                   c   c state in
    z   gate pre-activations: the x and h FULLY_CONNECTED outputs, their sum, the sum + bias
    gi, gf, gg, go   gate outputs sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
    fc  f * c        ig  i * g        cn  new c (c + state out)        gt  tanh(new c)
    hn  new h (state out, input of the next layer)   bn  batch norm output (x * a, then + b)
    d   relu Dense output   zm  mask pre-activation   gm  mask (sigmoid)   mo  mask after the
        inverse mel (with mel)

Grids as TFLite's: asymmetric int8 over the calibrated [min, max] widened to hold 0, zero point
an integer (so 0 is exact); LOGISTIC outputs on the fixed grid 1/256 over [0, 1), TANH outputs
on 1/128 over [-1, 1). The calibration ranges come from a float pass of the simulation over the
same clips (the export calibrates on training segments instead, so its ranges differ a little;
the c ranges of the real model are printed beside the simulated ones when it exists).
Not modelled: the fixed-point rescaling inside the integer kernels and the LOGISTIC/TANH
approximations of TFLite Micro; the JSON's real TFLite Micro figure shows how much that misses.

Two more precisions, to weigh the ways out: int16 (TFLite's 16x8 grids: symmetric over the
calibrated range, zero point 0; LOGISTIC/TANH outputs on the fixed step 1/32768) for chosen
kinds, and int8 with one grid per unit (each column of a tensor over its own calibrated range,
as if every tensor were split by unit; fixed LOGISTIC/TANH grids unchanged).

Scenarios, each a mask SNR (dB) against the float Keras masks over all frames of the clips:
no quantization (the simulation's own check, above 100 dB), all int8, only one kind, all but
one kind of the cell-state path (c, fc, cn), all but the cell-state path, all but the
cell-state path and the gate outputs; all int8 with one grid per unit; int16 for the gate
pre-activations, gates and cell state with the rest int8 (the precisions of TFLite's fused
int8 LSTM kernel, which keeps a 16-bit cell state); and every activation int16 (the 16x8
model). Clips: `--clips` evenly spread over the run's sorted test split, picked as the
export's verification picks its clips. Each clip starts from zero state.
JSON (default `RUN_DIR/export/int8_error.json`): run, clips, frames, ranges, scenarios, the
real TFLite Micro int8 and 16x8 SNRs on the same clips when `RUN_DIR/export/model_int8.tflite`
and `model_16x8.tflite` exist (else null), and the tables.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from lstm_se import export_files, tflite_masker, verify

log = logging.getLogger("bench.int8_error")

#: Tensor kinds, in the order of the data flow, with what each covers.
KINDS: dict[str, str] = {
    "w": "weights and LSTM biases",
    "x": "input frame",
    "xm": "mel projection output",
    "h": "h state in",
    "c": "c state in",
    "z": "gate pre-activations",
    "gi": "input gate sigmoid(i)",
    "gf": "forget gate sigmoid(f)",
    "gg": "cell candidate tanh(g)",
    "go": "output gate sigmoid(o)",
    "fc": "f * c",
    "ig": "i * g",
    "cn": "new c",
    "gt": "tanh(new c)",
    "hn": "new h",
    "bn": "batch norm output",
    "d": "relu Dense output",
    "zm": "mask pre-activation",
    "gm": "mask sigmoid",
    "mo": "mask after the inverse mel",
}
#: The cell-state path: what "exact cell state" leaves in float.
CELL_KINDS = ("c", "fc", "cn")
GATE_KINDS = ("gi", "gf", "gg", "go")

LOGISTIC_GRID = (1 / 256, -128)
"""TFLite's int8 LOGISTIC output: scale 1/256, zero point -128, [0, 1)."""
TANH_GRID = (1 / 128, 0)
"""TFLite's int8 TANH output: scale 1/128, zero point 0, [-1, 1)."""
INT16_FIXED_GRID = (1 / 32768, 0)
"""TFLite's int16 LOGISTIC and TANH outputs: scale 1/32768, zero point 0."""
FUSED_INT16_KINDS = ("z", "gi", "gf", "gg", "go", "c", "fc", "ig", "cn", "gt")
"""What TFLite's fused int8 LSTM kernel holds in 16 bits: gate pre-activations, gates and the
cell state; its input, h and output stay int8."""

Ranges = dict[str, tuple[np.ndarray, np.ndarray]]
"""Tensor name -> per-column (min, max) over the calibration frames."""


@dataclass(frozen=True)
class Scenario:
    """Which tensors a scenario rounds, and to what."""

    int8: tuple[str, ...]
    """Kinds rounded to their int8 grid."""
    int16: tuple[str, ...] = ()
    """Kinds rounded to their int16 grid instead."""
    per_unit: bool = False
    """The int8 grids of calibrated tensors are per unit (per column), not per tensor."""


# ---------------------------------------------------------------------------------------------
# the network


@dataclass(frozen=True)
class Net:
    """The weights of the one-frame model, float64, Keras layouts (`x @ W + b`)."""

    lstm: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]
    """Per layer: kernel (in, 4u), recurrent kernel (u, 4u), bias (4u); gates i, f, g, o."""
    head: tuple[np.ndarray, np.ndarray]
    """The sigmoid Dense: 'mask', or 'mel_mask' with mel."""
    mel: np.ndarray | None = None
    """Fixed mel projection (bins, n_mels), no bias."""
    inverse_mel: np.ndarray | None = None
    """Fixed inverse mel (n_mels, bins), no bias: the 'mask' layer with mel."""
    bn: tuple[tuple[np.ndarray, np.ndarray], ...] | None = None
    """Per layer, inference batch norm as `h * a + b`."""
    dense: tuple[np.ndarray, np.ndarray] | None = None
    """The relu Dense before the mask."""

    @property
    def units(self) -> int:
        """Units per LSTM layer."""
        return self.lstm[0][1].shape[0]

    @property
    def kinds(self) -> list[str]:
        """The tensor kinds this network holds, in KINDS order."""
        absent = set()
        if self.mel is None:
            absent |= {"xm", "mo"}
        if self.bn is None:
            absent.add("bn")
        if self.dense is None:
            absent.add("d")
        return [k for k in KINDS if k not in absent]


def network(model: Any) -> Net:
    """The weights of a Keras model of `lstm_se.model.build_model` (or its streaming twin), by
    layer name: lstm_1..lstm_L, and mel, bn_i, dense, mel_mask, mask where present."""
    layers = {layer.name: layer for layer in model.layers}

    def weights(name: str) -> list[np.ndarray]:
        return [np.asarray(w, dtype=np.float64) for w in layers[name].get_weights()]

    lstm = []
    while f"lstm_{len(lstm) + 1}" in layers:
        layer = layers[f"lstm_{len(lstm) + 1}"]
        if not layer.use_bias:
            raise ValueError(f"{layer.name} has no bias: not a model of lstm_se.model")
        lstm.append(tuple(weights(layer.name)))
    if not lstm:
        raise ValueError(f"model {model.name} has no layer lstm_1: not a model of lstm_se.model")
    bn = None
    if "bn_1" in layers:
        bn = []
        for i in range(1, len(lstm) + 1):
            layer = layers[f"bn_{i}"]
            units = lstm[i - 1][1].shape[0]
            gamma = np.asarray(layer.gamma, np.float64) if layer.scale else np.ones(units)
            beta = np.asarray(layer.beta, np.float64) if layer.center else np.zeros(units)
            mean = np.asarray(layer.moving_mean, np.float64)
            var = np.asarray(layer.moving_variance, np.float64)
            a = gamma / np.sqrt(var + layer.epsilon)
            bn.append((a, beta - mean * a))
        bn = tuple(bn)
    dense = tuple(weights("dense")) if "dense" in layers else None
    if "mel" in layers:
        if "mel_mask" not in layers:
            raise ValueError("a model with a 'mel' layer needs a 'mel_mask' head")
        return Net(
            tuple(lstm),
            tuple(weights("mel_mask")),
            mel=weights("mel")[0],
            inverse_mel=weights("mask")[0],
            bn=bn,
            dense=dense,
        )
    return Net(tuple(lstm), tuple(weights("mask")), bn=bn, dense=dense)


def _per_channel(w: np.ndarray) -> np.ndarray:
    # TFLite int8 FULLY_CONNECTED weights: symmetric, one scale per output channel (the last
    # axis of a Keras kernel), [-127, 127].
    scale = np.abs(w).max(axis=0) / 127
    safe = np.where(scale > 0, scale, 1.0)
    return np.clip(np.rint(w / safe), -127, 127) * safe


def _per_tensor(v: np.ndarray) -> np.ndarray:
    # A constant operand of ADD/MUL: asymmetric int8 over its own range.
    grid = _affine(float(v.min()), float(v.max()))
    return v if grid is None else _fake(v, *grid)


def quantize_weights(net: Net) -> Net:
    """The weights as the int8 model holds them (kind 'w')."""

    def fc(wb: tuple[np.ndarray, ...] | None) -> Any:
        # The bias of a FULLY_CONNECTED is int32 at scale (input scale x weight scale): exact
        # to ~1e-9 relative, so it is left in float.
        return None if wb is None else (_per_channel(wb[0]), *wb[1:])

    return replace(
        net,
        lstm=tuple((_per_channel(k), _per_channel(r), _per_tensor(b)) for k, r, b in net.lstm),
        head=fc(net.head),
        mel=None if net.mel is None else _per_channel(net.mel),
        inverse_mel=None if net.inverse_mel is None else _per_channel(net.inverse_mel),
        bn=None if net.bn is None else tuple((_per_tensor(a), _per_tensor(b)) for a, b in net.bn),
        dense=fc(net.dense),
    )


# ---------------------------------------------------------------------------------------------
# fake quantization


def _affine(lo: float, hi: float) -> tuple[float, int] | None:
    """(scale, zero point) of TFLite's asymmetric int8 grid over [lo, hi] widened to hold 0;
    None for an all-zero range."""
    if max(hi, 0.0) <= min(lo, 0.0):
        return None
    scale, zero_point = _per_unit(np.asarray(lo, np.float64), np.asarray(hi, np.float64))
    return float(scale), int(zero_point)


def _fake(v: np.ndarray, scale: Any, zero_point: Any, dtype: str = "int8") -> np.ndarray:
    # mcu's (de)quantization: TFLite's rounding (halves away from zero) and saturation; scale
    # and zero point may be per-column arrays.
    return tflite_masker.dequantize(
        tflite_masker.quantize(v, scale, zero_point, dtype), scale, zero_point
    )


def _symmetric16(lo: float, hi: float) -> tuple[float, int] | None:
    """(scale, 0) of TFLite's 16x8 activation grid over [lo, hi]; None for all zero."""
    bound = max(abs(lo), abs(hi))
    return (bound / 32767, 0) if bound > 0 else None


def _per_unit(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`_affine` for each column: (scales, zero points), arrays."""
    lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)
    span = hi - lo
    scale = np.where(span > 0, span / 255, np.finfo(np.float64).tiny)
    return scale, np.clip(np.rint(-128 - lo / scale), -128, 127)


class _Quantizer:
    """Rounds a named tensor to its grid when its kind (the name up to ':') is on; records the
    per-column [min, max] of every tensor over the valid rows when `record` is given."""

    def __init__(
        self,
        kinds: Collection[str],
        ranges: Mapping[str, Sequence[Any]] | None,
        record: Any,
        int16: Collection[str] = (),
        per_unit: bool = False,
    ) -> None:
        self.int16 = frozenset(int16)
        self.kinds = frozenset(kinds) | self.int16
        self.ranges = ranges or {}
        self.record = record
        self.per_unit = per_unit
        self.rows: np.ndarray | slice = slice(None)
        self._grids: dict[str, Any] = {}

    def _range(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self.ranges:
            raise KeyError(f"no calibration range for tensor '{name}'")
        lo, hi = self.ranges[name]
        return np.asarray(lo, np.float64), np.asarray(hi, np.float64)

    def __call__(self, name: str, v: np.ndarray, grid: tuple[float, int] | None = None):
        if self.record is not None:
            part = v[self.rows]
            lo, hi = self.record.get(name, (math.inf, -math.inf))
            self.record[name] = (np.minimum(lo, part.min(axis=0)), np.maximum(hi, part.max(axis=0)))
        kind = name.split(":")[0]
        if kind not in self.kinds:
            return v
        wide = kind in self.int16
        if grid is not None:  # a fixed LOGISTIC/TANH output grid
            return _fake(v, *(INT16_FIXED_GRID if wide else grid), "int16" if wide else "int8")
        if name not in self._grids:
            lo, hi = self._range(name)
            if wide:
                self._grids[name] = _symmetric16(float(lo.min()), float(hi.max()))
            elif self.per_unit:
                self._grids[name] = _per_unit(lo, hi)
            else:
                self._grids[name] = _affine(float(lo.min()), float(hi.max()))
        found = self._grids[name]
        if found is None:
            return v
        return _fake(v, *found, "int16" if wide else "int8")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow for large |z|


def simulate(
    net: Net,
    clips: Sequence[np.ndarray],
    quantize: Collection[str] = (),
    ranges: Mapping[str, Sequence[Any]] | None = None,
    record: dict[str, Any] | None = None,
    int16: Collection[str] = (),
    per_unit: bool = False,
) -> list[np.ndarray]:
    """Masks `(frames, bins)` of each clip, run frame by frame from zero state.

    `clips`: the model input of each clip, `(frames, bins)`, already compressed (as the
    exported model, which leaves the frontend out, takes it: `lstm_se.model.compress`).
    `quantize`: the tensor kinds (KINDS) to round to int8; every kind but 'w' needs `ranges`
    (tensor name -> (min, max), scalars or per column, as `calibrate` gives). `int16`:
    activation kinds rounded to their int16 grid instead. `per_unit`: int8 grids per column.
    `record`: a dict that receives the per-column [min, max] of every tensor (names like
    'z:1:x', 'c:2', 'gm'), widened over calls.
    """
    if "w" in int16:
        raise ValueError("the weights are int8 in every model: 'w' cannot be int16")
    kinds = set(quantize) | set(int16)
    unknown = kinds - set(KINDS)
    if unknown:
        raise ValueError(f"unknown tensor kinds {sorted(unknown)} (known: {', '.join(KINDS)})")
    if "w" in kinds:
        net = quantize_weights(net)
    q = _Quantizer(quantize, ranges, record, int16, per_unit)
    lengths = [len(c) for c in clips]
    n, frames = len(clips), max(lengths, default=0)
    width = clips[0].shape[1] if clips else 0
    x = np.zeros((frames, n, width))
    for i, c in enumerate(clips):
        x[: len(c), i] = c
    u = net.units
    h = [np.zeros((n, u)) for _ in net.lstm]
    c = [np.zeros((n, u)) for _ in net.lstm]
    bins = net.head[0].shape[1] if net.inverse_mel is None else net.inverse_mel.shape[1]
    out = np.zeros((frames, n, bins))
    ends = np.asarray(lengths)
    for t in range(frames):
        q.rows = np.flatnonzero(ends > t)
        inp = q("x", x[t])
        if net.mel is not None:
            inp = q("xm", inp @ net.mel)
        for li, (kernel, recurrent, bias) in enumerate(net.lstm):
            tag = f":{li + 1}"
            hq, cq = q("h" + tag, h[li]), q("c" + tag, c[li])
            zx = q(f"z{tag}:x", inp @ kernel)
            zh = q(f"z{tag}:h", hq @ recurrent)
            z = q("z" + tag, q(f"z{tag}:s", zx + zh) + bias)
            i = q("gi" + tag, _sigmoid(z[:, :u]), LOGISTIC_GRID)
            f = q("gf" + tag, _sigmoid(z[:, u : 2 * u]), LOGISTIC_GRID)
            g = q("gg" + tag, np.tanh(z[:, 2 * u : 3 * u]), TANH_GRID)
            o = q("go" + tag, _sigmoid(z[:, 3 * u :]), LOGISTIC_GRID)
            cn = q("cn" + tag, q("fc" + tag, f * cq) + q("ig" + tag, i * g))
            hn = q("hn" + tag, o * q("gt" + tag, np.tanh(cn), TANH_GRID))
            h[li], c[li] = hn, cn
            inp = hn
            if net.bn is not None:
                a, b = net.bn[li]
                inp = q("bn" + tag, q(f"bn{tag}:mul", inp * a) + b)
        if net.dense is not None:
            inp = q("d", np.maximum(inp @ net.dense[0] + net.dense[1], 0.0))
        mask = q("gm", _sigmoid(q("zm", inp @ net.head[0] + net.head[1])), LOGISTIC_GRID)
        if net.inverse_mel is not None:
            mask = q("mo", mask @ net.inverse_mel)
        out[t] = mask
    return [out[:length, i] for i, length in enumerate(lengths)]


def calibrate(net: Net, clips: Sequence[np.ndarray]) -> Ranges:
    """Per-column [min, max] of every tensor of the float simulation over the clips."""
    record: Ranges = {}
    simulate(net, clips, record=record)
    return record


# ---------------------------------------------------------------------------------------------
# scenarios


FLOAT, ALL_INT8, PER_UNIT = "float (no quantization)", "all int8", "all int8, one grid per unit"
FUSED = "int16 gates and cell state, rest int8 (as the fused int8 LSTM kernel)"
ALL_16X8 = "all activations int16 (16x8)"


def scenarios(kinds: Sequence[str]) -> dict[str, Scenario]:
    """Scenario name -> what it rounds, for a network holding `kinds`."""
    every = tuple(kinds)

    def but(*left: str) -> tuple[str, ...]:
        return tuple(x for x in every if x not in left)

    out = {FLOAT: Scenario(()), ALL_INT8: Scenario(every)}
    out |= {f"only {k}": Scenario((k,)) for k in every}
    out |= {f"all but {k}": Scenario(but(k)) for k in CELL_KINDS}
    out["exact cell state (c, f*c, c_new float)"] = Scenario(but(*CELL_KINDS))
    out["exact cell state and gates"] = Scenario(but(*CELL_KINDS, *GATE_KINDS))
    out[PER_UNIT] = Scenario(every, per_unit=True)
    out[FUSED] = Scenario(every, int16=tuple(k for k in every if k in FUSED_INT16_KINDS))
    out[ALL_16X8] = Scenario(every, int16=but("w"))
    return out


def _describe(s: Scenario, every: Sequence[str]) -> str:
    """What a scenario rounds, in words."""
    if s.int16:
        wide = "all activations" if len(s.int16) == len(every) - 1 else " ".join(s.int16)
        return f"{wide} int16, the rest int8"
    kinds = s.int8
    if not kinds:
        return "none"
    if len(kinds) == len(every):
        return "all, per unit" if s.per_unit else "all"
    if len(kinds) == 1:
        return f"{kinds[0]} ({KINDS[kinds[0]]})"
    return "all but " + ", ".join(k for k in every if k not in kinds)


def _snr(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None


def _tflite_c_ranges(masker: Any) -> dict[str, tuple[float, float]]:
    """The real range of each c state input of an int8 model's `tflite_masker.TFLiteMasker`."""
    out = {}
    for t in masker.state_in:
        if t.name.startswith("c_") and t.quantized:
            out[t.name] = ((-128 - t.zero_point) * t.scale, (127 - t.zero_point) * t.scale)
    return out


def _load(run: Path, clips: int) -> tuple[Any, Any, list[np.ndarray]]:
    from lstm_se import LstmSeError, audio, runs

    try:
        cfg, trained = runs.load(run)
    except (FileNotFoundError, LstmSeError) as exc:  # names the folder and what it lacks
        raise SystemExit(f"error: {exc}") from None
    pairs = verify.testset_pairs(cfg)
    if not pairs:
        raise SystemExit(
            f"error: no test set under '{cfg.dset.wav}' (noisy_testset_wav/clean_testset_wav), "
            f"the corpus of {run / 'config.yaml'}"
        )
    # The picks `lstm-se export` verifies on: evenly spread over the sorted test set.
    picked = verify.evenly_spread(pairs, clips)
    log.info("%d of %d test clips under %s", len(picked), len(pairs), cfg.dset.wav)
    mags = [
        verify.clip_magnitudes(audio.read_mono(noisy, cfg.dset.sample_rate), cfg)
        for noisy, _clean in picked
    ]
    return cfg, trained, mags


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, help="a trained run folder")
    parser.add_argument("--clips", type=int, default=8, help="test clips (evenly spread)")
    parser.add_argument(
        "--json", default=None, help="output JSON (default RUN/export/int8_error.json)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.clips < 1:
        parser.error("--clips must be at least 1")

    from lstm_se import config as config_mod
    from lstm_se import model as model_mod

    run = Path(args.run)
    cfg, trained, mags = _load(run, args.clips)
    ref = np.concatenate([verify.float_masks(trained, m) for m in mags])
    net = network(trained)
    feats = [model_mod.compress(m, cfg).astype(np.float64) for m in mags]
    ranges = calibrate(net, feats)
    log.info(
        "%d x %d LSTM, %d clips, %d frames, kinds: %s",
        len(net.lstm),
        net.units,
        len(mags),
        len(ref),
        " ".join(net.kinds),
    )

    results: dict[str, float | None] = {}
    lines = ["| scenario | quantized | mask SNR (dB) |", "|---|---|---:|"]
    for name, scenario in scenarios(net.kinds).items():
        start = time.perf_counter()
        est = np.concatenate(
            simulate(
                net, feats, scenario.int8, ranges, int16=scenario.int16, per_unit=scenario.per_unit
            )
        )
        snr = verify.mask_snr_db(ref, est)
        results[name] = _snr(snr)
        log.info("%-40s %7.2f dB (%.1f s)", name, snr, time.perf_counter() - start)
        lines.append(f"| {name} | {_describe(scenario, net.kinds)} | {snr:.2f} |")

    real: dict[str, float | None] = {"int8": None, "16x8": None}
    real_c: dict[str, tuple[float, float]] = {}
    quantized = {"int8": "all", "16x8": "all activations int16, the rest int8"}
    for kind, file in tflite_masker.EXPORTED_MODELS.items():
        try:
            masker = tflite_masker.exported_masker(run, cfg, "tflm", kind)
        except export_files.McuError as exc:
            log.info("the real %s model is not measured: %s", kind, exc)
            continue
        est = np.concatenate([verify.run_masker(masker, m) for m in mags])
        real[kind] = _snr(verify.mask_snr_db(ref, est))
        if kind == "int8":
            real_c = _tflite_c_ranges(masker)
        shown = "identical" if real[kind] is None else f"{real[kind]:.2f}"
        lines.append(f"| real {kind} model (TFLite Micro, {file}) | {quantized[kind]} | {shown} |")
    table = "\n".join(lines)
    print(table)

    c_lines = ["| c state in | simulation range (these clips) | int8 model range (export) |"]
    c_lines.append("|---|---|---|")
    for li in range(1, len(net.lstm) + 1):
        lo, hi = (float(np.min(ranges[f"c:{li}"][0])), float(np.max(ranges[f"c:{li}"][1])))
        model_range = real_c.get(f"c_{li}")
        shown = f"[{model_range[0]:.3f}, {model_range[1]:.3f}]" if model_range else "-"
        c_lines.append(f"| c_{li} | [{lo:.3f}, {hi:.3f}] | {shown} |")
    print("\n".join(c_lines))

    report: dict[str, Any] = {
        "run": str(run),
        "clips": len(mags),
        "frames": len(ref),
        "layers": len(net.lstm),
        "units": net.units,
        "kinds": {k: KINDS[k] for k in net.kinds},
        "ranges": {
            k: [float(np.min(lo)), float(np.max(hi))] for k, (lo, hi) in sorted(ranges.items())
        },
        "scenarios": results,
        "real_tflm_int8_snr": real["int8"],
        "real_tflm_16x8_snr": real["16x8"],
        "real_tflm_c_ranges": {k: list(v) for k, v in real_c.items()} or None,
        "table": table,
        "c_table": "\n".join(c_lines),
        "note": "mask SNR (dB) against the float Keras model over all frames; null: identical",
    }
    out = Path(args.json) if args.json else export_files.export_dir(run) / "int8_error.json"
    config_mod.atomic_write_text(out, json.dumps(report, indent=2) + "\n")
    log.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
