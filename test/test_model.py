"""model.py: shapes, mask range, mel matrices, streaming parity, save/load, TFLite op set."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from lstm_se import config, features  # noqa: E402
from lstm_se import model as M  # noqa: E402

#: What TFLite Micro runs in the explicit-state export model (docs/DESIGN.md, decision 1).
EXPORT_OPS = {"FULLY_CONNECTED", "ADD", "MUL", "LOGISTIC", "TANH", "SPLIT", "RESHAPE", "UNPACK"}

VARIANTS = {
    "default": [],
    "mel_bn_dense_log": [
        "model.n_mels=24",
        "model.batch_norm=true",
        "model.dense_units=24",
        "model.compression=log1p",
        "model.layers=3",
    ],
    "no_compression": ["model.compression=none", "model.layers=1"],
    "bounded_cell": ["model.cell_clip=0.5"],
    "mask_floor": ["model.mask_floor=0.1"],
}


def _cfg(overrides: list[str], units: int = 16) -> config.Config:
    return config.from_dict({}, [f"model.units={units}", *overrides])


def _randomize(model: keras.Model, seed: int = 0) -> None:
    """Non-trivial weights everywhere (BatchNorm statistics included), fixed layers kept."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if not layer.weights or not layer.trainable:
            continue
        shapes = [w.shape for w in layer.get_weights()]
        if isinstance(layer, keras.layers.BatchNormalization):
            # gamma, beta, moving mean, moving variance (positive scales and variances)
            new = [
                rng.uniform(0.5, 1.5, shapes[0]),
                rng.normal(0, 0.3, shapes[1]),
                rng.normal(0, 0.3, shapes[2]),
                rng.uniform(0.5, 1.5, shapes[3]),
            ]
        else:
            new = [rng.normal(0, 0.3, s) for s in shapes]
        layer.set_weights([w.astype(np.float32) for w in new])


def _clip_mag(frames: int = 40, seed: int = 1) -> np.ndarray:
    """|STFT| of a tone in noise, (frames, 257), as the records hold it."""
    rng = np.random.default_rng(seed)
    n = 512 + 256 * (frames - 1)
    t = np.arange(n) / 16000
    x = np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.3 * rng.normal(
        size=n
    )
    return np.abs(features.stft(x, 512, 256)).astype(np.float32)


def _stream(cfg, stream_model, mags: np.ndarray, frontend: bool = True) -> np.ndarray:
    state = M.initial_state(cfg)
    out = []
    for frame in mags:
        x = frame if frontend else M.compress(frame, cfg)
        res = stream_model([x[None, None, :], *state], training=False)
        out.append(np.asarray(res[0])[0, 0])
        state = [np.asarray(s) for s in res[1:]]
    return np.stack(out)


def test_default_shape_and_parameter_count():
    cfg = config.from_dict({})
    model = M.build_model(cfg)
    u, f = cfg.model.units, cfg.model.n_feature
    expected = 4 * u * (f + u + 1) + (cfg.model.layers - 1) * 4 * u * (2 * u + 1) + u * f + f
    assert model.count_params() == expected
    assert [layer.name for layer in model.layers if isinstance(layer, keras.layers.LSTM)] == [
        f"lstm_{i}" for i in range(1, cfg.model.layers + 1)
    ]
    mask = np.asarray(model(np.random.rand(2, 7, f).astype(np.float32)))
    assert mask.shape == (2, 7, f)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_mask_in_unit_range_and_causal(name):
    cfg = _cfg(VARIANTS[name])
    model = M.build_model(cfg)
    _randomize(model)
    mags = _clip_mag(30)[None]
    mask = np.asarray(model(mags, training=False))
    assert mask.shape == mags.shape
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    # Causal: changing the future leaves the past unchanged.
    later = mags.copy()
    later[:, 20:] *= 3.0
    mask2 = np.asarray(model(later, training=False))
    np.testing.assert_allclose(mask2[:, :20], mask[:, :20], atol=1e-6)
    assert np.abs(mask2[:, 20:] - mask[:, 20:]).max() > 1e-4


