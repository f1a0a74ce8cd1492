"""Training losses on the masked spectrum, and the in-training SI-SDR metric.

Every loss takes `target` `(batch, frames, 4, bins)` (index 0/1 noisy real/imag, 2/3 clean
real/imag, as records.py yields) and the model's `mask` `(batch, frames, bins)` in [0, 1].
Notation: Y noisy STFT, S clean STFT, M the mask, the estimate Ŝ = M·Y (a real mask keeps the
noisy phase), means over frames and bins. Each loss returns one value per example; Keras
averages them over the global batch.

- `mse`: mean (M|Y| - |S|)^2, magnitude spectrum approximation.
- `mae`: mean |M|Y| - |S||.
- `ideal-mag`: mean (M - clip(|S|/|Y|, 0, 1))^2, mask approximation of the (truncated) ideal
  amplitude mask.
- `psa`: mean (M|Y| - clip(|S| cos(∠S - ∠Y), 0, |Y|))^2, truncated phase-sensitive
  approximation (Erdogan et al., ICASSP 2015).
- `compressed`: (1 - α) mean (|Ŝ|^p - |S|^p)^2 + α mean |Ŝ_c - S_c|^2, with the compressed
  spectrum X_c = |X|^p e^{j∠X}.

With `norm="noisy"` (the config's `model.loss_norm` default) each example's loss is divided by
the mean energy of its noisy spectrum in the loss's own domain (mean |Y|^2 for mse/psa, mean
|Y| for mae, mean |Y|^2p for compressed; ideal-mag is scale-free already), so scaling the
audio by any factor leaves the loss unchanged. Without it the loss of spectra divided by n_fft
is about 1e-4, its gradients sit at Adam's epsilon, and the optimizer's step is a fraction of
the learning rate.

`compressed` is the power-law compressed magnitude-and-complex loss of Wilson et al. (2018) in
the form of Braun & Tashev (2021), defaults p = 0.3, α = 0.3: the compressed magnitude carries
the phase of its own spectrum (e^{j∠X} = X/|X|, and 1 where X = 0). Magnitudes are floored at
1e-12 before the power so the gradient stays finite where the estimate is exactly zero.

SI-SDR (Le Roux et al. 2019, zero-mean signals) is computed per example on waveforms made by
`features.tf_istft` with the preprocessing framing (less the segment edges, see `edge_trim`),
and averaged over examples (not the ratio of averages). Examples whose clean reference is
silent are left out of the average.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from . import features

LOSSES = ("mse", "mae", "ideal-mag", "psa", "compressed")
NORMS = ("none", "noisy")

#: Magnitude floor before a fractional power (finite gradient at zero).
EPS = 1e-12
#: Added to a loss's normalizer: a silent example (all-zero noisy spectrum) gives a finite loss.
NORM_FLOOR = 1e-20
#: A reference whose mean square is below this counts as silent (SI-SDR undefined).
SILENT_POWER = 1e-10


def split_target(target) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """(noisy re, noisy im, clean re, clean im), each `(batch, frames, bins)`."""
    target = tf.convert_to_tensor(target, tf.float32)
    return target[..., 0, :], target[..., 1, :], target[..., 2, :], target[..., 3, :]


def _abs(re, im):
    # Target magnitudes only (no gradient flows into the target), so sqrt at zero is harmless.
    return tf.sqrt(re * re + im * im)


def _unit(re, im, mag):
    """e^{j∠X} as (re, im); 1 + 0j where X is zero, as numpy's angle(0) = 0 gives."""
    safe = mag > 0
    denom = tf.where(safe, mag, tf.ones_like(mag))
    return tf.where(safe, re / denom, tf.ones_like(re)), tf.where(
        safe, im / denom, tf.zeros_like(im)
    )


def _mean_tf(x):
    """Mean over frames and bins: one value per example."""
    return tf.reduce_mean(x, axis=[-2, -1])


def mse(target, mask):
    """mean (M|Y| - |S|)^2 per example."""
    yr, yi, sr, si = split_target(target)
    return _mean_tf(tf.square(mask * _abs(yr, yi) - _abs(sr, si)))


def mae(target, mask):
    """mean | M|Y| - |S| | per example."""
    yr, yi, sr, si = split_target(target)
    return _mean_tf(tf.abs(mask * _abs(yr, yi) - _abs(sr, si)))


