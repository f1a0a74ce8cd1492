"""Audio files: what a missing file, a non-finite resampling and a new file's mode look like."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lstm_se import audio


def test_a_missing_or_unreadable_input_is_named(tmp_path: Path) -> None:
    with pytest.raises(audio.AudioError) as err:
        audio.read(tmp_path / "nope.wav")
    assert str(err.value) == f"{tmp_path / 'nope.wav'}: no such file"
    with pytest.raises(audio.AudioError, match="is a folder, not an audio file"):
        audio.read(tmp_path)
    if os.geteuid() != 0:  # root reads any file
        locked = tmp_path / "locked.wav"
        sf.write(locked, np.zeros(100), 16000)
        locked.chmod(0)
        with pytest.raises(audio.AudioError, match=r"locked\.wav: cannot open") as err:
            audio.read(locked)
        assert "System error" not in str(err.value)


def test_resampling_that_overflows_is_an_error_not_nan() -> None:
    huge = np.full(4800, 1e37, np.float32)  # finite, but NaN after the resampling filter
    with pytest.raises(audio.AudioError, match=r"48000 -> 16000 Hz gave NaN/Inf.*peak 1e\+37"):
        audio.resample(huge, 48000, 16000)
    assert np.all(np.isfinite(audio.resample(np.ones(4800, np.float32), 48000, 16000)))


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_follow_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        audio.write(tmp_path / "x.wav", np.zeros(160, np.float32), 16000)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "x.wav").stat().st_mode) == 0o666 & ~umask
