"""Enhancement: identity with a mask of ones, streaming == offline, files, silence, the CLI."""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np
import pytest
import soundfile as sf
from runs import make_run

from lstm_se import audio, config, enhance, maskers, metrics
from lstm_se import model as model_mod
from lstm_se.cli import main

RATE = 16000


def tiny_model_cfg(center: bool = False, **dset) -> config.Config:
    return config.from_dict(
        {"dset": {"center": center, **dset}, "model": {"layers": 2, "units": 8}}
    )


def ones_model(cfg: config.Config) -> keras.Model:
    """The real model with its mask layer forced to 1.0 (sigmoid of a large bias)."""
    m = model_mod.build_model(cfg)
    layer = m.get_layer("mask")
    kernel, bias = layer.get_weights()
    layer.set_weights([np.zeros_like(kernel), np.full_like(bias, 50.0)])
    return m


def random_model(cfg: config.Config, seed: int = 3) -> keras.Model:
    """Random weights; the mask layer's scaled up so the mask varies over bins and time."""
    keras.utils.set_random_seed(seed)
    m = model_mod.build_model(cfg)
    rng = np.random.default_rng(seed)
    layer = m.get_layer("mask")
    kernel, bias = layer.get_weights()
    layer.set_weights(
        [rng.normal(0, 3, kernel.shape).astype("float32"), rng.normal(0, 1, bias.shape)]
    )
    return m


def test_signal(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(n) + 0.01).astype(
        np.float32
    )


test_signal.__test__ = False  # a helper, not a test


@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize("normalize", ["z-score", "linear", "none"])
def test_mask_of_ones_gives_back_the_input(center: bool, normalize: str) -> None:
    cfg = tiny_model_cfg(center, normalize=normalize)
    model = ones_model(cfg)
    x = test_signal(RATE + 123)  # not a whole number of hops
    y, info = enhance.enhance_waveform(x, RATE, cfg, model=model)
    assert y.shape == x.shape and y.dtype == np.float32
    assert info["mask_mean"] == 1.0
    assert metrics.si_sdr(x, y) > 60.0
    # frame by frame through the streaming model: the same identity
    y_stream, info = enhance.enhance_waveform(x, RATE, cfg, masker=maskers.KerasMasker(cfg, model))
    assert info["streaming"] and metrics.si_sdr(x, y_stream) > 60.0


def test_other_rates_and_channels_are_resampled_and_downmixed() -> None:
    cfg = tiny_model_cfg()
    model = ones_model(cfg)
    x = test_signal(22050)
    stereo = np.stack([x, x], axis=1)
    y, info = enhance.enhance_waveform(stereo, 22050, cfg, model=model)
    expected = audio.resample(x, 22050, RATE)
    assert info["rate"] == RATE and y.shape == expected.shape
    assert metrics.si_sdr(expected, y) > 60.0


