"""Typed config: loading, unknown keys and wrong types, overrides, derived values, the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from lstm_se import config, features
from lstm_se.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_load_and_repo_configs_are_valid() -> None:
    cfg = config.load()
    assert cfg.dset.sample_rate == 16000 and cfg.model.n_feature == 257
    for path in sorted((ROOT / "conf").glob("*.yaml")):
        config.load(path)


def test_unknown_key_names_key_and_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("dset:\n  sample_rat: 16000\n")
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    msg = str(err.value)
    assert "dset.sample_rat" in msg and "did you mean 'dset.sample_rate'" in msg
    assert str(path) in msg


def test_unknown_section_is_an_error() -> None:
    with pytest.raises(config.ConfigError, match=r"unknown key 'modle'.*did you mean 'model'"):
        config.from_dict({"modle": {"units": 3}})


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("model.units=abc", "'model.units' must be an integer"),
        ("dset.segment=fast", "'dset.segment' must be a number"),
        ("dset.center=1", "'dset.center' must be true or false"),
        ("dset.normalize=zscore", "did you mean 'z-score'"),
        ("model.units=2.5", "'model.units' must be an integer"),
        ("mix.train_snrs=5", "'mix.train_snrs' must be a list"),
    ],
)
def test_wrong_types_name_the_key(override: str, fragment: str) -> None:
    with pytest.raises(config.ConfigError) as err:
        config.from_dict({}, [override])
    assert fragment in str(err.value)


def test_overrides_apply_and_are_typed() -> None:
    cfg = config.from_dict(
        {},
        [
            "dset.segment=1",
            "model.units=64",
            "debug=true",
            "mix.test_snrs=[1, 2]",
            "train.name=run-a",
        ],
    )
    assert cfg.dset.segment == 1.0 and isinstance(cfg.dset.segment, float)
    assert cfg.model.units == 64 and cfg.debug is True
    assert cfg.mix.test_snrs == (1.0, 2.0)
    assert cfg.train.name == "run-a"


def test_override_of_unknown_key_suggests() -> None:
    with pytest.raises(config.ConfigError, match=r"did you mean 'optim\.lr'"):
        config.from_dict({}, ["optim.lrr=0.1"])


def test_malformed_override() -> None:
    with pytest.raises(config.ConfigError, match=r"key\.sub=value"):
        config.from_dict({}, ["model.units"])


def test_legacy_lstm_layer_means_units(caplog: pytest.LogCaptureFixture) -> None:
    cfg = config.from_dict({"model": {"lstm_layer": 96}})
    assert cfg.model.units == 96
    assert "legacy" in caplog.text
    with pytest.raises(config.ConfigError, match="disagree"):
        config.from_dict({"model": {"lstm_layer": 96, "units": 128}})


@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize(("segment", "hop"), [(1.0, 256), (2.0, 128), (0.5, 160)])
def test_derived_frames_match_the_stft(center: bool, segment: float, hop: int) -> None:
    cfg = config.from_dict(
        {},
        [f"dset.segment={segment}", f"dset.hop_length={hop}", f"dset.center={str(center).lower()}"],
    )
    derived = config.derive(cfg)
    x = np.zeros(derived.segment_samples)
    spec = features.stft(x, cfg.dset.n_fft, hop, center=center)
    assert spec.shape == (derived.frames_per_segment, derived.n_bins)


def test_inconsistent_values_are_refused() -> None:
    with pytest.raises(config.ConfigError, match=r"n_feature.*257"):
        config.from_dict({}, ["model.n_feature=256"])
    with pytest.raises(config.ConfigError, match="n_feature"):
        config.from_dict({}, ["dset.n_fft=1024"])  # n_feature stays 257
    config.from_dict({}, ["dset.n_fft=1024", "dset.win_length=1024", "model.n_feature=513"])
    with pytest.raises(config.ConfigError, match="n_segment"):
        config.from_dict({}, ["model.n_segment=7"])
    with pytest.raises(config.ConfigError, match="win_length"):
        config.from_dict({}, ["dset.win_length=1024"])
    with pytest.raises(config.ConfigError, match="shorter than one frame"):
        config.from_dict({}, ["dset.segment=0.01"])


def test_dump_round_trips(tmp_path: Path) -> None:
    cfg = config.from_dict({}, ["model.units=48", "mix.train_snrs=[0, 3]"])
    config.save(cfg, tmp_path / "config.yaml")
    assert config.load(tmp_path / "config.yaml") == cfg
    assert config.config_hash(cfg) == config.config_hash(config.load(tmp_path / "config.yaml"))
    other = config.from_dict({}, ["dset.segment=1.5"])
    assert config.config_hash(other) != config.config_hash(cfg)


def test_schema_rows_document_every_key() -> None:
    rows = config.schema_rows()
    keys = [r[0] for r in rows]
    assert "dset.sample_rate" in keys and "model.units" in keys and "seed" in keys
    assert all(doc for _, _, _, doc in rows), "every key needs a one-line doc"


def test_cli_config_prints_resolved(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--config", str(ROOT / "conf" / "config.yaml"), "model.units=32"]) == 0
    out = capsys.readouterr().out
    assert "units: 32" in out


def test_cli_config_error_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "dset.sample_rat=1"]) == 2
    assert "did you mean 'dset.sample_rate'" in capsys.readouterr().err


def test_cli_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert "lstm-se" in capsys.readouterr().out


def test_readme_config_table_is_current() -> None:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- config-table:start -->\n") + len("<!-- config-table:start -->\n")
    end = readme.index("<!-- config-table:end -->")
    assert readme[start:end] == config.markdown_table(), (
        "README config table is stale: run `lstm-se config --table` and paste it"
    )


def test_cli_turns_a_stage_error_into_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        ["train", f"dset.save_path={tmp_path / 'none'}", f"folder={tmp_path}", "train.name=r"]
    )
    assert status == 1
    err = capsys.readouterr().err
    assert "no manifest" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists(), "no run folder is made without records"


def test_load_run_config_reads_a_run_folder_and_names_one_that_is_not(tmp_path):
    cfg = config.from_dict({}, ["model.units=24"])
    config.save(cfg, tmp_path / "config.yaml")
    assert config.load_run_config(tmp_path).model.units == 24
    with pytest.raises(config.ConfigError, match=r"nothing' is not a run folder"):
        config.load_run_config(tmp_path / "nothing")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("epochs=0", "'epochs' must be at least 1, got 0"),
        ("batch_size=0", "'batch_size' must be at least 1, got 0"),
        ("steps=-1", "'steps' must be 0 or more, got -1"),
        ("optim.lr=-1", "'optim.lr' must be positive, got -1.0"),
        ("optim.lr=0", "'optim.lr' must be positive, got 0.0"),
        ("dset.top_db=-10", "'dset.top_db' must be 0 or more, got -10.0"),
        ("train.shuffle_buffer=0", "'train.shuffle_buffer' must be at least 1, got 0"),
    ],
)
def test_out_of_range_values_are_refused_by_every_command(
    override: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # one validation at load time: the config command and a stage's command say the same
    with pytest.raises(config.ConfigError, match=message):
        config.from_dict({}, [override])
    assert main(["config", override]) == 2
    assert message in capsys.readouterr().err
    assert main(["prepare", override]) == 2
    assert message in capsys.readouterr().err


def test_a_bad_override_is_blamed_not_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  units: 32\n")
    with pytest.raises(config.ConfigError) as err:
        config.load(path, ["model.units=abc", "epochs=3"])
    msg = str(err.value)
    assert msg.startswith("override 'model.units=abc': ") and str(path) not in msg
    with pytest.raises(config.ConfigError, match=r"^overrides 'epochs=0', 'batch_size=0': "):
        config.load(path, ["epochs=0", "batch_size=0", "seed=3"])
    # an error in the file itself still names the file
    path.write_text("model:\n  units: abc\n")
    with pytest.raises(
        config.ConfigError, match="^" + re.escape(f"{path}: 'model.units' must be an integer")
    ):
        config.load(path, ["epochs=3"])
    # an override may repair the file: no error then
    path.write_text("dset:\n  n_fft: 256\n  win_length: 256\n  hop_length: 128\n")
    assert config.load(path, ["model.n_feature=129"]).model.n_feature == 129


def test_an_empty_config_file_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing here yet\n")
    assert config.load(path) == config.load()
    assert f"config file '{path}' is empty" in caplog.text and "defaults" in caplog.text


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_text_files_follow_the_umask(tmp_path: Path, umask: int) -> None:
    import os
    import stat

    old = os.umask(umask)
    try:
        config.atomic_write_text(tmp_path / "x.txt", "text\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "x.txt").stat().st_mode) == 0o666 & ~umask


def test_exponent_numbers_without_a_dot_are_numbers(tmp_path: Path) -> None:
    """PyYAML (YAML 1.1) reads 3e-4 as a string; as a value of a number key it is the number,
    in an override and in a config file alike. Other strings stay an error."""
    cfg = config.from_dict({}, ["optim.lr=3e-4", "optim.min_lr=1E-6", "optim.epsilon=2.5e-10"])
    assert (cfg.optim.lr, cfg.optim.min_lr, cfg.optim.epsilon) == (3e-4, 1e-6, 2.5e-10)
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  lr: 5e-4\n")
    assert config.load(path).optim.lr == 5e-4
    for bad in ("optim.lr=1e", "optim.lr=e-4", "optim.lr=fast"):
        with pytest.raises(config.ConfigError, match=r"'optim\.lr' must be a number"):
            config.from_dict({}, [bad])
    assert config.from_dict({}, ["model.name=1e3"]).model.name == "1e3"  # strings stay strings
