"""The plan of a corpus: every decision that needs the mixer's global seeded generator, made
in one place and one order, before any audio is mixed.

**Speakers.** The speaker of a speech file is the name of its parent folder; `nnn` counts the
pairs written for that speaker (001, 002, ...; more digits past 999). Speakers are split
speaker-disjointly: a seeded shuffle puts `mix.test_speakers` of them (at least one, never all)
in the test set. Noise files are split the same way (`mix.test_noises`), so the test set is
mixed with recordings the training set never hears.

**SNRs.** Train mixtures take SNRs from `mix.train_snrs`, test mixtures from `mix.test_snrs`.
Within a set the SNRs and the noise files are dealt out evenly (every value and every file
used equally often, to within one), in a seeded random order.

Each speech file becomes one :class:`Job` (its mixtures, each a :class:`Mixture`), mixed by a
worker process (mix.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import MixConfig
from .mix_augment import BABBLE_PREFIX, pick_talkers
from .mix_inputs import MixError


def _split(items: Sequence[Any], share: float, rng: np.random.Generator) -> tuple[list, list]:
    """(train, test) of `items`: a seeded shuffle gives round(share * n) to test, at least 1
    and at most n - 1; both parts keep the input order."""
    n = len(items)
    n_test = min(max(round(share * n), 1), n - 1)
    test_idx = set(rng.permutation(n)[:n_test].tolist())
    train = [x for i, x in enumerate(items) if i not in test_idx]
    test = [x for i, x in enumerate(items) if i in test_idx]
    return train, test


def _choose(count: int, share: float, rng: np.random.Generator) -> list[bool]:
    """Which of `count` items get a treatment given to `share` of them: round(share * count),
    at random. Draws nothing when `share` is 0."""
    if share <= 0.0 or count == 0:
        return [False] * count
    chosen = set(rng.permutation(count)[: round(share * count)].tolist())
    return [i in chosen for i in range(count)]


def _deal(values: Sequence[Any], count: int, rng: np.random.Generator) -> list[Any]:
    """`count` picks from `values`, each used equally often (to within one), in random order."""
    if count == 0:
        return []
    reps = -(-count // len(values))
    # Shuffle the values first so that which ones get the extra use is random too.
    order = [values[i] for i in rng.permutation(len(values))]
    pool = (order * reps)[:count]
    return [pool[i] for i in rng.permutation(count)]


@dataclass(frozen=True)
class Mixture:
    """One clean/noisy pair to write: its name, noise (file or babble), SNR and reverberation."""

    utterance: str
    noise: str
    noise_label: str
    snr_db: float
    rt60: float = 0.0  # 0: dry
    babble: tuple[str, ...] = ()  # talker files; empty: `noise` is a noise file
    babble_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Job:
    """One speech file and all its mixtures: the unit of work of a mixing process."""

    index: int
    set: str
    speech: str
    speech_label: str
    mixtures: tuple[Mixture, ...]
    out_dir: str
    sample_rate: int
    peak: float
    seed: int


def label(path: Path, root: Path | None) -> str:
    """How a source file is named in log.csv: relative to its root folder when given."""
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return str(path)


def plan(
    speech_by_speaker: Mapping[str, Sequence[Path]],
    noise_files: Sequence[Path],
    cfg: MixConfig,
    out_tmp: Path,
    speech_root: Path | None,
    noise_root: Path | None,
) -> tuple[list[Job], dict[str, Any]]:
    """Every decision that needs the global generator, made in one place and one order."""
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0]))
    # The augmentations draw from their own generator, and only when switched on, so that the
    # draws above (and the corpus) stay what they were without them.
    aug_rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 2]))
    min_talkers, max_talkers = cfg.babble_talkers
    speakers = sorted(speech_by_speaker)
    train_spk, test_spk = _split(speakers, cfg.test_speakers, rng)
    noises = sorted(noise_files, key=str)
    train_noise, test_noise = _split(noises, cfg.test_noises, rng)
    jobs: list[Job] = []
    sets = {
        "train": (train_spk, train_noise, cfg.train_snrs, cfg.mixtures_per_utterance),
        "test": (test_spk, test_noise, cfg.test_snrs, 1),
    }
    for set_name, (spk_list, noise_list, snrs, per_utt) in sets.items():
        utts = [(s, p) for s in spk_list for p in speech_by_speaker[s]]
        n_mix = len(utts) * per_utt
        is_babble = _choose(n_mix, cfg.babble, aug_rng)
        is_reverb = _choose(n_mix, cfg.reverb, aug_rng)
        if any(is_babble) and len(spk_list) <= max_talkers:
            raise MixError(
                f"mix.babble: the {set_name} set has {len(spk_list)} speakers, but a babble of up "
                f"to {max_talkers} talkers (mix.babble_talkers) from speakers other than the "
                f"target needs at least {max_talkers + 1}; lower mix.babble_talkers or add speakers"
            )
        snr_seq = _deal(list(snrs), n_mix, rng)
        noise_seq = iter(_deal(noise_list, n_mix - sum(is_babble), rng))
        set_speech = {s: speech_by_speaker[s] for s in spk_list}
        counters: dict[str, int] = {}
        k = 0
        for speaker, path in utts:
            mixtures = []
            for _ in range(per_utt):
                counters[speaker] = counters.get(speaker, 0) + 1
                rt60 = float(aug_rng.uniform(*cfg.rt60)) if is_reverb[k] else 0.0
                if is_babble[k]:
                    n_talkers = int(aug_rng.integers(min_talkers, max_talkers + 1))
                    talkers = pick_talkers(set_speech, speaker, n_talkers, aug_rng)
                    noise, noise_label = "", f"{BABBLE_PREFIX}{n_talkers}"
                else:
                    talkers = []
                    noise_path = next(noise_seq)
                    noise, noise_label = str(noise_path), label(noise_path, noise_root)
                mixtures.append(
                    Mixture(
                        utterance=f"{speaker}_{counters[speaker]:03d}",
                        noise=noise,
                        noise_label=noise_label,
                        snr_db=float(snr_seq[k]),
                        rt60=rt60,
                        babble=tuple(str(t) for t in talkers),
                        babble_labels=tuple(label(t, speech_root) for t in talkers),
                    )
                )
                k += 1
            jobs.append(
                Job(
                    index=len(jobs),
                    set=set_name,
                    speech=str(path),
                    speech_label=label(path, speech_root),
                    mixtures=tuple(mixtures),
                    out_dir=str(out_tmp),
                    sample_rate=cfg.sample_rate,
                    peak=cfg.peak,
                    seed=cfg.seed,
                )
            )
    split = {
        "speakers": {"train": train_spk, "test": test_spk},
        "noise_files": {
            "train": [label(p, noise_root) for p in train_noise],
            "test": [label(p, noise_root) for p in test_noise],
        },
    }
    return jobs, split