@pytest.mark.parametrize("center", [False, True])
def test_streaming_equals_offline(center: bool) -> None:
    cfg = tiny_model_cfg(center)
    model = random_model(cfg)
    x = test_signal(RATE // 2 + 77, seed=1)
    offline, info_off = enhance.enhance_waveform(x, RATE, cfg, model=model)
    stream, info_st = enhance.enhance_waveform(x, RATE, cfg, masker=maskers.KerasMasker(cfg, model))
    assert 0.05 < info_off["mask_mean"] < 0.95  # a real mask, not an identity
    assert info_st["frames"] == info_off["frames"]
    assert info_st["mask_mean"] == pytest.approx(info_off["mask_mean"], abs=1e-5)
    assert np.max(np.abs(stream - offline)) < 1e-4
    assert metrics.si_sdr(x, offline) < 40  # the mask changed the signal


def test_keras_masker_carries_and_resets_state() -> None:
    cfg = tiny_model_cfg()
    masker = maskers.KerasMasker(cfg, random_model(cfg))
    frame = np.abs(np.random.default_rng(0).standard_normal(257)).astype(np.float32) * 0.1
    first = masker(frame)
    second = masker(frame)
    assert first.shape == (257,) and np.all((first >= 0) & (first <= 1))
    assert not np.allclose(first, second)  # the state moved on
    masker.reset()
    np.testing.assert_allclose(masker(frame), first, atol=1e-6)


@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize("n", [0, 1, 10, 300, RATE])
def test_silence_and_very_short_inputs(center: bool, n: int) -> None:
    cfg = tiny_model_cfg(center)
    model = random_model(cfg)
    for x in (np.zeros(n, np.float32), test_signal(n)):
        y, _ = enhance.enhance_waveform(x, RATE, cfg, model=model)
        assert y.shape == (n,) and np.all(np.isfinite(y))
    silence, _ = enhance.enhance_waveform(np.zeros(n, np.float32), RATE, cfg, model=model)
    assert np.all(silence == 0.0)
    offline, _ = enhance.enhance_waveform(test_signal(n), RATE, cfg, model=model)
    masker = maskers.KerasMasker(cfg, model)
    streamed, _ = enhance.enhance_waveform(test_signal(n), RATE, cfg, masker=masker)
    assert streamed.shape == (n,) and np.allclose(streamed, offline, atol=1e-4)


def test_enhance_waveform_needs_one_of_model_or_masker() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        enhance.enhance_waveform(np.zeros(10), RATE, tiny_model_cfg())


# ---------------------------------------------------------------------------------------------
# files and the CLI


@pytest.fixture(scope="module")
def ones_run(tmp_path_factory) -> Path:
    cfg = tiny_model_cfg()
    return make_run(tmp_path_factory.mktemp("runs"), cfg, ones_model(cfg))


def _inputs(root: Path) -> Path:
    folder = root / "in"
    (folder / "sub").mkdir(parents=True)
    x = test_signal(RATE)
    sf.write(folder / "a.wav", np.stack([x, x], 1), RATE, subtype="PCM_16")  # stereo
    sf.write(folder / "sub" / "b.flac", audio.resample(x, RATE, 8000), 8000)
    sf.write(folder / "loud.wav", np.clip(3 * x, -1, 1), 44100, subtype="FLOAT")
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    return folder


def test_enhance_files_reports_unreadable_and_writes_the_rest(ones_run, tmp_path, caplog):
    folder = _inputs(tmp_path)
    out = tmp_path / "out"
    caplog.set_level(logging.INFO)
    n_ok, failures = enhance.enhance_files(ones_run, [folder], out)
    assert n_ok == 3
    assert [f.path.name for f in failures] == ["broken.wav"]
    assert "broken.wav" in failures[0].error and "broken.wav" in caplog.text
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.wav"))
    assert written == ["a.wav", "loud.wav", "sub/b.wav"]
    for p in out.rglob("*.wav"):
        info = sf.info(p)
        assert info.samplerate == RATE and info.subtype == "PCM_16" and info.channels == 1
    a, _ = sf.read(out / "a.wav")
    assert metrics.si_sdr(test_signal(RATE), a) > 40  # 16-bit quantized identity
    # 16000 samples written as 44.1 kHz come back as the same duration at 16 kHz
    assert sf.info(out / "loud.wav").frames == round(RATE * RATE / 44100)
    assert "samples clipped" in caplog.text  # the loud file clips after enhancement


# The CLI sets up its own logging handler on stderr (replacing pytest's), hence capfd.


def test_cli_exit_status_names_failed_file(ones_run, tmp_path, capfd):
    folder = _inputs(tmp_path)
    args = ["enhance", "--run", str(ones_run), str(folder), "--out", str(tmp_path / "o")]
    assert main(args) == 1
    err = capfd.readouterr().err
    assert "broken.wav: cannot read audio" in err and "1 file(s) failed" in err
    (folder / "broken.wav").unlink()
    assert main([*args, "--streaming"]) == 0
    assert len(list((tmp_path / "o").rglob("*.wav"))) == 3


def test_tflite_without_masker_or_export_is_a_clear_error(ones_run, tmp_path, capfd, caplog):
    from lstm_se.cli import build_parser

    x = test_signal(RATE)
    sf.write(tmp_path / "x.wav", x, RATE)
    argv = ["enhance", "--run", str(ones_run), str(tmp_path / "x.wav"), "--out", str(tmp_path)]
    # no masker factory at all
    assert enhance.command(build_parser().parse_args([*argv, "--tflite"])) == 2
    assert "--tflite" in caplog.text and "tflite_masker" in caplog.text
    # through the CLI, with mcu's factory, on a run that was never exported
    assert main([*argv, "--tflite"]) == 2
    err = capfd.readouterr().err
    assert "--tflite" in err and "export" in err


def test_command_uses_a_masker_factory(ones_run, tmp_path):
    class Ones:
        calls = 0

        def reset(self) -> None:
            pass

        def __call__(self, mag_frame):
            Ones.calls += 1
            return np.ones_like(mag_frame)

    x = test_signal(RATE)
    sf.write(tmp_path / "x.wav", x, RATE, subtype="FLOAT")
    parser_args = ["enhance", "--run", str(ones_run), str(tmp_path / "x.wav")]
    from lstm_se.cli import build_parser

    args = build_parser().parse_args([*parser_args, "--out", str(tmp_path / "o"), "--tflite"])
    seen = []

    def factory(run_dir, cfg):
        seen.append((Path(run_dir), cfg.dset.sample_rate))
        return Ones()

    assert enhance.command(args, masker_factory=factory) == 0
    assert seen == [(ones_run, RATE)] and Ones.calls > 0
    y, _ = sf.read(tmp_path / "o" / "x.wav")
    assert metrics.si_sdr(x, y) > 40


def test_missing_run_folder(tmp_path, capfd):
    assert main(["enhance", "--run", str(tmp_path / "nope"), "x.wav", "--out", "o"]) == 2
    assert "nope" in capfd.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["enhance", "--run", str(tmp_path / "empty"), "x.wav", "--out", "o"]) == 2
    assert "config.yaml" in capfd.readouterr().err