def test_mel_matrices_average_and_cover_every_bin():
    cfg = _cfg(["model.n_mels=40", "model.f_min=100", "model.f_max=7000"])
    proj, inv = M.mel_matrices(cfg)
    assert proj.shape == (257, 40) and inv.shape == (40, 257)
    live = proj.sum(axis=0) > 0
    np.testing.assert_allclose(proj.sum(axis=0)[live], 1.0, rtol=1e-5)
    # Every bin, including those below f_min and above f_max, gets a convex combination.
    np.testing.assert_allclose(inv.sum(axis=0), 1.0, rtol=1e-5)
    assert inv.min() >= 0
    model = M.build_model(cfg)
    assert not model.get_layer("mel").trainable and not model.get_layer("mask").trainable
    np.testing.assert_array_equal(model.get_layer("mel").get_weights()[0], proj)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_streaming_matches_sequence_model(name):
    cfg = _cfg(VARIANTS[name])
    model = M.build_model(cfg)
    _randomize(model, seed=3)
    mags = _clip_mag(48)
    offline = np.asarray(model(mags[None], training=False))[0]
    stream = M.build_streaming_model(cfg, model)
    online = _stream(cfg, stream, mags)
    assert np.abs(online - offline).max() < 1e-5
    # Without the frontend, the caller compresses: same result.
    bare = M.build_streaming_model(cfg, model, frontend=False)
    assert not any(isinstance(layer, M.Compress) for layer in bare.layers)
    np.testing.assert_allclose(_stream(cfg, bare, mags, frontend=False), online, atol=1e-6)


def test_streaming_model_signature():
    cfg = _cfg(["model.layers=2"], units=8)
    stream = M.build_streaming_model(cfg, M.build_model(cfg))
    assert [t.name for t in stream.inputs] == ["frame", "h_1", "c_1", "h_2", "c_2"]
    assert tuple(stream.inputs[0].shape) == (1, 1, 257)
    assert all(tuple(t.shape) == (1, 8) for t in stream.inputs[1:])
    assert tuple(stream.outputs[0].shape) == (1, 1, 257)
    state = M.initial_state(cfg)
    assert len(state) == 4 and all(s.shape == (1, 8) and not s.any() for s in state)


def test_compress_numpy_matches_layer():
    mag = np.abs(np.random.default_rng(0).normal(size=(3, 257))).astype(np.float32)
    mag[0, :5] = 0.0
    for kind in ("power", "log1p", "none"):
        cfg = _cfg([f"model.compression={kind}", "model.compression_power=0.25"])
        ref = np.asarray(features.tf_compress(mag, kind, 0.25))
        np.testing.assert_allclose(M.compress(mag, cfg), ref, rtol=1e-6, atol=1e-7)


def test_save_and_load_give_identical_outputs(tmp_path):
    cfg = _cfg(VARIANTS["mel_bn_dense_log"])
    model = M.build_model(cfg)
    _randomize(model, seed=5)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = _clip_mag(20)[None]
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    assert isinstance(loaded.get_layer("compress"), M.Compress)
    assert loaded.get_layer("compress").kind == "log1p"


def test_copy_weights_rejects_another_architecture():
    small = M.build_model(_cfg(["model.layers=1"]))
    big = M.build_model(_cfg(["model.layers=2"]))
    with pytest.raises(ValueError, match="lstm_2"):
        M.copy_weights(small, big)


@pytest.mark.parametrize("name", ["default", "mel_bn_dense_log", "mask_floor"])
def test_export_form_converts_to_micro_ops_only(name):
    cfg = _cfg(VARIANTS[name], units=8)
    stream = M.build_streaming_model(cfg, M.build_model(cfg), frontend=False)
    flat = tf.lite.TFLiteConverter.from_keras_model(stream).convert()
    from ai_edge_litert.interpreter import Interpreter

    ops = {d["op_name"] for d in Interpreter(model_content=flat)._get_ops_details()}
    assert ops <= EXPORT_OPS, ops - EXPORT_OPS
    assert {"FULLY_CONNECTED", "LOGISTIC", "TANH"} <= ops


