"""The run folder module: loading with clear errors, the fallback to a checkpoint, packaging a
run as a pretrained model, and `lstm-se enhance` without --run on the shipped model."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from runs import make_run

from lstm_se import config, runs


def _tiny_run(tmp_path: Path) -> Path:
    import keras

    from lstm_se import model as model_mod

    cfg = config.from_dict({}, ["model.layers=1", "model.units=8", "model.input_norm=per-bin"])
    keras.utils.set_random_seed(0)
    model = model_mod.build_model(cfg)
    model_mod.set_input_norm(model, np.full(257, 0.1), np.full(257, 0.05))
    model.compile("adam", "mse")
    return make_run(tmp_path, cfg, model)


def test_corrupt_model_is_named(tmp_path: Path) -> None:
    run = _tiny_run(tmp_path)
    (run / runs.MODEL).write_bytes(b"not a zip")
    with pytest.raises(runs.RunError, match=r"model\.keras: not a Keras model file"):
        runs.load(run)


def test_missing_model_falls_back_to_the_best_checkpoint_and_says_so(tmp_path, caplog) -> None:
    run = _tiny_run(tmp_path)
    (run / "checkpoints").mkdir()
    shutil.move(run / runs.MODEL, run / runs.BEST)
    with caplog.at_level(logging.WARNING, logger="lstm_se.runs"):
        _, model = runs.load(run)
    assert model is not None
    assert "has no model.keras" in caplog.text and "best.keras" in caplog.text
    (run / runs.BEST).unlink()
    with pytest.raises(runs.RunError, match="has no model yet"):
        runs.load(run)


def test_missing_run_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(runs.RunError, match="does not exist"):
        runs.resolve(tmp_path / "nope")


def test_package_keeps_weights_not_optimizer_state(tmp_path: Path) -> None:
    run = _tiny_run(tmp_path)
    (run / "backup").mkdir()
    (run / "backup" / "state.json").write_text("{}")
    dest = runs.package(run, tmp_path / "pretrained" / "tiny")
    assert sorted(p.name for p in dest.iterdir()) == ["config.yaml", "model.keras"]
    (_, a), (_, b) = runs.load(run), runs.load(dest)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert (dest / runs.MODEL).stat().st_size < (run / runs.MODEL).stat().st_size


def test_packaged_config_names_paths_relative_to_the_repository(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    cfg = config.from_dict(
        {
            "dset": {"wav": str(root / "data" / "mix"), "save_path": "/elsewhere/records"},
            "folder": str(root / "result"),
        }
    )
    portable = runs.portable_config(cfg, root)
    assert portable.dset.wav == "data/mix" and portable.folder == "result"
    assert portable.dset.save_path == "/elsewhere/records"  # outside the repository: kept
    assert portable.model == cfg.model and portable.dset.segment == cfg.dset.segment


def test_shipped_pretrained_model_is_a_loadable_run() -> None:
    path = runs.pretrained_dir()
    cfg, model = runs.load(path)
    assert cfg.model.input_norm == "per-bin" and cfg.dset.normalize == "none"
    for where in (cfg.dset.wav, cfg.dset.save_path, cfg.folder):
        assert not Path(where).is_absolute(), where  # nothing of the machine that trained it
    assert (path / runs.RESULTS).is_file()
    assert (path / runs.EXPORT / "model_int8.tflite").is_file()
    assert model.count_params() > 0


def test_enhance_without_run_uses_the_pretrained_model(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(16000 * 2) / 16000
    speechy = 0.1 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 3 * t) > 0)
    sf.write(tmp_path / "noisy.wav", speechy + 0.02 * rng.normal(size=t.size), 16000)
    proc = subprocess.run(
        [sys.executable, "-m", "lstm_se.cli", "enhance", str(tmp_path / "noisy.wav"), "--out",
         str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "pretrained" in proc.stderr
    out, rate = sf.read(tmp_path / "out" / "noisy.wav")
    assert rate == 16000 and len(out) == t.size
    assert np.sqrt(np.mean(out**2)) < np.sqrt(np.mean((speechy + 0.02) ** 2))
