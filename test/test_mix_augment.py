"""The mixer's augmentations on their own: simulated room impulse responses, the choice of babble
talkers and their sum."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lstm_se import mix_augment, mix_inputs, speech_level


def _speech(rate: int, seconds: float, rng: np.random.Generator, amp: float = 0.3) -> np.ndarray:
    """A harmonic tone switched on and off at about 3 Hz with near-silent pauses (test_mix.py's
    synthetic speech), so a talker has a clear active level."""
    t = np.arange(int(rate * seconds)) / rate
    f0 = float(rng.uniform(100, 250))
    x = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) / h for h in range(1, 6))
    gate = (np.sin(2 * np.pi * 3.0 * t + rng.uniform(0, 6)) > 0.2).astype(float)
    x = x * gate / np.max(np.abs(x)) * amp
    return (x + 1e-4 * rng.standard_normal(len(t))).astype(np.float32)


def _edc_rt60(rir: np.ndarray, rate: int) -> float:
    """RT60 from the Schroeder backward integral: slope fitted between -5 and -25 dB, taken to
    -60 dB."""
    edc = np.cumsum((rir**2)[::-1])[::-1]
    db = 10 * np.log10(edc / edc[0])
    idx = np.nonzero((db <= -5) & (db >= -25))[0]
    slope = np.polyfit(idx / rate, db[idx], 1)[0]
    return -60.0 / slope


@pytest.mark.parametrize("rt60", [0.2, 0.5, 0.8])
def test_room_impulse_response_decays_at_the_asked_rt60(rt60: float) -> None:
    rate = 16000
    for seed in range(5):
        rir, drr_db = mix_augment.room_impulse_response(rt60, rate, np.random.default_rng(seed))
        assert _edc_rt60(rir, rate) == pytest.approx(rt60, rel=0.2)
        assert np.argmax(np.abs(rir)) == 0 and rir[0] > 0  # direct path first and strongest
        assert np.sum(rir**2) == pytest.approx(1.0)
        delay = np.nonzero(rir[1:])[0][0] + 1
        assert (
            mix_augment.RIR_DELAY_MS[0] <= delay / rate * 1000 <= mix_augment.RIR_DELAY_MS[1] + 0.1
        )
        assert mix_augment.RIR_DRR_DB[0] <= drr_db <= mix_augment.RIR_DRR_DB[1]
        assert 10 * np.log10(rir[0] ** 2 / np.sum(rir[1:] ** 2)) == pytest.approx(drr_db)
        assert len(rir) == delay + int(np.ceil(rt60 * rate))
    # The direct path keeps its sample: an impulse stays where it was, the length is kept.
    x = np.zeros(1000)
    x[100] = 1.0
    y = mix_augment.reverberate(x, rir)
    assert len(y) == len(x) and np.argmax(np.abs(y)) == 100 and y[100] == pytest.approx(rir[0])
    assert np.abs(y[:100]).max() < 1e-12  # nothing before the direct path (FFT round-off only)


def test_pick_talkers_takes_other_speakers_of_the_given_set_only() -> None:
    files = {s: [Path(f"{s}/u{i}.wav") for i in range(3)] for s in ("a", "b", "c", "d", "e")}
    rng = np.random.default_rng(0)
    seen: set[Path] = set()
    for _ in range(200):
        talkers = mix_augment.pick_talkers(files, "c", 3, rng)
        speakers = [p.parent.name for p in talkers]
        assert len(talkers) == 3 and len(set(speakers)) == 3 and "c" not in speakers
        seen.update(talkers)
    assert seen == {p for s in "abde" for p in files[s]}  # every other utterance gets used
    assert len(mix_augment.pick_talkers(files, "c", 4, rng)) == 4
    with pytest.raises(mix_inputs.MixError, match="needs 5 speakers besides 'c', found 4"):
        mix_augment.pick_talkers(files, "c", 5, rng)


def test_babble_noise_sums_talkers_at_one_level() -> None:
    rate = 16000
    rng = np.random.default_rng(3)
    loud, quiet = _speech(rate, 1.0, rng, amp=0.8), _speech(rate, 1.0, rng, amp=0.01)
    talkers = [loud.astype(np.float64), quiet.astype(np.float64)]
    babble, looped = mix_augment.babble_noise(
        talkers, len(loud), rate, rng
    )  # same length: offset 0
    expect = sum(x / np.sqrt(speech_level.active_speech_power(x, rate)) for x in talkers)
    assert not looped and np.allclose(babble, expect)
    longer, looped = mix_augment.babble_noise(talkers, 3 * len(loud), rate, rng)
    assert looped and len(longer) == 3 * len(loud)
