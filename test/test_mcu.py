"""mcu.py: TFLite Micro / LiteRT maskers, state carrying, arena search, MACs, the budget."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from lstm_se import config, export, mcu
from lstm_se import model as M

UNITS = 16
BINS = 257


def _cfg(*overrides: str) -> config.Config:
    return config.from_dict({}, [f"model.units={UNITS}", *overrides])


@pytest.fixture(scope="module")
def converted():
    """A small random-weight model converted in this process: (cfg, keras model, int8, float)."""
    cfg = _cfg()
    keras.utils.set_random_seed(3)
    trained = M.build_model(cfg)
    stream = M.build_streaming_model(cfg, trained, frontend=False)
    rng = np.random.default_rng(0)
    segs = [np.abs(rng.normal(0, 0.05, (40, BINS))).astype(np.float32) for _ in range(4)]
    samples = export.representative_samples(cfg, stream, segs)
    return cfg, trained, export.convert(stream, "int8", samples), export.convert(stream, "float")


def _mags(frames: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Magnitudes with a slow envelope, so that consecutive frames are related as in speech.
    env = 0.05 * (1.2 + np.sin(np.linspace(0, 6, frames)))[:, None]
    return np.abs(rng.normal(0, 1, (frames, BINS)) * env).astype(np.float32)


def test_describe_names_inputs_and_outputs(converted):
    cfg, _, int8, _ = converted
    info = export.describe(int8, export.output_names(cfg))
    assert sorted(t.name for t in info.inputs) == sorted(export.input_names(cfg))
    assert sorted(t.name for t in info.outputs) == sorted(export.output_names(cfg))
    assert sorted(t.position for t in info.inputs) == list(range(len(info.inputs)))
    assert info.state_names == ["h_1", "c_1", "h_2", "c_2"]
    assert {t.dtype for t in info.inputs + info.outputs} == {"int8"}
    assert info.input("frame").shape == (1, 1, BINS)
    assert info.input("h_2").shape == (1, UNITS)
    # A sigmoid output is quantized to [0, 1) with the fixed 1/256 scale.
    mask = info.output("mask")
    assert mask.scale == pytest.approx(1 / 256) and mask.zero_point == -128
    # The positions are the ones TFLite Micro uses.
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(int8)
    for t in info.inputs:
        details = interp.get_input_details(t.position)
        assert tuple(details["shape"]) == t.shape
        assert float(details["quantization_parameters"]["scales"][0]) == pytest.approx(t.scale)


def test_macs_counted_from_the_ops_match_the_lstm_formula(converted):
    _, _, int8, _ = converted
    ops = mcu.count_ops(export.describe(int8))
    u = UNITS
    # Each LSTM layer: 4 gates x units x (inputs + units); the mask Dense: units x bins.
    expected = 4 * u * (BINS + u) + 4 * u * (u + u) + u * BINS
    assert ops.macs == expected == ops.by_op["FULLY_CONNECTED"]
    assert ops.elementwise > 0 and set(ops.by_op) >= {"ADD", "MUL", "LOGISTIC", "TANH"}


def test_tflm_and_litert_maskers_agree_carry_state_and_reset(converted):
    cfg, _, int8, _ = converted
    mags = _mags(30)
    tflm = mcu.TFLiteMasker(int8, cfg, "tflm")
    litert = mcu.TFLiteMasker(int8, cfg, "litert")
    a = mcu.run_masker(tflm, mags)
    b = mcu.run_masker(litert, mags)
    assert a.shape == (30, BINS) and a.dtype == np.float32
    assert np.all((a >= 0) & (a <= 1))
    assert mcu.mask_snr_db(a, b) > 30
    # State is carried: the same frame twice in a row gives two different masks...
    tflm.reset()
    first, second = tflm(mags[0]), tflm(mags[0])
    assert not np.array_equal(first, second)
    # ...and reset() starts over exactly.
    assert np.array_equal(mcu.run_masker(tflm, mags), a)


def test_float_tflite_masker_matches_keras(converted):
    cfg, trained, _, flat = converted
    mags = _mags(25, seed=4)
    ref = mcu.float_masks(trained, mags)
    est = mcu.run_masker(mcu.TFLiteMasker(flat, cfg, "litert"), mags)
    assert mcu.mask_snr_db(ref, est) > 80


def test_int8_tracks_float_keras(converted):
    cfg, trained, int8, _ = converted
    mags = _mags(60, seed=5)
    ref = mcu.float_masks(trained, mags)
    est = mcu.run_masker(mcu.TFLiteMasker(int8, cfg, "tflm"), mags)
    # Random weights: masks near 0.5, so this only shows the int8 path is wired right;
    # the trained-model check (>= 40 dB) is in test_export.
    assert mcu.mask_snr_db(ref, est) > 30


def _tensor(scale: float, zero_point: int, name: str = "c_1") -> export.TensorInfo:
    return export.TensorInfo(name, 0, 0, (1, 4), "int8", scale, zero_point)


def test_state_is_requantized_when_output_and_input_scales_differ():
    out_t, in_t = _tensor(0.2, 3), _tensor(0.1, -2)
    q = np.array([[-128, -10, 0, 60]], np.int8)
    got = mcu.TFLiteMasker._carry(out_t, in_t, q)
    real = 0.2 * (q.astype(np.float64) - 3)
    want = np.clip(mcu._round_half_away(real / 0.1) - 2, -128, 127).astype(np.int8)
    assert np.array_equal(got, want) and got.dtype == np.int8
    assert got[0, 0] == -128  # -26.2 saturates
    same = _tensor(0.2, 3)
    assert mcu.TFLiteMasker._carry(out_t, same, q) is q


def test_quantize_rounds_half_away_from_zero_and_saturates():
    q = mcu.quantize(np.array([0.5, -0.5, 1.5, -1.5, 1e9, -1e9]), 1.0, 0, "int8")
    assert q.tolist() == [1, -1, 2, -2, 127, -128]
    assert mcu.quantize(np.array([2.0]), 0.5, 10, "int16").tolist() == [14]
    x = np.array([0.123, -0.5])
    assert np.allclose(mcu.dequantize(mcu.quantize(x, 0.01, 3, "int8"), 0.01, 3), x, atol=0.005)


@pytest.fixture(scope="module")
def arena(converted) -> mcu.ArenaResult:
    return mcu.measure_arena(converted[2])


def test_arena_search_finds_the_smallest_working_arena(converted, arena, tmp_path):
    _, _, int8, _ = converted
    path = tmp_path / "m.tflite"
    path.write_bytes(int8)
    assert mcu._probe(path, arena.min_bytes, 60)[0] == "ok"
    assert mcu._probe(path, arena.min_bytes - arena.granularity, 60)[0] != "ok"
    assert arena.recommended_bytes >= arena.min_bytes * mcu.ARENA_MARGIN
    assert arena.recommended_bytes % 1024 == 0
    # A far too small arena fails or crashes the child, never this process.
    assert mcu._probe(path, 64, 60)[0] in ("fail", "crash")


def _ops(macs: int, elementwise: int = 5000) -> mcu.OpCount:
    return mcu.OpCount(macs, elementwise, {"FULLY_CONNECTED": macs})


def test_budget_passes_a_small_model_and_fails_an_oversized_one():
    stft = sum(mcu.stft_buffer_bytes(512, 256).values())
    small = mcu.budget(400_000, 36 * 1024, 512, stft, _ops(360_000), 8)
    assert small.passed and all(r.margin > 0 for r in small.rows)
    assert "FAIL" not in small.table()
    big = mcu.budget(1_200_000, 48 * 1024, 1024, stft, _ops(1_100_000), 8)
    assert not big.passed
    failed = {r.name for r in big.rows if not r.passed}
    assert failed == {"flash", "model size"}
    flash = next(r for r in big.rows if r.name == "flash")
    assert flash.margin == _flash_margin(1_200_000, 8) < 0
    assert "FAIL" in big.table()
    assert big.to_dict()["rows"][0]["margin_pct"] < 0
    slow = mcu.budget(100_000, 20_000, 256, stft, _ops(4_000_000), 8)
    assert [r.name for r in slow.rows if not r.passed] == ["cycles/frame"]
    # 16 ms at 216 MHz
    cycles = next(r for r in slow.rows if r.name == "cycles/frame")
    assert cycles.limit == pytest.approx(3_456_000)
    ram = mcu.budget(100_000, 400 * 1024, 256, stft, _ops(1000), 8)
    assert [r.name for r in ram.rows if not r.passed] == ["SRAM"]
    # The 16x8 kernel's lower throughput costs cycles, and the report names its source.
    int16 = mcu.budget(400_000, 36 * 1024, 512, stft, _ops(360_000), 8, 0.016, "int16")
    assert int16.cycles_per_frame - small.cycles_per_frame == pytest.approx(360_000 * 0.25)
    assert "s16" in int16.to_dict()["assumptions"]["macs_per_cycle_source"]
    assert "s8" in small.to_dict()["assumptions"]["macs_per_cycle_source"]


def _flash_margin(model_bytes: int, op_types: int) -> int:
    return mcu.FLASH_BYTES - model_bytes - mcu.runtime_flash_bytes(op_types)


def test_model_budget_of_a_converted_model(converted, arena):
    cfg, _, int8, _ = converted
    b, ops, _ = mcu.model_budget(int8, cfg, arena)
    assert b.passed
    rows = {r.name: r for r in b.rows}
    assert rows["model size"].value == len(int8)
    assert rows["SRAM"].value >= arena.recommended_bytes + 4 * UNITS
    assert b.cycles_per_frame >= ops.macs / mcu.MACS_PER_CYCLE


def test_mask_snr_db():
    ref = np.ones((10, 4))
    assert math.isinf(mcu.mask_snr_db(ref, ref))
    assert mcu.mask_snr_db(ref, ref + 0.01) == pytest.approx(40.0)


def test_verification_without_a_test_set_scores_both_device_models(converted):
    cfg, trained, int8, _ = converted
    stream = M.build_streaming_model(cfg, trained, frontend=False)
    segs = [_mags(30, 1), _mags(30, 2)]
    int16 = export.convert(stream, "16x8", export.representative_samples(cfg, stream, segs))
    ver = mcu.verify_on_magnitudes(cfg, trained, int8, segs, int16)
    assert ver["clips"] == 2 and ver["frames"] == 60
    for kind in ("int8", "16x8"):
        snr = ver[export.report_key("mask_snr_db", kind)]
        targets = ver[export.report_key("targets", kind)]
        assert math.isfinite(snr) and snr > 0
        assert targets == {f"mask SNR >= {mcu.MASK_SNR_TARGET_DB:g} dB": snr >= 40.0}
    assert "targets_16x8" not in mcu.verify_on_magnitudes(cfg, trained, int8, segs)


def test_evenly_spread_keeps_ends_and_order():
    items = list(range(10))
    assert mcu.evenly_spread(items, 3) == [0, 4, 9]  # linspace 0, 4.5, 9 rounded
    assert mcu.evenly_spread(items, 1) == [0]
    assert mcu.evenly_spread(items, 10) == items
    assert mcu.evenly_spread(items[:2], 5) == [0, 1]


def test_int8_masker_without_export_is_a_clear_error(tmp_path):
    cfg = _cfg()
    with pytest.raises(mcu.McuError, match="lstm-se export"):
        mcu.int8_masker(tmp_path, cfg)
