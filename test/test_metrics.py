"""Metrics: PESQ-WB, (E)STOI, SI-SDR and the composite measures against reference values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lstm_se import metrics

RATE = 16000


def _hash_uniform(n: int, seed: int) -> np.ndarray:
    """Uniform [0, 1) noise from the splitmix64 finalizer: the same samples on every platform
    and numpy version (unlike a seeded numpy generator), so reference values stay valid."""
    z = (np.arange(n, dtype=np.uint64) + np.uint64(seed)) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / 2.0**53


def fixed_signals(rate: int = RATE, seconds: float = 2.0):
    """(clean, noisy, processed): a deterministic voiced, syllable-modulated 'speech' signal,
    the same in white noise, and a low-passed version with weaker noise."""
    n = int(rate * seconds)
    t = np.arange(n) / rate
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.8 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    formant = 1 + 0.5 * np.sin(2 * np.pi * 1.3 * t)
    voiced = sum(np.sin(k * phase) * np.exp(-k / (6 * formant)) / k for k in range(1, 30))
    env = 0.05 + np.clip(np.sin(2 * np.pi * 2.1 * t), 0, None) ** 2
    clean = 0.3 * voiced * env + 0.01 * (_hash_uniform(n, 3) - 0.5)
    noise = _hash_uniform(n, 7) - 0.5
    noisy = clean + 0.2 * noise
    processed = 0.9 * np.convolve(clean, np.ones(5) / 5, mode="same") + 0.03 * noise
    return clean, noisy, processed


# Reference values: the LLR, WSS and segmental-SNR code of Loizou's composite.m (the version
# distributed with Hu and Loizou 2008, 95 % trimming, eps added to both signals), run unchanged
# in GNU Octave 7.3.0 on the signals of `fixed_signals` (written with 17 significant digits).
# Our re-implementation agreed to about 1e-10; the stated tolerance is 1e-6 (absolute).
OCTAVE_REFERENCE = {
    # case: (rate given to the measures, degraded signal, llr, wss, segsnr)
    "noisy": (16000, lambda c, n, p: n, 2.08606747312, 40.6878363908, -3.33606397926),
    "processed": (16000, lambda c, n, p: p, 0.450108791067, 11.1536996283, 7.98420722486),
    "processed_as_8k": (8000, lambda c, n, p: p, 0.460198273238, 6.43825378627, 7.97422956264),
    "noisy_shorter": (
        16000,
        lambda c, n, p: n[:-1111],
        2.07318929578,
        41.3606411762,
        -3.4108043609,
    ),
}
REFERENCE_TOL = 1e-6


@pytest.mark.parametrize("case", sorted(OCTAVE_REFERENCE))
def test_composite_measures_match_octave_reference(case):
    rate, pick, llr, wss, segsnr = OCTAVE_REFERENCE[case]
    clean, noisy, processed = fixed_signals()
    got = metrics.composite_measures(clean, pick(clean, noisy, processed), rate)
    assert got["llr"] == pytest.approx(llr, abs=REFERENCE_TOL)
    assert got["wss"] == pytest.approx(wss, abs=REFERENCE_TOL)
    assert got["segsnr"] == pytest.approx(segsnr, abs=REFERENCE_TOL)


def test_composite_formula_matches_published_example():
    # Loizou's composite.m readme: sp09.wav vs enhanced_logmmse.wav gives LLR=0.681368,
    # SNRseg=3.991727, WSS=49.671978, PESQ=2.255732 -> Csig 3.3050, Cbak 2.6160, Covl 2.7133
    # (printed to 4 decimals, hence the tolerance).
    got = metrics.composite_from_measures(llr=0.681368, wss=49.671978, segsnr=3.991727,
                                          pesq=2.255732)  # fmt: skip
    assert got["csig"] == pytest.approx(3.3050, abs=6e-5)
    assert got["cbak"] == pytest.approx(2.6160, abs=6e-5)
    assert got["covl"] == pytest.approx(2.7133, abs=6e-5)


def test_composite_is_clipped_to_mos_range():
    got = metrics.composite_from_measures(llr=5.0, wss=200.0, segsnr=-10.0, pesq=1.0)
    assert got == {"csig": 1.0, "cbak": 1.0, "covl": 1.0}
    got = metrics.composite_from_measures(llr=0.0, wss=0.0, segsnr=35.0, pesq=4.64)
    assert got["cbak"] == 5.0


def test_composite_ranks_processed_above_noisy():
    clean, noisy, processed = fixed_signals()
    worse = metrics.composite(clean, noisy, RATE)
    better = metrics.composite(clean, processed, RATE)
    for key in ("csig", "cbak", "covl"):
        assert 1.0 <= worse[key] <= 5.0
        assert better[key] > worse[key], key
    # The composite uses PESQ-WB: reusing a computed value gives the same result.
    p = metrics.pesq_wb(clean, processed, RATE)
    assert metrics.composite(clean, processed, RATE, pesq_value=p) == better


def test_pesq_of_signal_against_itself_is_maximal():
    clean, noisy, _ = fixed_signals()
    assert metrics.pesq_wb(clean, clean, RATE) == pytest.approx(4.64, abs=0.01)
    assert metrics.pesq_wb(clean, noisy, RATE) < 3.0


def test_pesq_resamples_other_rates():
    clean, noisy, _ = fixed_signals(rate=22050)
    assert metrics.pesq_wb(clean, clean, 22050) == pytest.approx(4.64, abs=0.02)
    assert 1.0 <= metrics.pesq_wb(clean, noisy, 22050) < 3.0


def test_si_sdr_is_scale_and_offset_invariant():
    clean, noisy, _ = fixed_signals()
    base = metrics.si_sdr(clean, noisy)
    for scale in (0.01, 0.5, 7.0):
        assert metrics.si_sdr(clean, scale * noisy) == pytest.approx(base, abs=1e-9)
        assert metrics.si_sdr(scale * clean, noisy) == pytest.approx(base, abs=1e-9)
    assert metrics.si_sdr(clean, noisy + 0.3) == pytest.approx(base, abs=1e-9)
    assert metrics.si_sdr(clean, clean) == metrics.SI_SDR_MAX_DB
    assert metrics.si_sdr(clean, -clean) == metrics.SI_SDR_MAX_DB  # the scale may be negative


def test_si_sdr_matches_definition_for_orthogonal_noise():
    clean, _, _ = fixed_signals()
    noise = _hash_uniform(len(clean), 11) - 0.5
    noise -= noise.mean()
    clean0 = clean - clean.mean()
    noise -= clean0 * np.dot(noise, clean0) / np.dot(clean0, clean0)  # exactly orthogonal
    for gain in (0.1, 1.0):
        expected = 10 * np.log10(np.sum(clean0**2) / np.sum((gain * noise) ** 2))
        assert metrics.si_sdr(clean, clean + gain * noise) == pytest.approx(expected, abs=1e-6)


def test_stoi_and_estoi():
    clean, noisy, processed = fixed_signals()
    assert metrics.stoi(clean, clean, RATE) == pytest.approx(1.0, abs=1e-6)
    assert metrics.stoi(clean, noisy, RATE) < metrics.stoi(clean, processed, RATE)
    assert metrics.stoi(clean, noisy, RATE, extended=True) < metrics.stoi(clean, noisy, RATE)


def test_silent_reference_gives_nan_with_warning():
    _, noisy, _ = fixed_signals()
    silent = np.zeros_like(noisy)
    for fn in (
        lambda: metrics.pesq_wb(silent, noisy, RATE),
        lambda: metrics.stoi(silent, noisy, RATE),
        lambda: metrics.si_sdr(silent, noisy),
    ):
        with pytest.warns(metrics.MetricWarning, match="silent"):
            assert math.isnan(fn())
    with pytest.warns(metrics.MetricWarning, match="silent"):
        scores = metrics.score_all(silent, noisy, RATE)
    assert set(scores) == set(metrics.SCORE_KEYS)
    assert all(math.isnan(v) for v in scores.values())


def test_short_and_silent_estimates_do_not_crash():
    clean, _, _ = fixed_signals()
    with pytest.warns(metrics.MetricWarning):
        short = metrics.score_all(clean[:400], clean[:400], RATE)
    assert math.isnan(short["stoi"]) and math.isnan(short["csig"])
    scores = metrics.score_all(clean, np.zeros_like(clean), RATE)
    assert all(isinstance(v, float) for v in scores.values())


def test_unequal_lengths_use_the_common_length():
    clean, noisy, _ = fixed_signals()
    longer_ref = metrics.score_all(clean, noisy[:-500], RATE)
    same = metrics.score_all(clean[:-500], noisy[:-500], RATE)
    assert longer_ref == pytest.approx(same, abs=1e-12)
