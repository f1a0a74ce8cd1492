"""The mixer's inputs: its `mix.*` settings, and the speech and noise files it finds.

Speech files are grouped by speaker, the speaker being the name of the file's parent folder.
Every file's header is read before any mixing, so that a bad file fails early; input the mixer
cannot use raises :class:`MixError` naming the folder or file.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from . import LstmSeError, audio
from .config import ConfigError, MixConfig

log = logging.getLogger(__name__)


class MixError(LstmSeError, ValueError):
    """Input the mixer cannot use; the message names the folder or file."""


def check_config(cfg: MixConfig) -> None:
    """Raise ConfigError naming the `mix.*` key whose value the mixer cannot use."""
    problems = []
    for key in ("train_snrs", "test_snrs"):
        values = getattr(cfg, key)
        if not values:
            problems.append(f"'mix.{key}' must list at least one SNR")
        elif not all(math.isfinite(v) for v in values):
            problems.append(f"'mix.{key}' must hold finite numbers, got {list(values)}")
    for key in ("test_speakers", "test_noises"):
        share = getattr(cfg, key)
        if not 0.0 < share < 1.0:
            problems.append(f"'mix.{key}' must be in (0, 1) (a share of the inputs), got {share}")
    if cfg.mixtures_per_utterance < 1:
        problems.append(
            f"'mix.mixtures_per_utterance' must be at least 1, got {cfg.mixtures_per_utterance}"
        )
    if cfg.sample_rate < 1000:
        problems.append(f"'mix.sample_rate' must be at least 1000 Hz, got {cfg.sample_rate}")
    if not 0.0 < cfg.peak <= 1.0:
        problems.append(f"'mix.peak' must be in (0, 1], got {cfg.peak}")
    for key in ("reverb", "babble"):
        share = getattr(cfg, key)
        if not 0.0 <= share <= 1.0:
            problems.append(f"'mix.{key}' must be in [0, 1] (a share of the mixtures), got {share}")
    rt60 = tuple(cfg.rt60)
    if not (len(rt60) == 2 and all(math.isfinite(v) for v in rt60) and 0.0 < rt60[0] <= rt60[1]):
        problems.append(
            f"'mix.rt60' must be [low, high] seconds with 0 < low <= high, got {list(rt60)}"
        )
    talkers = tuple(cfg.babble_talkers)
    if not (len(talkers) == 2 and 2 <= talkers[0] <= talkers[1]):
        problems.append(
            f"'mix.babble_talkers' must be [low, high] with 2 <= low <= high, got {list(talkers)}"
        )
    if problems:
        raise ConfigError("; ".join(problems))


def _audio_files(folder: str | os.PathLike[str], what: str) -> list[Path]:
    """Audio files under `folder`, recursively; MixError naming the folder when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MixError(f"{what} folder '{folder}' does not exist or is not a folder")
    files = audio.list_audio(folder)
    if not files:
        raise MixError(
            f"{what} folder '{folder}' holds no audio files ({', '.join(audio.AUDIO_SUFFIXES)})"
        )
    return files


def find_speech(folder: str | os.PathLike[str]) -> dict[str, list[Path]]:
    """Speech files under `folder` (wav/flac, recursive) grouped by speaker = parent folder name.

    Raises MixError when the folder does not exist or holds no audio files.
    """
    files = _audio_files(folder, "speech")
    by_speaker: dict[str, list[Path]] = {}
    parents: dict[str, set[Path]] = {}
    for path in files:
        by_speaker.setdefault(path.parent.name, []).append(path)
        parents.setdefault(path.parent.name, set()).add(path.parent)
    for name, dirs in parents.items():
        if len(dirs) > 1:
            # The name is the speaker identity, so same-named folders are one speaker; say so, as
            # it may also be two different people filed under one name.
            log.warning(
                "speaker '%s' comes from %d folders (%s); treated as one speaker",
                name,
                len(dirs),
                ", ".join(sorted(str(d) for d in dirs)),
            )
    return {k: sorted(v) for k, v in sorted(by_speaker.items())}


def find_noise(folder: str | os.PathLike[str]) -> list[Path]:
    """Noise files under `folder` (wav/flac, recursive); MixError when there are none."""
    return _audio_files(folder, "noise")


def check_readable(paths: Sequence[Path], what: str, progress: bool = True) -> None:
    """Read every header now, so a bad file fails before any mixing (the message names it)."""
    for path in tqdm(paths, desc=f"check {what}", unit="file", leave=False, disable=not progress):
        try:
            info = audio.info(path)
        except audio.AudioError as exc:
            raise MixError(f"{what} file {exc}") from None
        if info.frames <= 0:
            raise MixError(f"{what} file {path}: holds no samples")
