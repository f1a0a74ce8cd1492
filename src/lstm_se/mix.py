"""Corpus maker: folders of clean speech and noise -> a corpus in the VoiceBank-DEMAND layout.

`lstm-se mix --speech DIR --noise DIR --out DIR` (and `lstm-se demo-data`, through
:func:`make_corpus`) writes::

    OUT/clean_trainset_28spk_wav/<speaker>_<nnn>.wav   OUT/noisy_trainset_28spk_wav/...
    OUT/clean_testset_wav/<speaker>_<nnn>.wav          OUT/noisy_testset_wav/...
    OUT/log.csv     one row per written clean/noisy pair (see LOG_COLUMNS)
    OUT/info.json   counts, settings, seed, speakers and noise files of each set, SNR statistics

What it does, and why:

* **Speakers.** The speaker of a speech file is the name of its parent folder; `nnn` counts the
  pairs written for that speaker (001, 002, ...; more digits past 999). Speakers are split
  speaker-disjointly: a seeded shuffle puts `mix.test_speakers` of them (at least one, never all)
  in the test set. Noise files are split the same way (`mix.test_noises`), so the test set is
  mixed with recordings the training set never hears.
* **SNRs.** Train mixtures take SNRs from `mix.train_snrs`, test mixtures from `mix.test_snrs`.
  Within a set the SNRs and the noise files are dealt out evenly (every value and every file
  used equally often, to within one), in a seeded random order.
* **SNR definition** (:func:`active_speech_power`, :func:`active_snr`). The speech level is
  measured on *active* speech, so that pauses do not make the noise look louder than it is: the
  speech is cut into non-overlapping 20 ms frames (a tail shorter than a frame is ignored; a file
  shorter than one frame is one frame), and a frame is active when its mean-square energy is
  within 40 dB of the loudest frame's. The speech power is the mean energy of the active frames.
  The noise power is the mean square over the whole noise segment that is added (every sample,
  pauses and all). SNR = 10 log10(speech power / noise power). This is a simplified form of the
  ITU-T P.56 active speech level (fixed relative threshold instead of P.56's adaptive one).
* **Noise segment.** A random offset into the noise file (resampled to the output rate) gives a
  segment as long as the speech. A noise file shorter than the speech is **looped**: the segment
  wraps around the end of the file, starting at a random offset (logged in `noise_looped`).
  Nothing is padded into the speech: clean and noisy files have exactly the speech's length.
* **Levels.** The speech keeps its own level (gain 1); the noise gain sets the SNR. If the
  mixture's (or the clean speech's) absolute peak would exceed `mix.peak`, clean and noisy are
  scaled down together (same factor, so the SNR holds) and the row says `rescaled=yes`. No
  sample is ever clipped.
* **Reverberation** (`mix.reverb`, `mix.rt60`; :func:`room_impulse_response`). Off by default.
  A share `mix.reverb` of the mixtures of each set (round(share x mixtures), chosen at random)
  has its speech convolved with a simulated room impulse response, and that reverberant speech
  is both what is mixed and the clean file written: the target stays reverberant (as the
  reference of real reverberant recordings is), so a model trained on it learns to remove noise,
  not reverberation. The SNR is measured on the reverberant speech. The impulse response is a
  simple statistical model, not a room simulation: a direct-path impulse at sample 0, then, after
  a delay drawn uniformly from 1-5 ms (:data:`RIR_DELAY_MS`), a Gaussian white-noise tail with
  the amplitude envelope exp(-3 ln(10) t / RT60) (t from the direct path), so that its energy
  falls by 60 dB over RT60. RT60 is drawn uniformly from `mix.rt60`. The tail is scaled to a
  direct-to-reverberant ratio (direct energy over tail energy) drawn uniformly from 0 to +10 dB
  (:data:`RIR_DRR_DB`), and the response ends RT60 after the tail starts (60 dB or more down).
  The whole response is scaled to unit energy, so the reverberant speech keeps on average the
  level of the dry speech. The decay is the same at every frequency (no air absorption, no
  early reflections). The convolution keeps the speech's length and timing: the direct path
  stays on the same sample, and the reverberation past the end of the file is cut.
  log.csv gives each mixture's RT60 and DRR (`rt60_s`, `drr_db`; empty when dry).
* **Babble** (`mix.babble`, `mix.babble_talkers`; :func:`pick_talkers`, :func:`babble_noise`).
  Off by default. A share `mix.babble` of the mixtures of each set (chosen like the reverberant
  ones) takes, instead of a noise file, babble: one utterance of each of N other speakers of the
  *same set* (never the target speaker, and never a speaker of the other set, so the split stays
  speaker-disjoint), N drawn uniformly from `mix.babble_talkers` (inclusive), with N distinct
  speakers. Each talker is scaled to the same active speech level (the measurement above),
  cut from a random offset to the speech's length (looped when shorter, as noise files are) and
  summed; the sum is then mixed at the drawn SNR like any noise. The talkers are the source
  files, dry and resampled, not earlier mixtures. log.csv names it `babble:N` in `noise_file`
  and lists the talkers' files in `babble_files`; `noise_offset` is empty. A set with babble
  mixtures needs at least max(`mix.babble_talkers`) + 1 speakers, or the mixer stops with an
  error naming the set and the counts (lower `mix.babble_talkers` or add speakers). The noise
  files are dealt evenly over the mixtures that are not babble.
* **Reproducible.** The split and the assignment of noise files and SNRs come from one seeded
  generator; each utterance's noise offset comes from its own generator seeded by
  (`mix.seed`, utterance index). The augmentations draw from generators of their own (which
  mixtures, RT60s and talkers from one; impulse responses and babble offsets from one per
  utterance), so with `mix.reverb` and `mix.babble` at 0 nothing is drawn for them and a seed
  gives the same audio as before they existed. The same inputs and seed give identical bytes,
  whatever the number of worker processes. `info.json` holds no timestamps for that reason.
* **Atomic.** Everything is written into a temporary sibling of the output folder, which is
  renamed into place at the end; an existing output folder is refused unless `force` is given.
  Bad input (empty folder, unreadable file, too few speakers or noise files) raises
  :class:`MixError` naming the folder or file, before or while writing, and leaves no output.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import math
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy import signal
from tqdm import tqdm

from . import LstmSeError, __version__, audio
from .config import Config, ConfigError, MixConfig

log = logging.getLogger(__name__)

TRAIN_CLEAN = "clean_trainset_28spk_wav"
TRAIN_NOISY = "noisy_trainset_28spk_wav"
TEST_CLEAN = "clean_testset_wav"
TEST_NOISY = "noisy_testset_wav"
FOLDERS = {"train": (TRAIN_CLEAN, TRAIN_NOISY), "test": (TEST_CLEAN, TEST_NOISY)}

FRAME_MS = 20.0
"""Frame length of the active-speech measurement."""
ACTIVE_RANGE_DB = 40.0
"""A frame is active speech when its energy is within this many dB of the loudest frame."""

SNR_DEFINITION = (
    "speech power = mean energy of the active 20 ms frames (non-overlapping; active = energy "
    "within 40 dB of the loudest frame); noise power = mean square of the whole added noise "
    "segment; SNR = 10 log10(speech power / noise power)"
)

LOG_COLUMNS = (
    "set",
    "utterance",
    "speech_file",
    "noise_file",
    "noise_offset",
    "snr_db",
    "measured_snr_db",
    "speech_gain",
    "noise_gain",
    "rescaled",
    "noise_looped",
    "seconds",
    "rt60_s",
    "drr_db",
    "babble_files",
)
"""Columns of log.csv. `noise_offset` is in samples at the output rate (empty for babble);
`measured_snr_db` is measured back from the written 16-bit files with the definition above; the
gains are the factors applied to the source (or reverberant) speech and noise segment (after any
rescaling); `noise_looped` is yes when the noise file, or any babble talker, was looped;
`rt60_s` and `drr_db` describe the impulse response of a reverberant mixture (empty when dry);
`babble_files` lists the talkers of a babble, separated by `;` (empty otherwise)."""

RIR_DELAY_MS = (1.0, 5.0)
"""Range of the delay from the direct path to the start of the reverberant tail, in ms."""
RIR_DRR_DB = (0.0, 10.0)
"""Range of the direct-to-reverberant energy ratio of a simulated impulse response, in dB."""
BABBLE_PREFIX = "babble:"
"""`noise_file` of a babble mixture in log.csv: this prefix and the number of talkers."""

_MAX_OFFSET_TRIES = 10
_PCM16_MAX = 32767 / 32768


class MixError(LstmSeError, ValueError):
    """Input the mixer cannot use; the message names the folder or file."""


# ---------------------------------------------------------------------------------------------
# levels


def active_speech_power(
    x: np.ndarray, rate: int, frame_ms: float = FRAME_MS, range_db: float = ACTIVE_RANGE_DB
) -> float:
    """Mean energy of the active frames of `x` (see the module docstring); 0.0 for silence."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return 0.0
    n = max(1, round(rate * frame_ms / 1000.0))
    n_frames = len(x) // n
    frames = x[None, :] if n_frames == 0 else x[: n_frames * n].reshape(n_frames, n)
    energy = np.mean(np.square(frames), axis=1)
    loudest = float(energy.max())
    if loudest <= 0.0:
        return 0.0
    active = energy >= loudest * 10.0 ** (-range_db / 10.0)
    return float(energy[active].mean())