def test_bounded_cell_state_stays_within_its_bound_and_is_the_lstm_below_it(tmp_path):
    """`model.cell_clip`: every carried c within the bound, in the streaming model too; with a
    bound no state reaches, the same outputs as Keras' own LSTM (same weights)."""
    free = M.build_model(_cfg([]))
    _randomize(free, seed=7)
    mags = _clip_mag(40)
    clipped_cfg = _cfg(["model.cell_clip=0.25"])
    clipped = M.build_model(clipped_cfg)
    M.copy_weights(free, clipped)
    stream = M.build_streaming_model(clipped_cfg, clipped)
    state, peak = M.initial_state(clipped_cfg), 0.0
    for frame in mags:
        res = stream([frame[None, None, :], *state], training=False)
        state = [np.asarray(s) for s in res[1:]]
        peak = max(peak, *(float(np.abs(c).max()) for c in state[1::2]))
    assert peak == pytest.approx(0.25)  # reached (the weights drive it past) and held
    free_stream = M.build_streaming_model(_cfg([]), free)
    free_peak, state = 0.0, M.initial_state(clipped_cfg)
    for frame in mags:
        res = free_stream([frame[None, None, :], *state], training=False)
        state = [np.asarray(s) for s in res[1:]]
        free_peak = max(free_peak, *(float(np.abs(c).max()) for c in state[1::2]))
    loose_cfg = _cfg([f"model.cell_clip={2 * free_peak}"])
    loose = M.build_model(loose_cfg)
    M.copy_weights(free, loose)
    np.testing.assert_allclose(
        np.asarray(loose(mags[None])), np.asarray(free(mags[None])), atol=1e-6
    )
    path = tmp_path / "bounded.keras"
    clipped.save(path)
    cell = keras.models.load_model(path, compile=False).get_layer("lstm_1").cell
    assert isinstance(cell, M.BoundedLSTMCell) and cell.bound == 0.25


def test_bounded_cell_exports_with_minimum_and_maximum_only_extra():
    cfg = _cfg(["model.cell_clip=4.0"], units=8)
    stream = M.build_streaming_model(cfg, M.build_model(cfg), frontend=False)
    flat = tf.lite.TFLiteConverter.from_keras_model(stream).convert()
    from ai_edge_litert.interpreter import Interpreter

    ops = {d["op_name"] for d in Interpreter(model_content=flat)._get_ops_details()}
    assert ops <= EXPORT_OPS | {"MINIMUM", "MAXIMUM"}, ops
    assert {"MINIMUM", "MAXIMUM"} <= ops


def test_mask_floor_lifts_the_lowest_gain_and_keeps_the_weights():
    """`model.mask_floor`: floor + (1 - floor) * the unfloored mask, same weights, in the
    sequence and the streaming model; a floor outside [0, 1) is refused."""
    plain_cfg = _cfg([], units=8)
    floored_cfg = _cfg(["model.mask_floor=0.2"], units=8)
    plain = M.build_model(plain_cfg)
    _randomize(plain, seed=7)
    floored = M.build_model(floored_cfg)
    M.copy_weights(plain, floored)
    mags = _clip_mag(24)
    want = 0.2 + 0.8 * np.asarray(plain(mags[None], training=False))[0]
    got = np.asarray(floored(mags[None], training=False))[0]
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert got.min() >= 0.2 - 1e-6
    stream = M.build_streaming_model(floored_cfg, floored)
    np.testing.assert_allclose(_stream(floored_cfg, stream, mags), got, atol=1e-5)
    with pytest.raises(config.ConfigError, match="mask_floor"):
        _cfg(["model.mask_floor=1.0"])
