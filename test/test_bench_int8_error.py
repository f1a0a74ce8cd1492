"""bench/int8_error.py: the numpy simulation of the one-frame model against Keras (float) and
TFLite Micro (int8), the per-kind fake quantization, and the script on a tiny run."""

from __future__ import annotations

import json
import math
import re

import keras
import numpy as np
import pytest
from runs import load_bench, make_run

from lstm_se import config, convert, tflite_masker, verify
from lstm_se import model as M

BINS = 257


bench = load_bench("int8_error")


def _cfg(*overrides: str) -> config.Config:
    return config.from_dict({}, ["model.units=16", *overrides])


def _model(cfg: config.Config, seed: int = 3) -> keras.Model:
    """A random model; batch-norm statistics away from their identity start."""
    keras.utils.set_random_seed(seed)
    model = M.build_model(cfg)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = (w.shape for w in layer.get_weights())
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma),
                    rng.normal(0, 0.3, beta),
                    rng.normal(0, 0.1, mean),
                    rng.uniform(0.5, 1.5, var),
                ]
            )
    return model


def _mags(frames: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # A slow envelope, so that consecutive frames are related as in speech.
    env = 0.05 * (1.2 + np.sin(np.linspace(0, 6, frames)))[:, None]
    return np.abs(rng.normal(0, 1, (frames, BINS)) * env).astype(np.float32)


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["model.layers=1", "model.compression=none"],
        [
            "model.layers=3",
            "model.n_mels=24",
            "model.batch_norm=true",
            "model.dense_units=12",
            "model.compression=log1p",
        ],
    ],
    ids=["plain", "one_layer", "mel_bn_dense"],
)
def test_float_simulation_equals_keras(overrides):
    cfg = _cfg(*overrides)
    model = _model(cfg)
    clips = [_mags(60, 1), _mags(35, 2)]  # unequal lengths: padding must not leak
    sim = bench.simulate(bench.network(model), [M.compress(m, cfg) for m in clips])
    for mags, est in zip(clips, sim, strict=True):
        ref = verify.float_masks(model, mags)
        assert est.shape == ref.shape
        np.testing.assert_allclose(est, ref, atol=1e-5)


def test_every_kind_changes_the_mask_and_all_int8_is_finite():
    cfg = _cfg("model.n_mels=24", "model.batch_norm=true", "model.dense_units=12")
    net = bench.network(_model(cfg))
    assert net.kinds == list(bench.KINDS)
    feats = [M.compress(_mags(40), cfg)]
    ranges = bench.calibrate(net, feats)
    assert {"c:1", "c:2", "z:1:x", "z:2", "gm", "mo", "bn:1"} <= set(ranges)
    exact = bench.simulate(net, feats)[0]
    for kind in net.kinds:
        est = bench.simulate(net, feats, [kind], ranges)[0]
        assert not np.array_equal(est, exact), kind
    snr = verify.mask_snr_db(exact, bench.simulate(net, feats, net.kinds, ranges)[0])
    assert math.isfinite(snr) and snr > 0
    with pytest.raises(ValueError, match="unknown tensor kinds"):
        bench.simulate(net, feats, ["q"], ranges)


def test_fixed_and_calibrated_grids_are_tflites():
    # Zero exactly representable; min and max on the grid's ends.
    scale, zp = bench._affine(-1.0, 3.0)
    assert scale == pytest.approx(4 / 255) and zp == round(-128 + 1 / scale)
    assert bench._fake(np.array([0.0]), scale, zp)[0] == 0.0
    assert bench._affine(0.0, 0.0) is None
    sig = bench._fake(np.array([0.0, 0.5, 1.0]), *bench.LOGISTIC_GRID)
    np.testing.assert_allclose(sig, [0.0, 0.5, 255 / 256])


