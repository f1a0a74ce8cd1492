"""The training recipe: a level-free loss that Adam really steps on, dynamic mixing (fresh,
seeded, resumable examples from clean speech + noise records), and the causal per-bin input
normalization folded into the streaming model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from runs import tiny_config

from lstm_se import config, features, losses, maskers, prepare, remix

DYNAMIC = (
    "dset.mixing=dynamic",
    "dset.normalize=none",
    "dset.feature=real_imag",
)


def _target(rng: np.random.Generator, level: float, bins: int = 33) -> np.ndarray:
    """(batch, frames, 4, bins): noisy = clean + noise, magnitudes about `level`."""
    clean = rng.normal(size=(3, 20, 2, bins)) * level
    noise = rng.normal(size=(3, 20, 2, bins)) * level * 0.5
    return np.concatenate([clean + noise, clean], axis=2).astype(np.float32)


@pytest.mark.parametrize("kind", losses.LOSSES)
def test_normalized_loss_does_not_depend_on_the_level(kind: str) -> None:
    rng = np.random.default_rng(0)
    target = _target(rng, 1e-3)
    mask = rng.uniform(size=(3, 20, 33)).astype(np.float32)
    loss = losses.get(kind, norm="noisy")
    quiet = np.asarray(loss.call(target, mask))
    loud = np.asarray(loss.call(target * 10.0, mask))
    np.testing.assert_allclose(loud, quiet, rtol=1e-5)
    if kind != "ideal-mag":  # the raw loss does depend on it
        raw = losses.get(kind)
        assert np.all(
            np.asarray(raw.call(target * 10.0, mask)) > 1.5 * np.asarray(raw.call(target, mask))
        )


@pytest.fixture(scope="module")
def dynamic_records(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dyn") / "records"
    prepare.prepare(tiny_config(tiny_corpus, out, *DYNAMIC), progress=False)
    return out


def _step_ratio(records: Path, corpus: Path, loss_norm: str) -> float:
    """Median |Δw| / lr of the first Adam step of a tiny model (as the default config builds
    it: per-bin input normalization, compressed loss) on dynamic mixtures at -45..-10 dBFS."""
    import keras

    from lstm_se import model as model_mod
    from lstm_se import train

    cfg = tiny_config(
        corpus,
        records,
        *DYNAMIC,
        "model.layers=1",
        "model.units=32",
        "model.input_norm=per-bin",
        "model.loss=compressed",
        f"model.loss_norm={loss_norm}",
        "optim.schedule=constant",
        "optim.clipnorm=0",
    )
    sources = remix.load_sources(records, "train")
    ds = remix.dataset(sources, cfg, 8, first_epoch=0, epochs=1, per_epoch=16)
    keras.utils.set_random_seed(3)
    model = model_mod.build_model(cfg)
    train.compile_model(model, cfg, None)
    train.measure_input_norm(model, ds, 2)
    x, target = next(iter(ds))
    before = np.concatenate([np.ravel(w) for w in model.trainable_weights])
    model.train_on_batch(x, target)
    after = np.concatenate([np.ravel(w) for w in model.trainable_weights])
    return float(np.median(np.abs(after - before))) / cfg.optim.lr


def test_one_adam_step_moves_the_weights_by_at_least_half_the_learning_rate(
    tiny_corpus: Path, dynamic_records: Path
) -> None:
    assert _step_ratio(dynamic_records, tiny_corpus, "noisy") >= 0.5
    # The raw loss at these levels starves Adam: most gradients sit below its epsilon.
    assert _step_ratio(dynamic_records, tiny_corpus, "none") < 0.2


def test_dynamic_records_hold_whole_utterances_of_clean_and_noise(
    tiny_corpus: Path, dynamic_records: Path
) -> None:
    from lstm_se import audio

    man = json.loads((dynamic_records / "manifest.json").read_text())
    assert man["feature_spec"]["content"] == "clean+noise"
    sources = remix.load_sources(dynamic_records, "train")
    files = man["splits"]["train"]["shards"][0]["utterances"]
    # The first utterance of the first shard is the first in memory.
    first = files[0]
    clean = audio.read_mono(tiny_corpus / first["clean"], 16000)
    noisy = audio.read_mono(tiny_corpus / first["noisy"], 16000)
    n = min(len(clean), len(noisy))
    want_clean = features.stft(clean[:n], 512, 256, 512, center=False, normalize=True)
    want_noise = features.stft(noisy[:n] - clean[:n], 512, 256, 512, center=False, normalize=True)
    got = sources.frames[: sources.lengths[0]]
    assert sources.lengths[0] == len(want_clean)
    np.testing.assert_allclose(got[:, 0] + 1j * got[:, 1], want_clean, atol=1e-6)
    np.testing.assert_allclose(got[:, 2] + 1j * got[:, 3], want_noise, atol=1e-6)


def _epoch_batches(sources, cfg, first: int, epochs: int, per_epoch: int) -> list[np.ndarray]:
    ds = remix.dataset(sources, cfg, 4, first_epoch=first, epochs=epochs, per_epoch=per_epoch)
    return [np.asarray(t) for _, t in ds]


def test_dynamic_mixing_is_fresh_each_epoch_seeded_and_resumable(
    tiny_corpus: Path, dynamic_records: Path
) -> None:
    cfg = tiny_config(tiny_corpus, dynamic_records, *DYNAMIC)
    sources = remix.load_sources(dynamic_records, "train")
    full = _epoch_batches(sources, cfg, 0, 3, 8)  # 2 batches per epoch
    assert len(full) == 6
    resumed = _epoch_batches(sources, cfg, 2, 3, 8)
    for a, b in zip(full[4:], resumed, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(full[0], full[2])  # another epoch, other examples
    again = _epoch_batches(sources, cfg, 0, 1, 8)
    np.testing.assert_array_equal(again[0], full[0])


def test_dynamic_mixtures_follow_the_drawn_snr_and_level(
    tiny_corpus: Path, dynamic_records: Path
) -> None:
    cfg = tiny_config(
        tiny_corpus,
        dynamic_records,
        *DYNAMIC,
        "dset.remix_snr=[3.0,3.0]",
        "dset.remix_level=[-30.0,-30.0]",
    )
    sources = remix.load_sources(dynamic_records, "train")
    batch = _epoch_batches(sources, cfg, 0, 1, 8)[0]
    weights = np.full(257, 2.0)
    weights[[0, -1]] = 1.0
    to_ms = remix.power_to_mean_square(512, 512, True)
    for ex in batch:
        speech = ex[:, 2] + 1j * ex[:, 3]
        noise = (ex[:, 0] + 1j * ex[:, 1]) - speech
        p_s = (np.abs(speech) ** 2 * weights).sum(axis=1)
        active = (p_s >= p_s.max() * 1e-4) & (p_s > 0)
        p_n = (np.abs(noise) ** 2 * weights).sum(axis=1).mean()
        assert 10 * np.log10(p_s[active].mean() / p_n) == pytest.approx(3.0, abs=0.01)
        assert 10 * np.log10(p_s[active].mean() * to_ms) == pytest.approx(-30.0, abs=0.01)


def _gain_curve(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """dB per bin of `after` / `before` (frames, bins), checked to be one real positive gain
    per bin, the same in every frame; NaN where `before` is negligible in every frame."""
    used = np.abs(before) > 1e-5 * np.abs(before).max()
    curve = np.full(before.shape[1], np.nan)
    for b in np.nonzero(used.any(axis=0))[0]:
        ratio = after[used[:, b], b] / before[used[:, b], b]
        assert np.abs(ratio.imag).max() < 1e-2 * ratio.real.max()
        assert np.ptp(ratio.real) <= 1e-2 * ratio.real.max()
        curve[b] = 20 * np.log10(ratio.real.mean())
    return curve


def test_eq_colours_speech_and_noise_and_keeps_the_other_draws(
    tiny_corpus: Path, dynamic_records: Path
) -> None:
    fixed = ("dset.remix_snr=[3.0,3.0]", "dset.remix_level=[-30.0,-30.0]")
    sources = remix.load_sources(dynamic_records, "train")
    plain = tiny_config(tiny_corpus, dynamic_records, *DYNAMIC, *fixed)
    coloured = tiny_config(tiny_corpus, dynamic_records, *DYNAMIC, *fixed, "dset.remix_eq_db=12")
    batch0 = _epoch_batches(sources, plain, 0, 1, 8)[0]
    batch1 = _epoch_batches(sources, coloured, 0, 1, 8)[0]
    weights = np.full(257, 2.0)
    weights[[0, -1]] = 1.0
    to_ms = remix.power_to_mean_square(512, 512, True)
    for ex0, ex1 in zip(batch0, batch1, strict=True):
        s0, s1 = ex0[:, 2] + 1j * ex0[:, 3], ex1[:, 2] + 1j * ex1[:, 3]
        n0, n1 = ex0[:, 0] + 1j * ex0[:, 1] - s0, ex1[:, 0] + 1j * ex1[:, 1] - s1
        # The same crops, only filtered and rescaled: a gain per bin within the EQ's range
        # (plus one level change), another curve for the speech than for the noise.
        speech_db, noise_db = _gain_curve(s0, s1), _gain_curve(n0, n1)
        assert 0.5 < np.nanmax(noise_db) - np.nanmin(noise_db) <= 24.0 + 1e-3
        assert np.nanmax(speech_db) - np.nanmin(speech_db) <= 24.0 + 1e-3
        relative = speech_db - noise_db
        assert np.nanmax(relative) - np.nanmin(relative) > 0.1
        # SNR and level are measured after the EQ: still as drawn.
        p_s = (np.abs(s1) ** 2 * weights).sum(axis=1)
        active = (p_s >= p_s.max() * 1e-4) & (p_s > 0)
        p_n = (np.abs(n1) ** 2 * weights).sum(axis=1).mean()
        assert 10 * np.log10(p_s[active].mean() / p_n) == pytest.approx(3.0, abs=0.01)
        assert 10 * np.log10(p_s[active].mean() * to_ms) == pytest.approx(-30.0, abs=0.01)


def test_eq_curves_stay_within_their_range() -> None:
    rng = np.random.default_rng(0)
    gains = np.asarray(remix.eq_gains(rng.uniform(size=(500, 3)).astype(np.float32), 257, 9.0))
    db = 20 * np.log10(gains)
    assert np.abs(db).max() <= 9.0 + 1e-4 and np.abs(db).max() > 6.0
    corners = np.asarray(remix.eq_gains(np.ones((1, 3), np.float32), 257, 9.0))
    assert 20 * np.log10(corners[0, 0]) == pytest.approx(9.0, abs=1e-4)


def test_power_to_mean_square_matches_a_stationary_signal() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=16000) * 0.01
    spec = features.stft(x, 512, 256, 512, center=False, normalize=True)
    weights = np.full(257, 2.0)
    weights[[0, -1]] = 1.0
    power = (np.abs(spec) ** 2 * weights).sum(axis=1).mean()
    ms = power * remix.power_to_mean_square(512, 512, True)
    assert ms == pytest.approx(np.mean(x**2), rel=0.05)


def test_input_norm_is_folded_into_the_streaming_model() -> None:
    import keras

    from lstm_se import model as model_mod

    cfg = config.from_dict({}, ["model.layers=2", "model.units=16", "model.input_norm=per-bin"])
    keras.utils.set_random_seed(2)
    model = model_mod.build_model(cfg)
    rng = np.random.default_rng(4)
    model_mod.set_input_norm(model, rng.uniform(0.05, 0.2, 257), rng.uniform(0.03, 0.1, 257))
    mag = rng.uniform(0, 3e-3, size=(30, 257)).astype(np.float32)
    offline = np.asarray(model(mag[None], training=False))[0]
    masker = maskers.KerasMasker(cfg, model)
    assert "input_norm" not in [layer.name for layer in masker.model.layers]
    streamed = np.stack([masker(frame) for frame in mag])
    np.testing.assert_allclose(streamed, offline, atol=2e-5)
    # The statistics matter: without them the masks differ.
    plain = model_mod.build_model(config.from_dict({}, ["model.layers=2", "model.units=16"]))
    model_mod.copy_weights(model, plain)
    assert np.abs(np.asarray(plain(mag[None]))[0] - offline).max() > 1e-3


def test_dynamic_mixing_needs_a_causal_level_free_config() -> None:
    with pytest.raises(config.ConfigError, match=r"dset\.normalize=none"):
        config.derive(config.from_dict({}, ["dset.mixing=dynamic"]))


def test_train_refuses_records_prepared_with_other_settings(
    tiny_corpus: Path, dynamic_records: Path
) -> None:
    from lstm_se import train_data

    cfg = tiny_config(tiny_corpus, dynamic_records, *DYNAMIC, "dset.hop_length=128")
    with pytest.raises(config.ConfigError, match=r"dset\.hop_length: records 256, config 128"):
        train_data.make_data(cfg)
    # Settings that only the input pipeline reads may differ.
    same = tiny_config(
        tiny_corpus, dynamic_records, *DYNAMIC, "dset.remix_snr=[0.0,5.0]", "batch_size=4"
    )
    assert train_data.make_data(same).steps_per_epoch >= 1
