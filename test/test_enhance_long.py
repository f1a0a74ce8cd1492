"""Long inputs: offline enhancement in chunks with the state carried, progress within a file,
and the fast (LiteRT) streaming masker."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_enhance import RATE, random_model, test_signal, tiny_model_cfg

from lstm_se import enhance, features, maskers, metrics


def whole_signal_reference(x: np.ndarray, cfg, model) -> np.ndarray:
    """STFT, one model call over every frame, iSTFT: the offline path without chunks."""
    d = cfg.dset
    n_fft, hop = d.n_fft, d.hop_length
    if d.center:
        spec = features.stft(x, n_fft, hop, d.win_length, center=True, normalize=d.fft_normalize)
    else:
        front, back = features.streaming_pad(len(x), n_fft, hop)
        spec = features.stft(
            np.pad(x, (front, back)), n_fft, hop, d.win_length, normalize=d.fft_normalize
        )
    mask = np.asarray(model(np.abs(spec)[None].astype(np.float32), training=False))[0]
    if d.center:
        return features.istft(spec * mask, n_fft, hop, d.win_length, True, d.fft_normalize, len(x))
    full = features.istft(spec * mask, n_fft, hop, d.win_length, False, d.fft_normalize)
    return full[front : front + len(x)]


@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize("chunk", [1, 7, 100_000])
def test_chunked_offline_equals_one_call_on_the_whole_signal(
    center: bool, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tiny_model_cfg(center, normalize="none")
    model = random_model(cfg)
    x = test_signal(RATE // 2 + 77, seed=2)
    monkeypatch.setattr(enhance, "CHUNK_FRAMES", chunk)
    y, info = enhance.enhance_waveform(x, RATE, cfg, model=model)
    reference = whole_signal_reference(x, cfg, model)
    assert y.shape == x.shape
    assert info["frames"] > chunk or chunk > 1000
    assert np.max(np.abs(y - reference)) < 1e-5  # float rounding of the LSTM only
    assert metrics.si_sdr(x, y) < 40  # the mask changed the signal


def test_no_stft_of_more_than_one_chunk_is_held(monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory is bounded by the chunk: no spectrum of the whole input is ever formed."""
    cfg = tiny_model_cfg(normalize="none")
    model = random_model(cfg)
    monkeypatch.setattr(enhance, "CHUNK_FRAMES", 16)
    sizes: list[int] = []
    real_stft = features.stft

    def recording_stft(*args, **kwargs):
        spec = real_stft(*args, **kwargs)
        sizes.append(spec.shape[0])
        return spec

    monkeypatch.setattr(features, "stft", recording_stft)
    _, info = enhance.enhance_waveform(test_signal(3 * RATE), RATE, cfg, model=model)
    assert info["frames"] > 150
    assert sizes and max(sizes) <= 16 and sum(sizes) == info["frames"]


@pytest.mark.parametrize("streaming", [False, True])
def test_progress_reports_seconds_up_to_the_length(streaming: bool) -> None:
    cfg = tiny_model_cfg(normalize="none")
    model = random_model(cfg)
    x = test_signal(int(2.5 * RATE))
    seen: list[float] = []
    masker = maskers.LiteRTMasker(cfg, model) if streaming else None
    enhance.enhance_waveform(
        x, RATE, cfg, model=None if streaming else model, masker=masker, progress=seen.append
    )
    assert seen == sorted(seen)
    assert seen[-1] == pytest.approx(len(x) / RATE)


def test_litert_masker_equals_the_keras_masker_and_resets() -> None:
    cfg = tiny_model_cfg(normalize="none")
    model = random_model(cfg)
    keras_masker = maskers.KerasMasker(cfg, model)
    lite = maskers.LiteRTMasker(cfg, model)
    mags = np.abs(np.random.default_rng(5).standard_normal((40, 257))).astype(np.float32) * 0.05
    ref = np.stack([keras_masker(m) for m in mags])
    got = np.stack([lite(m) for m in mags])
    assert np.max(np.abs(got - ref)) < 1e-5
    assert np.std(got[:, 0]) > 1e-3  # the state moves the mask from frame to frame
    lite.reset()
    np.testing.assert_allclose(lite(mags[0]), ref[0], atol=1e-5)


def test_litert_streaming_equals_offline() -> None:
    cfg = tiny_model_cfg(normalize="none")
    model = random_model(cfg)
    x = test_signal(RATE + 55, seed=4)
    offline, _ = enhance.enhance_waveform(x, RATE, cfg, model=model)
    streamed, info = enhance.enhance_waveform(x, RATE, cfg, masker=maskers.LiteRTMasker(cfg, model))
    assert info["streaming"]
    assert np.max(np.abs(streamed - offline)) < 1 / 32768  # within one 16-bit LSB


def test_streaming_files_use_litert_and_fall_back_to_keras(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = tiny_model_cfg(normalize="none")
    model = random_model(cfg)
    assert isinstance(enhance.streaming_masker(cfg, model), maskers.LiteRTMasker)

    def broken(*args, **kwargs):
        raise RuntimeError("converter exploded")

    monkeypatch.setattr(enhance, "LiteRTMasker", broken)
    with caplog.at_level(logging.WARNING, logger="lstm_se.enhance"):
        masker = enhance.streaming_masker(cfg, model)
    assert isinstance(masker, maskers.KerasMasker)
    assert "converter exploded" in caplog.text and "Keras" in caplog.text


def test_a_long_file_gets_a_progress_bar_of_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tiny_model_cfg(normalize="none")
    model = random_model(cfg)
    monkeypatch.setattr(enhance, "LONG_FILE_S", 2.0)
    sf.write(tmp_path / "long.wav", test_signal(3 * RATE), RATE, subtype="PCM_16")
    sf.write(tmp_path / "short.wav", test_signal(RATE), RATE, subtype="PCM_16")
    n_ok, failures = enhance.enhance_paths(
        cfg, [tmp_path / "long.wav", tmp_path / "short.wav"], tmp_path / "out", model=model
    )
    assert n_ok == 2 and not failures
    err = capsys.readouterr().err
    assert "long.wav" in err and "3.0/3.0" in err  # seconds done of the file's length
    assert "short.wav" not in err
