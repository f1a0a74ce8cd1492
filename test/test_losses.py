"""losses.py against independent numpy references; SI-SDR metric per example."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from lstm_se import features, losses, metrics  # noqa: E402


def _complex(rng, shape):
    return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)


def _target(noisy: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """(B, T, F) complex pair -> (B, T, 4, F) float32 as records.py yields."""
    return np.stack([noisy.real, noisy.imag, clean.real, clean.imag], axis=2).astype(np.float32)


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    noisy = _complex(rng, (3, 6, 257)) * 0.1
    clean = 0.6 * noisy + _complex(rng, (3, 6, 257)) * 0.03
    noisy[0, 0, :4] = 0  # exact zeros: phase and ratios must stay defined
    clean[1, 1, :4] = 0
    mask = rng.uniform(0, 1, (3, 6, 257)).astype(np.float32)
    mask[2, 2, :3] = 0.0
    return _target(noisy, clean), mask, noisy, clean


def _compress_ref(x: np.ndarray, p: float) -> np.ndarray:
    return np.maximum(np.abs(x), 1e-12) ** p * np.exp(1j * np.angle(x))


def _reference(kind: str, noisy, clean, mask, p=0.3, alpha=0.3) -> np.ndarray:
    """Independent numpy definitions (per example: mean over frames and bins)."""
    est = mask * noisy
    y, s = np.abs(noisy), np.abs(clean)
    if kind == "mse":
        err = (np.abs(est) - s) ** 2
    elif kind == "mae":
        err = np.abs(np.abs(est) - s)
    elif kind == "ideal-mag":
        with np.errstate(divide="ignore", invalid="ignore"):
            iam = np.where(y > 0, np.minimum(s / y, 1.0), 0.0)
        err = (mask - iam) ** 2
    elif kind == "psa":
        psa_target = np.clip(s * np.cos(np.angle(clean) - np.angle(noisy)), 0, y)
        err = (mask * y - psa_target) ** 2
    elif kind == "compressed":
        mag = (np.maximum(np.abs(est), 1e-12) ** p - np.maximum(s, 1e-12) ** p) ** 2
        cplx = np.abs(_compress_ref(est, p) - _compress_ref(clean, p)) ** 2
        err = (1 - alpha) * mag + alpha * cplx
    else:
        raise AssertionError(kind)
    return err.mean(axis=(1, 2))


@pytest.mark.parametrize("kind", losses.LOSSES)
def test_losses_match_numpy_reference(batch, kind):
    target, mask, noisy, clean = batch
    fn = losses.get(kind)
    per_example = np.asarray(fn.call(tf.constant(target), tf.constant(mask)))
    np.testing.assert_allclose(per_example, _reference(kind, noisy, clean, mask), rtol=2e-5)
    # Keras's reduction: the mean over the batch.
    np.testing.assert_allclose(float(fn(target, mask)), per_example.mean(), rtol=1e-5)


@pytest.mark.parametrize("p,alpha", [(0.3, 0.3), (0.5, 0.0), (0.3, 1.0)])
def test_compressed_loss_parameters(batch, p, alpha):
    target, mask, noisy, clean = batch
    got = np.asarray(losses.compressed(target, mask, power=p, alpha=alpha))
    np.testing.assert_allclose(
        got, _reference("compressed", noisy, clean, mask, p, alpha), rtol=2e-5
    )


def test_compressed_loss_is_zero_only_at_the_right_mask():
    rng = np.random.default_rng(1)
    noisy = _complex(rng, (2, 5, 257))
    true_mask = rng.uniform(0.05, 1, (2, 5, 257)).astype(np.float32)
    target = _target(noisy, true_mask * noisy)
    at_truth = float(losses.get("compressed")(target, true_mask))
    assert at_truth < 1e-10
    off = float(losses.get("compressed")(target, np.clip(true_mask * 0.8, 0, 1)))
    assert off > 1e-3
    # The complex term sees phase: a clean spectrum with another phase costs more than the
    # magnitude term alone says.
    rotated = _target(noisy, true_mask * noisy * np.exp(1j * 0.7))
    mag_only = float(losses.get("compressed", alpha=0.0)(rotated, true_mask))
    with_phase = float(losses.get("compressed", alpha=0.5)(rotated, true_mask))
    assert mag_only < 1e-10 < with_phase


@pytest.mark.parametrize("kind", losses.LOSSES)
def test_gradients_are_finite_at_zero_mask_and_silence(kind):
    rng = np.random.default_rng(2)
    noisy = _complex(rng, (2, 4, 257))
    noisy[:, 0] = 0  # a silent frame
    target = tf.constant(_target(noisy, 0.5 * noisy))
    mask = tf.Variable(rng.uniform(0, 1, (2, 4, 257)).astype(np.float32))
    mask[:, 1].assign(tf.zeros((2, 257)))
    with tf.GradientTape() as tape:
        value = losses.get(kind)(target, mask)
    grad = tape.gradient(value, mask)
    assert np.isfinite(float(value)) and np.all(np.isfinite(np.asarray(grad)))


def test_loss_serializes():
    fn = losses.get("compressed", power=0.25, alpha=0.4)
    again = keras.losses.deserialize(keras.losses.serialize(fn))
    assert isinstance(again, losses.SpectralLoss)
    assert (again.kind, again.power, again.alpha) == ("compressed", 0.25, 0.4)
    with pytest.raises(ValueError, match="unknown loss"):
        losses.get("psa-bose")


def _waves_batch(snrs_db, n=8192, seed=3):
    """Clean tones and noisy versions at given SNRs; STFT targets with a mask of ones."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    noisy_specs, clean_specs = [], []
    for i, snr in enumerate(snrs_db):
        clean = np.sin(2 * np.pi * (200 + 50 * i) * t) + 0.5 * np.sin(2 * np.pi * 830 * t)
        noise = rng.normal(size=n)
        noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 10 ** (snr / 10))
        noisy_specs.append(features.stft(clean + noise, 512, 256))
        clean_specs.append(features.stft(clean, 512, 256))
    return _target(np.stack(noisy_specs), np.stack(clean_specs))


