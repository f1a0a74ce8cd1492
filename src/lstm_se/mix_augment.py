"""What the mixer adds to the speech besides noise files: noise segments, simulated room
reverberation and babble of other talkers.

**Noise segment.** A random offset into the noise file (resampled to the output rate) gives a
segment as long as the speech. A noise file shorter than the speech is **looped**: the segment
wraps around the end of the file, starting at a random offset (logged in `noise_looped`).
Nothing is padded into the speech: clean and noisy files have exactly the speech's length.

**Reverberation** (`mix.reverb`, `mix.rt60`; :func:`room_impulse_response`). Off by default.
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

**Babble** (`mix.babble`, `mix.babble_talkers`; :func:`pick_talkers`, :func:`babble_noise`).
Off by default. A share `mix.babble` of the mixtures of each set (chosen like the reverberant
ones) takes, instead of a noise file, babble: one utterance of each of N other speakers of the
*same set* (never the target speaker, and never a speaker of the other set, so the split stays
speaker-disjoint), N drawn uniformly from `mix.babble_talkers` (inclusive), with N distinct
speakers. Each talker is scaled to the same active speech level (speech_level.py),
cut from a random offset to the speech's length (looped when shorter, as noise files are) and
summed; the sum is then mixed at the drawn SNR like any noise. The talkers are the source
files, dry and resampled, not earlier mixtures. log.csv names it `babble:N` in `noise_file`
and lists the talkers' files in `babble_files`; `noise_offset` is empty. A set with babble
mixtures needs at least max(`mix.babble_talkers`) + 1 speakers, or the mixer stops with an
error naming the set and the counts (lower `mix.babble_talkers` or add speakers). The noise
files are dealt evenly over the mixtures that are not babble.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy import signal

from .mix_inputs import MixError
from .speech_level import active_speech_power

RIR_DELAY_MS = (1.0, 5.0)
"""Range of the delay from the direct path to the start of the reverberant tail, in ms."""
RIR_DRR_DB = (0.0, 10.0)
"""Range of the direct-to-reverberant energy ratio of a simulated impulse response, in dB."""
BABBLE_PREFIX = "babble:"
"""`noise_file` of a babble mixture in log.csv: this prefix and the number of talkers."""


def noise_segment(
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
        segment, _, wrapped = noise_segment(np.asarray(x, dtype=np.float64), length, rng)
        total += segment / math.sqrt(level)
        looped = looped or wrapped
    return total, looped