def noise_power(x: np.ndarray) -> float:
    """Mean square of every sample of `x` (0.0 for an empty array)."""
    x = np.asarray(x, dtype=np.float64)
    return float(np.mean(np.square(x))) if x.size else 0.0


def active_snr(clean: np.ndarray, noisy: np.ndarray, rate: int) -> float:
    """SNR in dB of a pair as the mixer defines it: active clean power over (noisy - clean) power.

    +inf when noisy equals clean; -inf when the clean signal is silent.
    """
    clean = np.asarray(clean, dtype=np.float64)
    noisy = np.asarray(noisy, dtype=np.float64)
    if clean.shape != noisy.shape:
        raise ValueError(f"clean {clean.shape} and noisy {noisy.shape} differ in length")
    p_s = active_speech_power(clean, rate)
    p_n = noise_power(noisy - clean)
    if p_s <= 0.0:
        return float("-inf")
    if p_n <= 0.0:
        return float("inf")
    return 10.0 * math.log10(p_s / p_n)


# ---------------------------------------------------------------------------------------------
# inputs


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


def _check_readable(paths: Sequence[Path], what: str, progress: bool = True) -> None:
    """Read every header now, so a bad file fails before any mixing (the message names it)."""
    for path in tqdm(paths, desc=f"check {what}", unit="file", leave=False, disable=not progress):
        try:
            info = audio.info(path)
        except audio.AudioError as exc:
            raise MixError(f"{what} file {exc}") from None
        if info.frames <= 0:
            raise MixError(f"{what} file {path}: holds no samples")


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


