"""The demo corpus: synthetic speech in generated noise, no download, in the VoiceBank layout.

`lstm-se demo-data --out DIR [--minutes M --speakers N]` generates, at 16 kHz (the model rate;
the mixer resamples to `mix.sample_rate`):

* **Speech** from a small source-filter (formant) synthesizer. Each speaker has its own pitch
  range, formant scale (vocal tract length: male, female and child-like voices), speaking rate,
  breathiness and level. An utterance is a sequence of phrases separated by pauses; a phrase is
  a sequence of syllables at about 4 per second. A syllable is an optional consonant onset
  (a fricative, band-pass filtered noise, or a stop: closure then burst) and a voiced vowel:
  a Rosenberg glottal pulse train, differentiated for lip radiation, through a cascade of four
  formant resonators that glide from the previous vowel's targets (coarticulation). Pitch falls
  over each phrase (declination), rises on stressed syllables and carries a little jitter.
* **Noise** of six kinds, two files each (different seeds and settings): white, pink (1/f),
  brown (1/f^2), mains hum (50 or 60 Hz with harmonics), babble (several overlapping streams
  of *other* synthetic speakers, never used as targets) and non-stationary bursts (filtered
  noise bursts, clicks and beeps on a low background).

Speech and noise go into a temporary folder, then through the corpus maker
(:func:`lstm_se.mix.make_corpus`): same split, SNRs, log.csv and info.json as `lstm-se mix`.
Everything is seeded by `mix.seed`: the same settings give the same bytes.
"""

from __future__ import annotations

import argparse
import logging
import math
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal
from tqdm import tqdm

from . import audio, mix, mix_inputs, speech_level
from .config import Config, MixConfig

log = logging.getLogger(__name__)

RATE = 16000
"""Rate of the generated speech and noise; the mixer resamples to mix.sample_rate."""

NOISE_KINDS = ("white", "pink", "brown", "hum", "babble", "bursts")
NOISE_FILES_PER_KIND = 2
NOISE_SECONDS = 12.0
BABBLE_SPEAKERS = 8
"""Extra synthetic speakers used only inside babble noise (never as targets)."""

# Formant targets (F1-F4, Hz) of an adult male voice, after Peterson & Barney (1952); speakers
# scale them by their formant factor.
VOWELS = np.array(
    [
        [270, 2290, 3010, 3500],  # i
        [390, 1990, 2550, 3500],  # ɪ
        [530, 1840, 2480, 3500],  # ɛ
        [660, 1720, 2410, 3500],  # æ
        [730, 1090, 2440, 3500],  # ɑ
        [570, 840, 2410, 3500],  # ɔ
        [440, 1020, 2240, 3500],  # ʊ
        [300, 870, 2240, 3500],  # u
        [640, 1190, 2390, 3500],  # ʌ
        [490, 1350, 1690, 3500],  # ɝ
    ],
    dtype=np.float64,
)
BANDWIDTHS = np.array([80.0, 100.0, 140.0, 200.0])
# Fricative noise bands in Hz (s, sh, f) for a scale of 1; capped below Nyquist.
FRICATIVES = {"s": (3800.0, 7500.0), "sh": (2000.0, 4500.0), "f": (1200.0, 7000.0)}
_BLOCK = 80  # formant update interval: 5 ms at 16 kHz


@dataclass(frozen=True)
class Speaker:
    """Voice of one synthetic speaker."""

    name: str
    kind: str
    """'male', 'female' or 'child' (sets the ranges below)."""
    f0: float
    """Mean pitch in Hz."""
    formant_scale: float
    """Factor on the adult male formant targets (shorter vocal tract: larger)."""
    rate: float
    """Syllables per second."""
    breathiness: float
    """Aspiration noise relative to the voiced source."""
    level_db: float
    """Active speech level in dBFS."""


def make_speaker(name: str, index: int, rng: np.random.Generator) -> Speaker:
    """A speaker whose voice type cycles male, female, male, female, child by `index`."""
    kind = ("male", "female", "male", "female", "child")[index % 5]
    f0_lo, f0_hi, sc_lo, sc_hi = {
        "male": (95.0, 140.0, 0.95, 1.05),
        "female": (175.0, 235.0, 1.12, 1.22),
        "child": (240.0, 300.0, 1.25, 1.35),
    }[kind]
    return Speaker(
        name=name,
        kind=kind,
        f0=float(rng.uniform(f0_lo, f0_hi)),
        formant_scale=float(rng.uniform(sc_lo, sc_hi)),
        rate=float(rng.uniform(3.5, 5.0)),
        breathiness=float(rng.uniform(0.02, 0.12)),
        level_db=float(rng.uniform(-30.0, -22.0)),
    )