def ideal_mag(target, mask):
    """mean (M - clip(|S|/|Y|, 0, 1))^2 per example (the ideal amplitude mask, truncated)."""
    yr, yi, sr, si = split_target(target)
    y, s = _abs(yr, yi), _abs(sr, si)
    iam = tf.where(y > 0, tf.minimum(s / tf.where(y > 0, y, tf.ones_like(y)), 1.0), 0.0)
    return _mean_tf(tf.square(mask - iam))


def psa(target, mask):
    """mean (M|Y| - clip(|S| cos(∠S - ∠Y), 0, |Y|))^2 per example."""
    yr, yi, sr, si = split_target(target)
    y = _abs(yr, yi)
    # |S| cos(∠S - ∠Y) = Re(S Y*) / |Y|
    proj = tf.where(y > 0, (sr * yr + si * yi) / tf.where(y > 0, y, tf.ones_like(y)), 0.0)
    return _mean_tf(tf.square(mask * y - tf.clip_by_value(proj, 0.0, y)))


def compressed(target, mask, power: float = 0.3, alpha: float = 0.3):
    """(1 - α) mean (|Ŝ|^p - |S|^p)^2 + α mean |Ŝ_c - S_c|^2, X_c = |X|^p e^{j∠X}, Ŝ = M·Y."""
    yr, yi, sr, si = split_target(target)
    y, s = _abs(yr, yi), _abs(sr, si)
    est_c = tf.pow(tf.maximum(mask * y, EPS), power)
    ref_c = tf.pow(tf.maximum(s, EPS), power)
    mag_term = _mean_tf(tf.square(est_c - ref_c))
    # A non-negative real mask leaves the noisy phase: ∠Ŝ = ∠Y.
    ur, ui = _unit(yr, yi, y)
    vr, vi = _unit(sr, si, s)
    cplx_term = _mean_tf(tf.square(est_c * ur - ref_c * vr) + tf.square(est_c * ui - ref_c * vi))
    return (1.0 - alpha) * mag_term + alpha * cplx_term


_FUNCS = {"mse": mse, "mae": mae, "ideal-mag": ideal_mag, "psa": psa}


def noisy_energy(target, kind: str, power: float = 0.3):
    """Per-example normalizer of the loss `kind` with norm="noisy": the mean noisy energy in
    the loss's domain (1 for the already scale-free ideal-mag)."""
    yr, yi, _, _ = split_target(target)
    y2 = yr * yr + yi * yi
    if kind == "ideal-mag":
        return tf.ones_like(y2[..., 0, 0])
    if kind == "mae":
        energy = _mean_tf(tf.sqrt(y2))
    elif kind == "compressed":
        energy = _mean_tf(tf.pow(tf.maximum(y2, EPS * EPS), power))
    else:
        energy = _mean_tf(y2)
    return energy + NORM_FLOOR


@keras.saving.register_keras_serializable(package="lstm_se")
class SpectralLoss(keras.losses.Loss):
    """One of `LOSSES` as a serializable Keras loss (y_true = target, y_pred = mask)."""

    def __init__(
        self,
        kind: str = "compressed",
        power: float = 0.3,
        alpha: float = 0.3,
        norm: str = "none",
        **kwargs: Any,
    ) -> None:
        if kind not in LOSSES:
            raise ValueError(f"unknown loss '{kind}'; one of {', '.join(LOSSES)}")
        if norm not in NORMS:
            raise ValueError(f"unknown loss norm '{norm}'; one of {', '.join(NORMS)}")
        kwargs.setdefault("name", kind)
        super().__init__(**kwargs)
        self.kind = kind
        self.power = float(power)
        self.alpha = float(alpha)
        self.norm = norm

    def call(self, y_true, y_pred):
        if self.kind == "compressed":
            value = compressed(y_true, y_pred, self.power, self.alpha)
        else:
            value = _FUNCS[self.kind](y_true, y_pred)
        if self.norm == "noisy":
            value = value / noisy_energy(y_true, self.kind, self.power)
        return value

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "kind": self.kind,
            "power": self.power,
            "alpha": self.alpha,
            "norm": self.norm,
        }


def get(kind: str, power: float = 0.3, alpha: float = 0.3, norm: str = "none") -> SpectralLoss:
    """The loss called `kind`, normalized per example when `norm` is "noisy" (module doc)."""
    return SpectralLoss(kind, power=power, alpha=alpha, norm=norm)


# ---------------------------------------------------------------------------------------------
# SI-SDR