# ---------------------------------------------------------------------------------------------
# nothing lost: inputs are never overwritten, same names never collide


def test_outputs_that_would_replace_inputs_are_refused(ones_run, tmp_path, capfd):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.wav", "b.wav"):
        sf.write(folder / name, test_signal(RATE), RATE, subtype="FLOAT")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    base = ["enhance", "--run", str(ones_run), str(folder)]
    assert main([*base, "--out", str(folder)]) == 2
    err = capfd.readouterr().err
    assert "2 output(s) would overwrite input files" in err and "--overwrite" in err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    # --out naming an input file
    assert main([*base, "--out", str(folder / "a.wav")]) == 2
    assert "is one of the inputs, not a folder" in capfd.readouterr().err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    # asked for: the inputs are replaced by their enhanced versions, nothing else is written
    assert main([*base, "--out", str(folder), "--overwrite"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["a.wav", "b.wav"]
    assert sf.info(folder / "a.wav").subtype == "PCM_16"


def test_same_named_inputs_of_different_folders_are_refused(ones_run, tmp_path, caplog):
    names = []
    for sub in ("a", "b", "c"):
        (tmp_path / sub).mkdir()
        sf.write(tmp_path / sub / "x.wav", test_signal(RATE), RATE)
        names.append(tmp_path / sub / "x.wav")
    out = tmp_path / "out"
    with pytest.raises(enhance.EnhanceError) as err:
        enhance.enhance_files(ones_run, names, out)
    assert all(str(p) in str(err.value) for p in names) and "x.wav <- " in str(err.value)
    assert not out.exists()
    # a.wav and a.flac of one folder are kept apart; the same file twice is enhanced once
    sf.write(tmp_path / "a" / "x.flac", test_signal(RATE), RATE)
    caplog.set_level(logging.INFO)
    n_ok, failures = enhance.enhance_files(
        ones_run, [tmp_path / "a", tmp_path / "a" / "x.wav"], out
    )
    assert (n_ok, failures) == (2, [])
    assert sorted(p.name for p in out.iterdir()) == ["x.wav", "x_flac.wav"]
    assert "enhanced 2 of 2 files" in caplog.text


def test_a_missing_input_is_named(ones_run, tmp_path, capfd):
    missing = tmp_path / "missing.wav"
    assert main(["enhance", "--run", str(ones_run), str(missing), "--out", str(tmp_path)]) == 1
    err = capfd.readouterr().err
    assert f"{missing}: no such file" in err and "System error" not in err


def test_conversion_is_said_once_and_keep_rate_writes_the_input_rate(ones_run, tmp_path, caplog):
    x = test_signal(RATE)
    stereo = np.stack([x, x], 1)
    for name in ("a.wav", "b.wav"):
        sf.write(tmp_path / name, audio.resample(stereo, RATE, 44100), 44100, subtype="FLOAT")
    caplog.set_level(logging.INFO)
    inputs = [tmp_path / "a.wav", tmp_path / "b.wav"]
    assert enhance.enhance_files(ones_run, inputs, tmp_path / "o")[0] == 2
    assert caplog.text.count("with 2 channel(s): it is enhanced as 16000 Hz mono") == 1
    assert "--keep-rate" in caplog.text
    assert sf.info(tmp_path / "o" / "a.wav").samplerate == RATE
    caplog.clear()
    assert enhance.enhance_files(ones_run, inputs, tmp_path / "k", keep_rate=True)[0] == 2
    info = sf.info(tmp_path / "k" / "a.wav")
    assert (info.samplerate, info.channels) == (44100, 1)
    assert info.frames == sf.info(tmp_path / "a.wav").frames
    assert "written as 44100 Hz mono" in caplog.text
    y, _ = sf.read(tmp_path / "k" / "a.wav")
    assert metrics.si_sdr(audio.resample(x, RATE, 44100), y) > 30  # the identity model