# ---------------------------------------------------------------------------------------------
# speech


def _resonator_sos(freqs: np.ndarray, bws: np.ndarray, rate: int) -> np.ndarray:
    """Cascade of Klatt two-pole resonators (unity gain at DC) as second-order sections."""
    r = np.exp(-np.pi * bws / rate)
    b1 = 2.0 * r * np.cos(2.0 * np.pi * freqs / rate)
    c = -(r**2)
    a = 1.0 - b1 - c
    sos = np.zeros((len(freqs), 6))
    sos[:, 0] = a
    sos[:, 3] = 1.0
    sos[:, 4] = -b1
    sos[:, 5] = -c
    return sos


def _rosenberg(phase: np.ndarray, open_q: float = 0.4, close_q: float = 0.16) -> np.ndarray:
    """Rosenberg glottal flow pulse at phase in [0, 1)."""
    g = np.zeros_like(phase)
    rise = phase < open_q
    g[rise] = 0.5 * (1.0 - np.cos(np.pi * phase[rise] / open_q))
    fall = (phase >= open_q) & (phase < open_q + close_q)
    g[fall] = np.cos(0.5 * np.pi * (phase[fall] - open_q) / close_q)
    return g


def _smooth_noise(n: int, rng: np.random.Generator, cutoff_hz: float, rate: int) -> np.ndarray:
    """Low-pass noise of unit standard deviation (slow random wobble)."""
    sos = signal.butter(2, cutoff_hz, fs=rate, output="sos")
    x = signal.sosfilt(sos, rng.standard_normal(n + rate // 2))[rate // 2 :]
    return x / (x.std() + 1e-12)


def _band_sos(lo: float, hi: float, rate: int) -> np.ndarray:
    hi = min(hi, 0.45 * rate)
    return signal.butter(4, [lo, hi], btype="bandpass", fs=rate, output="sos")


def synth_utterance(
    speaker: Speaker, seconds: float, rng: np.random.Generator, rate: int = RATE
) -> np.ndarray:
    """About `seconds` of speech-like audio (float32) by `speaker`, with leading and trailing
    silence and pauses between phrases, at its active level `speaker.level_db`."""
    # Control tracks, one value per sample, built syllable by syllable.
    voice_amp: list[np.ndarray] = []
    noise_amp: list[np.ndarray] = []
    fric_kind: list[np.ndarray] = []  # 0: none, 1..3: FRICATIVES index + 1, 4: aspiration/burst
    pitch: list[np.ndarray] = []
    formants: list[np.ndarray] = []
    prev_vowel = VOWELS[rng.integers(len(VOWELS))] * speaker.formant_scale

    def add(
        n: int,
        av: np.ndarray | float,
        an: np.ndarray | float,
        kind: int,
        f0: np.ndarray,
        fmt: np.ndarray,
    ) -> None:
        voice_amp.append(np.broadcast_to(av, (n,)).astype(np.float64))
        noise_amp.append(np.broadcast_to(an, (n,)).astype(np.float64))
        fric_kind.append(np.full(n, kind, dtype=np.int8))
        pitch.append(np.broadcast_to(f0, (n,)).astype(np.float64))
        formants.append(np.broadcast_to(fmt, (n, 4)).astype(np.float64))

    def silence(sec: float, f0: float) -> None:
        n = int(sec * rate)
        add(n, 0.0, 0.0, 0, np.full(n, f0), prev_vowel)

    total = 0.0
    silence(float(rng.uniform(0.15, 0.35)), speaker.f0)
    while total < seconds:
        n_syll = int(rng.integers(3, 9))
        decl = np.linspace(1.12, 0.88, n_syll)  # pitch declination over the phrase
        for k in range(n_syll):
            if total >= seconds and k >= 2:  # end the utterance near the asked length
                break
            syl = float(rng.uniform(0.7, 1.3)) / speaker.rate
            stress = float(rng.uniform(0.55, 1.0))
            f0 = speaker.f0 * decl[k] * (1.0 + (0.15 * stress if stress > 0.85 else 0.0))
            onset = 0.0
            r = rng.random()
            if r < 0.45:  # fricative onset
                kind = int(rng.integers(1, 4))
                onset = float(rng.uniform(0.05, 0.11))
                n = int(onset * rate)
                env = np.sin(np.linspace(0.0, np.pi, n)) ** 0.5
                add(n, 0.0, env * float(rng.uniform(0.15, 0.35)), kind, np.full(n, f0), prev_vowel)
            elif r < 0.75:  # stop: closure, then a short burst
                closure = float(rng.uniform(0.03, 0.06))
                burst = float(rng.uniform(0.01, 0.02))
                onset = closure + burst
                silence(closure, f0)
                n = int(burst * rate)
                add(n, 0.0, np.exp(-np.linspace(0.0, 4.0, n)) * 0.5, 4, np.full(n, f0), prev_vowel)
            vowel_sec = max(syl - onset, 0.08)
            n = int(vowel_sec * rate)
            target = VOWELS[rng.integers(len(VOWELS))] * speaker.formant_scale
            glide = min(n, int(0.35 * n))
            w = np.concatenate([np.linspace(0.0, 1.0, glide), np.ones(n - glide)])[:, None]
            fmt = prev_vowel[None, :] * (1.0 - w) + target[None, :] * w
            t = np.linspace(0.0, 1.0, n)
            env = np.minimum(1.0, np.minimum(t / 0.12, (1.0 - t) / 0.25)).clip(0.0) ** 1.5
            f0_track = f0 * (1.0 + 0.04 * np.sin(np.pi * t) * stress)
            add(n, env * stress, 0.0, 0, f0_track, fmt)
            prev_vowel = target
            total += syl
        pause = float(rng.uniform(0.12, 0.4))
        silence(pause, speaker.f0 * 0.9)
        total += pause
    silence(float(rng.uniform(0.1, 0.3)), speaker.f0)

    av = np.concatenate(voice_amp)
    an = np.concatenate(noise_amp)
    kinds = np.concatenate(fric_kind)
    f0 = np.concatenate(pitch)
    fmt = np.concatenate(formants)
    n = len(av)
    # Smooth the amplitude tracks a little so segment joins do not click.
    smooth = np.hanning(int(0.008 * rate))
    smooth /= smooth.sum()
    av = np.convolve(av, smooth, mode="same")

    # Voiced source: Rosenberg pulses at the (jittered) pitch, differentiated (lip radiation).
    f0 = f0 * (1.0 + 0.01 * _smooth_noise(n, rng, 20.0, rate))
    phase = np.cumsum(f0 / rate) % 1.0
    glottal = np.diff(_rosenberg(phase), prepend=0.0) * (rate / (np.pi * speaker.f0))
    aspiration = speaker.breathiness * rng.standard_normal(n)
    excitation = av * (glottal + aspiration) + an * (kinds == 4) * rng.standard_normal(n)

    # Vocal tract: the formant cascade, updated every 5 ms with its state carried across.
    out = np.empty(n)
    zi = np.zeros((4, 2))
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        sos = _resonator_sos(fmt[start], BANDWIDTHS * speaker.formant_scale, rate)
        out[start:stop], zi = signal.sosfilt(sos, excitation[start:stop], zi=zi)

    # Fricatives bypass the tract: band-passed noise.
    for k, (lo, hi) in enumerate(FRICATIVES.values(), start=1):
        mask = kinds == k
        if mask.any():
            sos = _band_sos(lo * speaker.formant_scale**0.5, hi, rate)
            band = signal.sosfilt(sos, rng.standard_normal(n))
            out += an * mask * band * 3.0

    # Speech has little below ~70 Hz; high-pass so the differentiated source has no DC drift.
    out = signal.sosfilt(signal.butter(2, 70.0, btype="highpass", fs=rate, output="sos"), out)
    p = speech_level.active_speech_power(out, rate)
    gain = 10.0 ** (speaker.level_db / 20.0) / math.sqrt(p) if p > 0 else 0.0
    out *= gain
    # A recording-like floor far below the speech (-80 dBFS), so pauses are not digital zeros.
    out += 10.0 ** (-80.0 / 20.0) * rng.standard_normal(n)
    peak = float(np.abs(out).max())
    if peak > 0.9:  # keep headroom; a rare very peaky utterance is turned down
        out *= 0.9 / peak
    return out.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# noise


def _shaped_noise(n: int, rng: np.random.Generator, exponent: float, rate: int) -> np.ndarray:
    """Gaussian noise with power spectrum ~ 1/f**exponent (flat below 20 Hz), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / rate)
    spec *= np.maximum(f, 20.0) ** (-exponent / 2.0)
    spec[0] = 0.0
    x = np.fft.irfft(spec, n)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def babble_pool(
    speakers: list[Speaker], rng: np.random.Generator, per_speaker: int = 2, rate: int = RATE
) -> list[np.ndarray]:
    """Utterances of the babble speakers, synthesized once and shared by every babble file."""
    return [
        synth_utterance(spk, float(rng.uniform(2.0, 4.0)), rng, rate)
        for spk in speakers
        for _ in range(per_speaker)
    ]


def _babble(n: int, rng: np.random.Generator, pool: list[np.ndarray], rate: int) -> np.ndarray:
    """Several overlapping talkers, each a run of random utterances from the babble pool."""
    streams = int(rng.integers(4, 7))
    x = np.zeros(n)
    for _ in range(streams):
        parts: list[np.ndarray] = []
        have = int(rng.integers(0, rate))  # staggered starts
        parts.append(np.zeros(have))
        while have < n:
            utt = pool[int(rng.integers(len(pool)))].astype(np.float64)
            parts.append(utt)
            have += len(utt)
        stream = np.concatenate(parts)[:n]
        x += stream * 10.0 ** (float(rng.uniform(-4.0, 4.0)) / 20.0)
    return x


def _bursts(n: int, rng: np.random.Generator, rate: int) -> np.ndarray:
    """Non-stationary noise: events (filtered noise bursts, clicks, beeps) on a low floor."""
    x = 0.05 * _shaped_noise(n, rng, 1.0, rate)
    t = 0.0
    while True:
        t += float(rng.exponential(0.6))
        start = int(t * rate)
        if start >= n:
            break
        kind = rng.random()
        amp = 10.0 ** (float(rng.uniform(-12.0, 0.0)) / 20.0)
        if kind < 0.55:  # a burst of band-passed noise with a decaying envelope
            dur = int(float(rng.uniform(0.03, 0.3)) * rate)
            lo = float(rng.uniform(100.0, 2000.0))
            band = signal.sosfilt(
                _band_sos(lo, lo * float(rng.uniform(1.5, 4.0)), rate), rng.standard_normal(dur)
            )
            ev = band / (band.std() + 1e-12) * np.exp(-np.linspace(0.0, 5.0, dur))
        elif kind < 0.8:  # a click
            dur = int(0.004 * rate)
            ev = rng.standard_normal(dur) * np.exp(-np.linspace(0.0, 8.0, dur)) * 3.0
        else:  # a beep
            dur = int(float(rng.uniform(0.08, 0.4)) * rate)
            freq = float(rng.uniform(500.0, 3000.0))
            ev = np.sin(2 * np.pi * freq * np.arange(dur) / rate) * np.hanning(dur) ** 0.2
        stop = min(n, start + dur)
        x[start:stop] += amp * ev[: stop - start]
    return x


def make_noise(
    kind: str,
    seconds: float,
    rng: np.random.Generator,
    babble: list[np.ndarray] | None = None,
    rate: int = RATE,
) -> np.ndarray:
    """`seconds` of one noise kind (see NOISE_KINDS) as float32 at about -25 dBFS RMS.

    Kind 'babble' mixes utterances from `babble` (see :func:`babble_pool`).
    """
    n = int(seconds * rate)
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":
        x = _shaped_noise(n, rng, 1.0, rate)
    elif kind == "brown":
        x = _shaped_noise(n, rng, 2.0, rate)
    elif kind == "hum":
        mains = float(rng.choice([50.0, 60.0]))
        t = np.arange(n) / rate
        x = np.zeros(n)
        for h in range(1, int(2000 // mains) + 1):
            x += (1.0 / h ** float(rng.uniform(0.7, 1.3))) * np.sin(
                2 * np.pi * mains * h * t + float(rng.uniform(0, 2 * np.pi))
            )
        x *= 1.0 + 0.2 * _smooth_noise(n, rng, 0.5, rate)  # slow level drift
        x += 0.02 * rng.standard_normal(n)
    elif kind == "babble":
        if not babble:
            raise ValueError("babble noise needs a pool of babble utterances (babble_pool)")
        x = _babble(n, rng, babble, rate)
    elif kind == "bursts":
        x = _bursts(n, rng, rate)
    else:
        raise ValueError(f"unknown noise kind '{kind}' (one of {', '.join(NOISE_KINDS)})")
    x = x / (np.sqrt(np.mean(np.square(x))) + 1e-12) * 10.0 ** (-25.0 / 20.0)
    peak = float(np.abs(x).max())
    if peak > 0.9:
        x *= 0.9 / peak
    return x.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# the corpus


def generate_sources(
    folder: str | Path, *, minutes: float, speakers: int, seed: int, progress: bool = True
) -> dict[str, Any]:
    """Write synthetic speech (`folder/speech/<speaker>/<speaker>_uNN.wav`, about `minutes` in
    all over `speakers` speakers) and noise (`folder/noise/<kind>_<k>.wav`); return a summary.
    """
    if speakers < 2:
        raise mix_inputs.MixError(
            f"--speakers must be at least 2 (a train and a test speaker), got {speakers}"
        )
    if not minutes > 0:
        raise mix_inputs.MixError(f"--minutes must be positive, got {minutes}")
    folder = Path(folder)
    per_speaker = minutes * 60.0 / speakers
    targets = [
        make_speaker(f"spk{i + 1:02d}", i, np.random.default_rng([seed, 2, i]))
        for i in range(speakers)
    ]
    babblers = [
        make_speaker(f"bab{i + 1:02d}", i, np.random.default_rng([seed, 3, i]))
        for i in range(BABBLE_SPEAKERS)
    ]
    speech_seconds = 0.0
    n_utts = 0
    for i, spk in enumerate(
        tqdm(targets, desc="synthesize speech", unit="speaker", disable=not progress)
    ):
        rng = np.random.default_rng([seed, 4, i])
        have = 0.0
        u = 0
        while have < per_speaker - 0.5 or u == 0:
            # Aim each utterance at 2-4 s but never far past this speaker's share.
            want = min(float(rng.uniform(2.0, 4.0)), max(per_speaker - have, 1.0))
            x = synth_utterance(spk, want, rng)
            u += 1
            audio.write(folder / "speech" / spk.name / f"{spk.name}_u{u:02d}.wav", x, RATE)
            have += len(x) / RATE
        speech_seconds += have
        n_utts += u
    pool = babble_pool(babblers, np.random.default_rng([seed, 6]))
    jobs = [(kind, k) for kind in NOISE_KINDS for k in range(NOISE_FILES_PER_KIND)]
    for j, (kind, k) in enumerate(
        tqdm(jobs, desc="generate noise", unit="file", disable=not progress)
    ):
        rng = np.random.default_rng([seed, 5, j])
        x = make_noise(kind, NOISE_SECONDS, rng, pool)
        audio.write(folder / "noise" / f"{kind}_{k + 1}.wav", x, RATE)
    return {
        "rate": RATE,
        "speech_seconds": round(speech_seconds, 3),
        "utterances": n_utts,
        "speakers": [asdict(s) for s in targets],
        "babble_speakers": [s.name for s in babblers],
        "noise_kinds": list(NOISE_KINDS),
        "noise_files_per_kind": NOISE_FILES_PER_KIND,
        "noise_seconds": NOISE_SECONDS,
    }


def make_demo_corpus(
    out_dir: str | Path,
    cfg: MixConfig,
    *,
    minutes: float = 2.0,
    speakers: int = 10,
    force: bool = False,
    workers: int = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Generate sources with `cfg.seed` and mix them into `out_dir`; return its info.json."""
    mix_inputs.check_config(cfg)
    out = Path(out_dir)
    if out.exists() and not force:  # fail before spending time on synthesis
        raise mix_inputs.MixError(
            f"output folder '{out}' already exists; use --force to replace it"
        )
    with tempfile.TemporaryDirectory(prefix="lstm-se-demo-") as tmp:
        summary = generate_sources(
            tmp, minutes=minutes, speakers=speakers, seed=cfg.seed, progress=progress
        )
        speech_root, noise_root = Path(tmp) / "speech", Path(tmp) / "noise"
        return mix.make_corpus(
            mix_inputs.find_speech(speech_root),
            mix_inputs.find_noise(noise_root),
            out,
            cfg,
            force=force,
            workers=workers,
            speech_root=speech_root,
            noise_root=noise_root,
            # The temporary folder's name is random: keep it out of info.json (same bytes).
            extra_info={
                "generator": "lstm-se demo-data",
                "sources": {"speech": "generated", "noise": "generated"},
                "demo": {"minutes": minutes, "speakers_requested": speakers, **summary},
            },
            progress=progress,
        )


def command(args: argparse.Namespace, cfg: Config) -> int:
    """`lstm-se demo-data`: --out, --minutes, --speakers, --force; returns the exit status."""
    start = time.monotonic()
    try:
        info = make_demo_corpus(
            args.out, cfg.mix, minutes=args.minutes, speakers=args.speakers, force=args.force
        )
    except mix_inputs.MixError as exc:
        log.error("%s", exc)
        return 1
    pairs = sum(c["pairs"] for c in info["counts"].values())
    log.info("demo corpus: %d pairs in %s (%.1f s)", pairs, args.out, time.monotonic() - start)
    return 0