def test_int16_and_per_unit_grids():
    assert bench._symmetric16(-2.0, 1.0) == (2 / 32767, 0)
    assert bench._symmetric16(0.0, 0.0) is None
    scale, zp = bench._per_unit(np.array([-1.0, 0.0, 0.5]), np.array([3.0, 0.0, 2.0]))
    assert scale[0] == pytest.approx(4 / 255) and zp[0] == bench._affine(-1.0, 3.0)[1]
    assert scale[2] == pytest.approx(2 / 255) and zp[2] == -128  # widened to hold 0
    # A column is rounded on its own grid: the small column keeps its precision.
    q = bench._Quantizer(["z"], {"z:1": ([-1.0, -0.01], [1.0, 0.01])}, None, per_unit=True)
    out = q("z:1", np.array([[0.5, 0.003]]))
    assert abs(out[0, 1] - 0.003) < 0.01 / 255
    tensor = bench._Quantizer(["z"], {"z:1": ([-1.0, -0.01], [1.0, 0.01])}, None)
    assert tensor("z:1", np.array([[0.5, 0.003]]))[0, 1] == 0.0  # below half a step of 2/255
    wide = bench._Quantizer([], {}, None, int16=["gf"])
    np.testing.assert_allclose(wide("gf:1", np.array([0.3]), bench.LOGISTIC_GRID), 0.3, atol=2e-5)


@pytest.mark.parametrize(("mode", "scenario"), [("int8", bench.ALL_INT8), ("16x8", bench.ALL_16X8)])
def test_simulation_explains_the_tflite_micro_model(mode, scenario):
    """Calibrated on the frames the converter calibrates on, the simulation of a model's
    precisions loses as much against float as the real model in TFLite Micro does; int16 gates
    and cell state (the fused kernel's) land between all int8 and all int16."""
    cfg = _cfg()
    model = _model(cfg)
    for layer in model.layers:  # larger weights: masks that vary (std ~0.1) as trained ones do
        if layer.weights and layer.trainable:
            layer.set_weights([3 * w for w in layer.get_weights()])
    stream = M.build_streaming_model(cfg, model, frontend=False)
    segs = [_mags(50, s) for s in (4, 5)]
    converted = convert.convert(stream, mode, convert.representative_samples(cfg, stream, segs))
    net = bench.network(model)
    ranges = bench.calibrate(net, [M.compress(m, cfg) for m in segs])
    clips = [_mags(50, 4), _mags(50, 9)]
    feats = [M.compress(m, cfg) for m in clips]
    ref = np.concatenate([verify.float_masks(model, m) for m in clips])
    every = bench.scenarios(net.kinds)

    def sim_snr(name: str) -> float:
        s = every[name]
        est = bench.simulate(net, feats, s.int8, ranges, int16=s.int16, per_unit=s.per_unit)
        return verify.mask_snr_db(ref, np.concatenate(est))

    masker = tflite_masker.TFLiteMasker(converted, cfg, "tflm")
    real = verify.mask_snr_db(ref, np.concatenate([verify.run_masker(masker, m) for m in clips]))
    assert real < (50 if mode == "int8" else 70)  # an error worth explaining
    assert sim_snr(scenario) == pytest.approx(real, abs=2.0 if mode == "int8" else 3.0)
    if mode == "16x8":
        assert sim_snr(bench.ALL_INT8) < sim_snr(bench.FUSED) < sim_snr(bench.ALL_16X8) + 3.0
        with pytest.raises(ValueError, match="'w' cannot be int16"):
            bench.simulate(net, feats, (), ranges, int16=["w"])


def test_script_on_a_tiny_run(tiny_corpus, tmp_path, capsys):
    cfg = config.from_dict({"dset": {"wav": str(tiny_corpus)}}, ["model.units=16"])
    run = make_run(tmp_path, cfg, _model(cfg))
    out = tmp_path / "out" / "int8_error.json"
    assert bench.main(["--run", str(run), "--clips", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["clips"] == 2 and report["frames"] > 0
    assert report["real_tflm_int8_snr"] is None  # not exported
    scenarios = report["scenarios"]
    assert scenarios["float (no quantization)"] > 100
    assert 0 < scenarios["all int8"] < scenarios["float (no quantization)"]
    assert {"only c", "only gf", "all but c", "exact cell state and gates"} <= set(scenarios)
    assert {bench.PER_UNIT, bench.FUSED, bench.ALL_16X8} <= set(scenarios)
    assert report["real_tflm_16x8_snr"] is None
    assert set(report["ranges"]) >= {"c:1", "c:2", "x", "gm"}
    assert "| all int8 |" in capsys.readouterr().out
    assert not list(out.parent.glob(".*.tmp"))


def test_script_refuses_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(SystemExit, match=re.escape(str(tmp_path / "nothing"))):
        bench.main(["--run", str(tmp_path / "nothing")])
    (tmp_path / "config.yaml").write_text("{}\n")
    with pytest.raises(SystemExit, match=r"model\.keras"):
        bench.main(["--run", str(tmp_path)])