# ---------------------------------------------------------------------------------------------
# one utterance (runs in a worker process)


@dataclass(frozen=True)
class _Mixture:
    utterance: str
    noise: str
    noise_label: str
    snr_db: float
    rt60: float = 0.0  # 0: dry
    babble: tuple[str, ...] = ()  # talker files; empty: `noise` is a noise file
    babble_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Job:
    index: int
    set: str
    speech: str
    speech_label: str
    mixtures: tuple[_Mixture, ...]
    out_dir: str
    sample_rate: int
    peak: float
    seed: int


def _noise_segment(
    noise: np.ndarray, length: int, rng: np.random.Generator
) -> tuple[np.ndarray, int, bool]:
    """A `length`-sample segment of `noise` from a random offset, wrapping (looping) when the
    noise is shorter than `length`. Returns (segment, offset, looped)."""
    if len(noise) >= length:
        offset = int(rng.integers(0, len(noise) - length + 1))
        return noise[offset : offset + length], offset, False
    offset = int(rng.integers(0, len(noise)))
    idx = (offset + np.arange(length)) % len(noise)
    return noise[idx], offset, True


def room_impulse_response(
    rt60: float, rate: int, rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    """A simulated room impulse response with reverberation time `rt60` seconds (see the module
    docstring): direct path at sample 0, exponentially decaying Gaussian tail, unit energy.

    Returns (response, direct-to-reverberant ratio in dB)."""
    delay = max(1, round(rng.uniform(*RIR_DELAY_MS) * rate / 1000.0))
    drr_db = float(rng.uniform(*RIR_DRR_DB))
    n = np.arange(delay, delay + math.ceil(rt60 * rate))
    tail = rng.standard_normal(len(n)) * np.exp(-3.0 * math.log(10.0) * n / (rate * rt60))
    tail *= math.sqrt(10.0 ** (-drr_db / 10.0) / np.sum(np.square(tail)))
    rir = np.zeros(delay + len(tail))
    rir[0] = 1.0
    rir[delay:] = tail
    return rir / math.sqrt(np.sum(np.square(rir))), drr_db


def reverberate(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """`x` convolved with `rir`, cut to the length of `x` (the direct path at rir[0] keeps every
    sample where it was; the reverberation past the end is dropped)."""
    return signal.fftconvolve(np.asarray(x, dtype=np.float64), rir)[: len(x)]


def pick_talkers(
    speech_by_speaker: Mapping[str, Sequence[Path]],
    target: str,
    count: int,
    rng: np.random.Generator,
) -> list[Path]:
    """One random utterance of each of `count` random speakers of `speech_by_speaker` other than
    `target`: the talkers of a babble. Pass only the speakers of the target's own set."""
    others = [s for s in sorted(speech_by_speaker) if s != target]
    if len(others) < count:
        raise MixError(
            f"a babble of {count} talkers needs {count} speakers besides '{target}', "
            f"found {len(others)}"
        )
    chosen = sorted(rng.choice(len(others), size=count, replace=False).tolist())
    return [
        speech_by_speaker[others[i]][int(rng.integers(len(speech_by_speaker[others[i]])))]
        for i in chosen
    ]


def babble_noise(
    talkers: Sequence[np.ndarray], length: int, rate: int, rng: np.random.Generator
) -> tuple[np.ndarray, bool]:
    """The sum of `talkers`, each at unit active speech power and cut to `length` samples from a
    random offset (looped when shorter). Returns (babble, whether any talker was looped)."""
    total = np.zeros(length)
    looped = False
    for x in talkers:
        level = active_speech_power(x, rate)
        if level <= 0.0:
            raise ValueError("a babble talker is silent")
        segment, _, wrapped = _noise_segment(np.asarray(x, dtype=np.float64), length, rng)
        total += segment / math.sqrt(level)
        looped = looped or wrapped
    return total, looped


def _mix_job(job: _Job) -> list[dict[str, Any]]:
    """Read, mix and write every mixture of one speech file; return its log rows."""
    rng = np.random.default_rng(np.random.SeedSequence([job.seed, 1, job.index]))
    # Its own generator, so that the noise offsets above stay what they were without them.
    aug_rng = np.random.default_rng(np.random.SeedSequence([job.seed, 3, job.index]))
    rate = job.sample_rate
    try:
        speech = audio.read_mono(job.speech, rate).astype(np.float64)
    except audio.AudioError as exc:
        raise MixError(f"speech file {exc}") from None
    p_speech = active_speech_power(speech, rate)
    if p_speech <= 0.0:
        raise MixError(f"speech file {job.speech}: is silent (all samples zero)")
    clean_dir, noisy_dir = (Path(job.out_dir) / d for d in FOLDERS[job.set])
    peak_limit = min(job.peak, _PCM16_MAX)
    rows = []
    for mixture in job.mixtures:
        source, p_source, drr_db = speech, p_speech, None
        if mixture.rt60 > 0.0:
            rir, drr_db = room_impulse_response(mixture.rt60, rate, aug_rng)
            source = reverberate(speech, rir)
            p_source = active_speech_power(source, rate)
        talkers = [_read_talker(path, rate) for path in mixture.babble]
        if not talkers:
            try:
                noise = audio.read_mono(mixture.noise, rate).astype(np.float64)
            except audio.AudioError as exc:
                raise MixError(f"noise file {exc}") from None
        offset: int | str = ""
        for _ in range(_MAX_OFFSET_TRIES):
            if talkers:
                segment, looped = babble_noise(talkers, len(speech), rate, aug_rng)
            else:
                segment, offset, looped = _noise_segment(noise, len(speech), rng)
            p_noise = noise_power(segment)
            if p_noise > 0.0:
                break
        else:
            what = f"babble of {', '.join(mixture.babble)}" if talkers else f"file {mixture.noise}"
            raise MixError(
                f"noise {what}: {_MAX_OFFSET_TRIES} random segments of "
                f"{len(speech)} samples were all silent"
            )
        noise_gain = math.sqrt(p_source / (p_noise * 10.0 ** (mixture.snr_db / 10.0)))
        speech_gain = 1.0
        noisy = source + noise_gain * segment
        top = max(float(np.abs(noisy).max()), float(np.abs(source).max()))
        rescaled = top > peak_limit
        if rescaled:
            # One factor for both keeps the SNR and the clean/noisy relation exact.
            scale = peak_limit / top
            speech_gain *= scale
            noise_gain *= scale
            noisy = noisy * scale
        clean = source * speech_gain
        clean_path = clean_dir / f"{mixture.utterance}.wav"
        noisy_path = noisy_dir / f"{mixture.utterance}.wav"
        clipped = audio.write(clean_path, clean, rate) + audio.write(noisy_path, noisy, rate)
        if clipped:  # cannot happen with peak_limit <= PCM16 max; guard against a future change
            raise RuntimeError(f"{noisy_path}: {clipped} samples clipped")
        # Measure what was actually written (16-bit), not the float arrays.
        clean_q, _ = sf.read(str(clean_path), dtype="float64")
        noisy_q, _ = sf.read(str(noisy_path), dtype="float64")
        rows.append(
            {
                "set": job.set,
                "utterance": mixture.utterance,
                "speech_file": job.speech_label,
                "noise_file": mixture.noise_label,
                "noise_offset": offset,
                "snr_db": mixture.snr_db,
                "measured_snr_db": round(active_snr(clean_q, noisy_q, rate), 3) + 0.0,  # no -0.0
                "speech_gain": float(f"{speech_gain:.6g}"),
                "noise_gain": float(f"{noise_gain:.6g}"),
                "rescaled": "yes" if rescaled else "no",
                "noise_looped": "yes" if looped else "no",
                "seconds": round(len(speech) / rate, 4),
                "rt60_s": round(mixture.rt60, 4) if mixture.rt60 > 0.0 else "",
                "drr_db": round(drr_db, 3) if drr_db is not None else "",
                "babble_files": ";".join(mixture.babble_labels),
            }
        )
    return rows


def _read_talker(path: str, rate: int) -> np.ndarray:
    try:
        x = audio.read_mono(path, rate).astype(np.float64)
    except audio.AudioError as exc:
        raise MixError(f"speech file {exc}") from None
    if active_speech_power(x, rate) <= 0.0:
        raise MixError(f"speech file {path}: is silent (all samples zero)")
    return x


# ---------------------------------------------------------------------------------------------
# the corpus


def _label(path: Path, root: Path | None) -> str:
    """How a source file is named in log.csv: relative to its root folder when given."""
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return str(path)


def _plan(
    speech_by_speaker: Mapping[str, Sequence[Path]],
    noise_files: Sequence[Path],
    cfg: MixConfig,
    out_tmp: Path,
    speech_root: Path | None,
    noise_root: Path | None,
) -> tuple[list[_Job], dict[str, Any]]:
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
    jobs: list[_Job] = []
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
                    noise, noise_label = str(noise_path), _label(noise_path, noise_root)
                mixtures.append(
                    _Mixture(
                        utterance=f"{speaker}_{counters[speaker]:03d}",
                        noise=noise,
                        noise_label=noise_label,
                        snr_db=float(snr_seq[k]),
                        rt60=rt60,
                        babble=tuple(str(t) for t in talkers),
                        babble_labels=tuple(_label(t, speech_root) for t in talkers),
                    )
                )
                k += 1
            jobs.append(
                _Job(
                    index=len(jobs),
                    set=set_name,
                    speech=str(path),
                    speech_label=_label(path, speech_root),
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
            "train": [_label(p, noise_root) for p in train_noise],
            "test": [_label(p, noise_root) for p in test_noise],
        },
    }
    return jobs, split


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    a = np.asarray(values, dtype=np.float64)
    return {
        "mean": round(float(a.mean()), 3),
        "min": round(float(a.min()), 3),
        "max": round(float(a.max()), 3),
    }


def _summary(rows: list[dict[str, Any]], jobs: list[_Job]) -> dict[str, Any]:
    counts: dict[str, Any] = {}
    measured: dict[str, Any] = {}
    for set_name in FOLDERS:
        set_rows = [r for r in rows if r["set"] == set_name]
        set_jobs = [j for j in jobs if j.set == set_name]
        errors = [abs(r["measured_snr_db"] - r["snr_db"]) for r in set_rows]
        counts[set_name] = {
            "speakers": len({r["utterance"].rsplit("_", 1)[0] for r in set_rows}),
            "source_utterances": len(set_jobs),
            "pairs": len(set_rows),
            "seconds": round(sum(r["seconds"] for r in set_rows), 3),
            "rescaled": sum(r["rescaled"] == "yes" for r in set_rows),
            "noise_looped": sum(r["noise_looped"] == "yes" for r in set_rows),
            "reverberant": sum(r["rt60_s"] != "" for r in set_rows),
            "babble": sum(r["noise_file"].startswith(BABBLE_PREFIX) for r in set_rows),
        }
        measured[set_name] = {
            **_stats([r["measured_snr_db"] for r in set_rows]),
            "max_abs_error": round(max(errors), 3) if errors else 0.0,
        }
    return {"counts": counts, "measured_snr_db": measured}


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LOG_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _check_out(out: Path, force: bool, inputs: Sequence[Path]) -> None:
    if out.exists() and not force:
        raise MixError(f"output folder '{out}' already exists; use --force to replace it")
    if out.exists() and not out.is_dir():
        raise MixError(f"output '{out}' exists and is not a folder")
    out_r = out.resolve()
    for folder in inputs:
        f = folder.resolve()
        # --force would delete an input inside the output; an output inside an input would be
        # read back as input by the next run.
        if out_r == f or out_r in f.parents or f in out_r.parents:
            raise MixError(
                f"output folder '{out}' must not be, hold or lie inside input '{folder}'"
            )


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS has no sched_getaffinity
        return os.cpu_count() or 1


def make_corpus(
    speech_files_by_speaker: Mapping[str, Sequence[str | os.PathLike[str]]],
    noise_files: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    cfg: MixConfig,
    *,
    force: bool = False,
    workers: int = 1,
    speech_root: str | os.PathLike[str] | None = None,
    noise_root: str | os.PathLike[str] | None = None,
    extra_info: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Mix speech with noise into a VoiceBank-DEMAND-layout corpus at `out_dir`; return info.json.

    `speech_files_by_speaker` maps speaker name -> speech files; `noise_files` lists noise files.
    `workers` processes mix utterances in parallel (0: all available cores); the result does not
    depend on it. `speech_root`/`noise_root`, when given, make log.csv name files relative to
    them. `extra_info` is merged into info.json. Raises MixError (naming the file or folder) on
    unusable input and ConfigError on unusable `mix.*` settings; nothing is left at `out_dir`
    then (an existing folder is kept as it was).
    """
    check_config(cfg)
    out = Path(out_dir)
    speech_by_speaker = {
        str(s): [Path(p) for p in files] for s, files in speech_files_by_speaker.items() if files
    }
    noises = [Path(p) for p in noise_files]
    sroot = Path(speech_root) if speech_root is not None else None
    nroot = Path(noise_root) if noise_root is not None else None
    where = f" in '{sroot}'" if sroot is not None else ""
    if not speech_by_speaker:
        raise MixError(f"no speech files{where}")
    if len(speech_by_speaker) < 2:
        raise MixError(
            f"too few speakers{where}: found {len(speech_by_speaker)} "
            f"({', '.join(speech_by_speaker)}); a speaker-disjoint train/test split needs at least "
            "2 (one speaker = one subfolder)"
        )
    nwhere = f" in '{nroot}'" if nroot is not None else ""
    if not noises:
        raise MixError(f"no noise files{nwhere}")
    if len(noises) < 2:
        raise MixError(
            f"too few noise files{nwhere}: found 1 ({noises[0]}); disjoint train/test noise "
            "needs at least 2"
        )
    _check_out(out, force, [p for p in (sroot, nroot) if p is not None])
    all_speech = [p for files in speech_by_speaker.values() for p in files]
    _check_readable(all_speech, "speech", progress)
    _check_readable(noises, "noise", progress)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        for clean_dir, noisy_dir in FOLDERS.values():
            (tmp / clean_dir).mkdir()
            (tmp / noisy_dir).mkdir()
        jobs, split = _plan(speech_by_speaker, noises, cfg, tmp, sroot, nroot)
        n_workers = min(workers if workers > 0 else _available_cores(), len(jobs))
        log.info(
            "mixing %d speech files (%d speakers) with %d noise files into %s, %d worker(s)",
            len(jobs),
            len(speech_by_speaker),
            len(noises),
            out,
            n_workers,
        )
        rows: list[dict[str, Any]] = []
        bar = tqdm(total=len(jobs), desc="mix", unit="file", disable=not progress)
        with bar:
            if n_workers <= 1:
                for job in jobs:
                    rows.extend(_mix_job(job))
                    bar.update()
            else:
                # spawn, not fork: the caller may hold threads (TensorFlow) that fork would copy
                # in a locked state.
                ctx = multiprocessing.get_context("spawn")
                with ctx.Pool(n_workers) as pool:
                    for job_rows in pool.imap(_mix_job, jobs, chunksize=1):
                        rows.extend(job_rows)
                        bar.update()
        _log_details(rows, cfg)
        info: dict[str, Any] = {
            "generator": "lstm-se mix",
            "version": __version__,
            "seed": cfg.seed,
            "sample_rate": cfg.sample_rate,
            "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()},
            "snr_definition": SNR_DEFINITION,
            "noise_shorter_than_speech": "looped from a random offset",
            "sources": {
                "speech": str(sroot) if sroot is not None else None,
                "noise": str(nroot) if nroot is not None else None,
            },
            **_summary(rows, jobs),
            **split,
        }
        if extra_info:
            info.update(extra_info)
        (tmp / "log.csv").write_text(_csv_text(rows), encoding="utf-8")
        (tmp / "info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        _replace(tmp, out, force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _log_summary(info, out)
    return info


def _replace(tmp: Path, out: Path, force: bool) -> None:
    """Rename the finished temporary folder to `out` (moving an old `out` aside first)."""
    if out.exists():
        if not force:  # appeared while we were mixing
            raise MixError(f"output folder '{out}' appeared while mixing; use --force to replace")
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / out.name)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def _log_details(rows: list[dict[str, Any]], cfg: MixConfig) -> None:
    """Name the rescaled mixtures (debug) and each noise file that had to be looped (info)."""
    looped: dict[str, list[str]] = {}
    for row in rows:
        if row["rescaled"] == "yes":
            log.debug("%s: scaled down to peak %.3f", row["utterance"], cfg.peak)
        # Babble talkers are utterances about as long as the speech: looping them is expected.
        if row["noise_looped"] == "yes" and not row["babble_files"]:
            looped.setdefault(row["noise_file"], []).append(row["utterance"])
    for noise, utts in looped.items():
        log.info(
            "noise file %s is shorter than the speech of %d mixture(s) (%s%s): looped",
            noise,
            len(utts),
            ", ".join(utts[:3]),
            ", ..." if len(utts) > 3 else "",
        )


def _log_summary(info: dict[str, Any], out: Path) -> None:
    for set_name, c in info["counts"].items():
        m = info["measured_snr_db"][set_name]
        log.info(
            "%s: %d speakers, %d pairs, %.2f h; measured SNR %.2f..%.2f dB (mean %.2f, max error "
            "%.3f dB); %d rescaled, %d with looped noise",
            set_name,
            c["speakers"],
            c["pairs"],
            c["seconds"] / 3600,
            m.get("min", float("nan")),
            m.get("max", float("nan")),
            m.get("mean", float("nan")),
            m["max_abs_error"],
            c["rescaled"],
            c["noise_looped"],
        )
        if c["reverberant"] or c["babble"]:
            log.info(
                "%s: %d reverberant mixtures, %d with babble",
                set_name,
                c["reverberant"],
                c["babble"],
            )
    total = sum(c["pairs"] for c in info["counts"].values())
    rescaled = sum(c["rescaled"] for c in info["counts"].values())
    if total and rescaled / total > 0.1:
        log.warning(
            "%d of %d mixtures were scaled down to stay under mix.peak=%s (loud speech, or peaky "
            "noise at a low SNR); the rows with rescaled=yes in log.csv name them",
            rescaled,
            total,
            info["settings"]["peak"],
        )
    log.info("corpus written to %s (log.csv, info.json)", out)


def command(args: argparse.Namespace, cfg: Config) -> int:
    """`lstm-se mix`: --speech, --noise, --out, --force; returns the exit status."""
    try:
        speech = find_speech(args.speech)
        noise = find_noise(args.noise)
        make_corpus(
            speech,
            noise,
            args.out,
            cfg.mix,
            force=bool(args.force),
            workers=0,
            speech_root=args.speech,
            noise_root=args.noise,
        )
    except (MixError, audio.AudioError) as exc:
        log.error("%s", exc)
        return 1
    return 0