def test_si_sdr_metric_is_mean_of_per_example_values():
    target = _waves_batch([-5.0, 5.0, 20.0])
    mask = np.ones(target[:, :, 0].shape, np.float32)
    metric = losses.SISDR(512, 256)
    metric.update_state(target, mask)
    got = float(metric.result())
    # Reference: numpy iSTFT (same framing) and metrics.si_sdr per example.
    per = []
    trim = 512 - 256  # the edges without full overlap (losses.edge_trim)
    for ex in target:
        ref = features.istft(ex[:, 2] + 1j * ex[:, 3], 512, 256)[trim:-trim]
        est = features.istft(ex[:, 0] + 1j * ex[:, 1], 512, 256)[trim:-trim]
        per.append(metrics.si_sdr(ref, est))
    assert got == pytest.approx(np.mean(per), abs=0.02)
    # Not the ratio of averages, which the seed computed and which is dominated by the worst.
    ratio_of_means = 10 * np.log10(np.mean([10 ** (v / 10) for v in per]))
    assert abs(got - ratio_of_means) > 1.0
    # Per-example SI-SDR is near the constructed SNR (a check on the iSTFT and the scaling).
    np.testing.assert_allclose(per, [-5.0, 5.0, 20.0], atol=0.6)
    # Accumulates over batches as a mean over all examples.
    metric.update_state(target[:1], mask[:1])
    assert float(metric.result()) == pytest.approx(np.mean([*per, per[0]]), abs=0.02)


def test_si_sdr_metric_skips_silent_references():
    target = _waves_batch([0.0, 10.0])
    target[1, :, 2:] = 0.0  # second reference silent
    mask = np.ones(target[:, :, 0].shape, np.float32)
    metric = losses.SISDR(512, 256)
    metric.update_state(target, mask)
    alone = losses.SISDR(512, 256)
    alone.update_state(target[:1], mask[:1])
    assert np.isfinite(float(metric.result()))
    assert float(metric.result()) == pytest.approx(float(alone.result()), abs=1e-4)
    values = np.asarray(losses.si_sdr_per_example(np.zeros((1, 100)), np.ones((1, 100))))
    assert np.isnan(values).all()


def test_si_sdr_of_a_masked_spectrum_is_not_swamped_by_segment_edges():
    """A masked spectrum is not a consistent STFT; the overlap-add near a segment's ends divides
    by a vanishing window envelope. The oracle mask must still score far above the input."""
    target = _waves_batch([0.0, 0.0])
    noisy = target[:, :, 0] + 1j * target[:, :, 1]
    clean = target[:, :, 2] + 1j * target[:, :, 3]
    oracle = np.clip(np.abs(clean) / np.maximum(np.abs(noisy), 1e-9), 0, 1).astype(np.float32)
    before, after = losses.SISDR(512, 256), losses.SISDR(512, 256)
    before.update_state(target, np.ones_like(oracle))
    after.update_state(target, oracle)
    assert float(after.result()) > float(before.result()) + 6.0
    assert losses.edge_trim(512, 256, center=False) == 256
    assert losses.edge_trim(512, 256, center=True) == 0
    assert losses.edge_trim(512, 128, center=False) == 384