def si_sdr_per_example(ref, est):
    """Zero-mean SI-SDR in dB of `(batch, samples)` waveforms -> `(batch,)` (NaN where silent)."""
    ref = tf.convert_to_tensor(ref, tf.float32)
    est = tf.convert_to_tensor(est, tf.float32)
    ref = ref - tf.reduce_mean(ref, axis=-1, keepdims=True)
    est = est - tf.reduce_mean(est, axis=-1, keepdims=True)
    ref_pow = tf.reduce_sum(ref * ref, axis=-1)
    silent = tf.reduce_mean(ref * ref, axis=-1) < SILENT_POWER
    scale = tf.reduce_sum(est * ref, axis=-1) / tf.where(silent, 1.0, ref_pow)
    proj = scale[:, None] * ref
    noise = est - proj
    # The tiny floor keeps a perfect estimate finite (about +120 dB) instead of +inf.
    num = tf.reduce_sum(proj * proj, axis=-1) + 1e-20
    den = tf.reduce_sum(noise * noise, axis=-1) + 1e-20
    value = 10.0 * tf.math.log(num / den) / tf.math.log(10.0)
    return tf.where(silent, tf.constant(float("nan")), value)


def edge_trim(n_fft: int, hop: int, center: bool) -> int:
    """Samples to drop at each end of a segment's iSTFT before scoring it.

    Near the ends of a segment fewer frames overlap, and the overlap-add divides by a window
    envelope that goes to zero there. An unmodified spectrum comes back exactly, but a masked
    one (no longer a consistent STFT) is amplified without bound in those samples, which would
    swamp any waveform measure. Streaming never sees this (its front padding is history), so
    scores use only the samples covered by full overlap: n_fft - hop at each end of a
    `center=False` segment, less the n_fft // 2 the iSTFT already drops with `center=True`.
    """
    return max(0, n_fft - hop - (n_fft // 2 if center else 0))


def waveforms(target, mask, n_fft: int, hop: int, win_length: int, center: bool, normalize: bool):
    """(clean, enhanced) waveforms `(batch, samples)` from a target and a mask via tf_istft,
    without the `edge_trim` samples at either end."""
    yr, yi, sr, si = split_target(target)
    mask = tf.convert_to_tensor(mask, tf.float32)
    est = tf.complex(mask * yr, mask * yi)
    ref = tf.complex(sr, si)
    kw = dict(n_fft=n_fft, hop=hop, win_length=win_length, center=center, normalize=normalize)
    ref, est = features.tf_istft(ref, **kw), features.tf_istft(est, **kw)
    trim = edge_trim(n_fft, hop, center)
    if trim:
        ref, est = ref[..., trim:-trim], est[..., trim:-trim]
    return ref, est


@keras.saving.register_keras_serializable(package="lstm_se")
class SISDR(keras.metrics.Metric):
    """Mean over examples of the per-example SI-SDR (dB) of the masked spectrum's waveform."""

    def __init__(
        self,
        n_fft: int = 512,
        hop: int = 256,
        win_length: int | None = None,
        center: bool = False,
        normalize: bool = True,
        name: str = "si_sdr",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        self.n_fft = int(n_fft)
        self.hop = int(hop)
        self.win_length = int(win_length or n_fft)
        self.center = bool(center)
        self.normalize = bool(normalize)
        # Sums, not means, so replicas and batches combine into the mean over all examples.
        self.total = self.add_variable(
            shape=(), initializer="zeros", name="total", aggregation="sum"
        )
        self.count = self.add_variable(
            shape=(), initializer="zeros", name="count", aggregation="sum"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        ref, est = waveforms(
            y_true, y_pred, self.n_fft, self.hop, self.win_length, self.center, self.normalize
        )
        value = si_sdr_per_example(ref, est)
        valid = tf.math.is_finite(value)
        weight = tf.cast(valid, tf.float32)
        if sample_weight is not None:
            weight = weight * tf.reshape(tf.cast(sample_weight, tf.float32), [-1])
        self.total.assign_add(tf.reduce_sum(tf.where(valid, value, 0.0) * weight))
        self.count.assign_add(tf.reduce_sum(weight))

    def result(self):
        return tf.math.divide_no_nan(self.total, self.count)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "n_fft": self.n_fft,
            "hop": self.hop,
            "win_length": self.win_length,
            "center": self.center,
            "normalize": self.normalize,
        }
