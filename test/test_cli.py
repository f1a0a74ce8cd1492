"""The command line's own behaviour: TensorFlow's start-up lines are kept off the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lstm_se import cli


def test_tf_startup_noise_is_dropped_and_other_lines_kept() -> None:
    text = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1.0 123 port.cc:153] oneDNN custom operations are on. You may see ...\n"
        "E0000 00:00:1.0 123 cpu_feature_guard.cc:227] This TensorFlow binary is optimized\n"
        "To enable the following instructions: AVX512F FMA, in other operations, rebuild\n"
        "E0000 00:00:1.0 123 something.cc:1] a real error\n"
    )
    assert cli.drop_tf_startup_noise(text) == "E0000 00:00:1.0 123 something.cc:1] a real error\n"


def test_a_tensorflow_command_starts_without_startup_noise(tmp_path: Path) -> None:
    # `train` imports TensorFlow before it reads the config: the error is the only line
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    done = subprocess.run(
        [sys.executable, "-m", "lstm_se.cli", "train", "-c", str(tmp_path / "none.yaml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert "none.yaml' does not exist" in done.stderr
    assert "oneDNN" not in done.stderr and "absl::InitializeLog" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize("bad", ["0", "-3", "many"])
def test_export_max_clips_must_be_a_positive_count(bad, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["export", "--run", "result/x", "--max-clips", bad])
    assert exc.value.code == 2
    assert "--max-clips: must be a whole number of at least 1" in capsys.readouterr().err
