"""Shared fixtures: a tiny corpus in the VoiceBank-DEMAND layout, built with numpy + soundfile.

Harmonic tones with a syllable-like envelope (one pitch per speaker) as clean speech, plus
white noise at a per-utterance SNR as the noisy version; 48 kHz 16-bit like VoiceBank. Seconds
to build, no dependence on the demo corpus generator.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

TRAIN = ("clean_trainset_28spk_wav", "noisy_trainset_28spk_wav")
TEST = ("clean_testset_wav", "noisy_testset_wav")


def speech_like(seconds: float, rate: int, f0: float, rng: np.random.Generator) -> np.ndarray:
    """A harmonic tone (5 partials) under a 4 Hz on/off envelope, peak about 0.5."""
    t = np.arange(round(seconds * rate)) / rate
    x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 6))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 2 * np.pi))
    x = x * envelope
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


def write_pair(
    root: Path,
    subset: str,
    utt: str,
    seconds: float,
    rng: np.random.Generator,
    rate: int = 48000,
    f0: float = 150.0,
    snr_db: float = 5.0,
) -> None:
    """Write `<utt>.wav` into the clean and noisy folders of `subset` ('train' or 'test')."""
    clean_dir, noisy_dir = TRAIN if subset == "train" else TEST
    clean = speech_like(seconds, rate, f0, rng)
    noise = rng.standard_normal(len(clean)).astype(np.float32)
    noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    noisy = np.clip(clean + noise, -0.99, 0.99)
    for folder, x in ((clean_dir, clean), (noisy_dir, noisy)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        sf.write(root / folder / f"{utt}.wav", x, rate, subtype="PCM_16")


def make_corpus(
    root: Path,
    train_speakers: Sequence[str] = ("p001", "p002", "p003", "p004"),
    test_speakers: Sequence[str] = ("p101", "p102"),
    per_speaker: int = 3,
    seconds: tuple[float, float] = (1.0, 1.5),
    rate: int = 48000,
    seed: int = 0,
) -> Path:
    """Build a corpus under `root` and return it."""
    rng = np.random.default_rng(seed)
    for subset, speakers in (("train", train_speakers), ("test", test_speakers)):
        for k, spk in enumerate(speakers):
            f0 = 110.0 + 23.0 * k + (7.0 if subset == "test" else 0.0)
            for i in range(per_speaker):
                write_pair(
                    root,
                    subset,
                    f"{spk}_{i + 1:03d}",
                    float(rng.uniform(*seconds)),
                    rng,
                    rate=rate,
                    f0=f0,
                    snr_db=float(rng.choice([0.0, 5.0, 10.0])),
                )
    return root


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only tiny corpus shared by the session (copy it before changing anything)."""
    return make_corpus(tmp_path_factory.mktemp("corpus") / "vb")


@pytest.fixture
def corpus_copy(tiny_corpus: Path, tmp_path: Path) -> Callable[[], Path]:
    """Returns a function that copies the tiny corpus into this test's tmp folder."""

    def copy() -> Path:
        dst = tmp_path / "corpus"
        shutil.copytree(tiny_corpus, dst)
        return dst

    return copy


@pytest.fixture
def small_cfg() -> Callable[..., object]:
    """Config factory: short segments and small shards for the tiny corpus."""
    from runs import tiny_config

    return tiny_config
