"""STFT, iSTFT and feature transforms: one framing definition for numpy and TensorFlow.

Framing: frame t covers samples [t * hop, t * hop + n_fft) of the (optionally centre-padded)
signal; the window is a periodic Hann of `win_length` samples, zero-padded to `n_fft` and
centred, as librosa does. With `center=False` a frame can be computed as soon as its last sample
arrives, which is what streaming and the microcontroller need. `normalize=True` divides the
spectrum by n_fft (the seed's `fft_normalize`). The TensorFlow functions use the same window
array, so the two paths agree to float32 precision.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.signal


@functools.lru_cache(maxsize=16)
def window(n_fft: int, win_length: int) -> np.ndarray:
    """Periodic Hann of `win_length`, zero-padded and centred to `n_fft` (float64, read-only)."""
    if win_length > n_fft:
        raise ValueError(f"win_length ({win_length}) must not exceed n_fft ({n_fft})")
    w = scipy.signal.get_window("hann", win_length, fftbins=True)
    left = (n_fft - win_length) // 2
    out = np.zeros(n_fft)
    out[left : left + win_length] = w
    out.setflags(write=False)
    return out


def num_frames(n_samples: int, n_fft: int, hop: int, center: bool) -> int:
    """Frames that `stft` returns for a signal of `n_samples` samples."""
    if center:
        return 1 + n_samples // hop
    return 0 if n_samples < n_fft else 1 + (n_samples - n_fft) // hop


def streaming_pad(n_samples: int, n_fft: int, hop: int) -> tuple[int, int]:
    """(front, back) zero padding so that, with `center=False`, every sample of a signal is
    covered by n_fft // hop frames and the iSTFT returns all of it.

    The front padding is the streaming buffer's initial history (n_fft - hop zeros); the back
    padding completes the last hop.
    """
    front = n_fft - hop
    back = (-n_samples) % hop + (n_fft - hop)
    return front, back


def stft(
    x: np.ndarray,
    n_fft: int,
    hop: int,
    win_length: int | None = None,
    center: bool = False,
    normalize: bool = True,
) -> np.ndarray:
    """Complex STFT of a 1-D signal: shape (frames, n_fft // 2 + 1), complex64."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"stft expects a 1-D signal, got shape {x.shape}")
    w = window(n_fft, win_length or n_fft)
    if center:
        x = np.pad(x, (n_fft // 2, n_fft // 2))
    n = num_frames(len(x), n_fft, hop, center=False)
    if n == 0:
        return np.zeros((0, n_fft // 2 + 1), dtype=np.complex64)
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop][:n]
    spec = np.fft.rfft(frames * w, axis=-1)
    if normalize:
        spec /= n_fft
    return spec.astype(np.complex64)


def istft(
    spec: np.ndarray,
    n_fft: int,
    hop: int,
    win_length: int | None = None,
    center: bool = False,
    normalize: bool = True,
    length: int | None = None,
) -> np.ndarray:
    """Inverse of `stft` by weighted overlap-add (float32).

    Samples whose window envelope is zero (the very first one with `center=False`) cannot be
    recovered and come back as zero; `streaming_pad` avoids that for real signals.
    """
    spec = np.asarray(spec)
    w = window(n_fft, win_length or n_fft)
    n = spec.shape[0]
    total = n_fft + hop * (n - 1) if n else 0
    frames = np.fft.irfft(spec.astype(np.complex128), n=n_fft, axis=-1)
    if normalize:
        frames *= n_fft
    out = np.zeros(total)
    env = np.zeros(total)
    for t in range(n):
        out[t * hop : t * hop + n_fft] += frames[t] * w
        env[t * hop : t * hop + n_fft] += w * w
    nonzero = env > 1e-10
    out[nonzero] /= env[nonzero]
    out[~nonzero] = 0.0
    if center:
        # librosa's convention: drop the centre padding at the front; at the back only what
        # lies past the requested length (or the centre padding when no length is given).
        out = out[n_fft // 2 :] if length is not None else out[n_fft // 2 : len(out) - n_fft // 2]
    if length is not None:
        out = out[:length] if len(out) >= length else np.pad(out, (0, length - len(out)))
    return out.astype(np.float32)


def magnitude_phase(spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(|S|, angle S) as float32 arrays."""
    return np.abs(spec).astype(np.float32), np.angle(spec).astype(np.float32)


def mel_matrix(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """Slaney-normalized mel filterbank (n_fft // 2 + 1, n_mels), float32: bins @ M = mels."""
    import librosa  # heavy import, only needed with mel input

    m = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max)
    return m.T.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# TensorFlow versions (same window, same framing)


def tf_stft(
    x,
    n_fft: int,
    hop: int,
    win_length: int | None = None,
    center: bool = False,
    normalize: bool = True,
):
    """TensorFlow STFT of signals shaped (..., samples): complex64 (..., frames, bins)."""
    import tensorflow as tf

    x = tf.convert_to_tensor(x, tf.float32)
    if center:
        paddings = [[0, 0]] * (len(x.shape) - 1) + [[n_fft // 2, n_fft // 2]]
        x = tf.pad(x, paddings)
    frames = tf.signal.frame(x, n_fft, hop, pad_end=False)
    w = tf.constant(window(n_fft, win_length or n_fft), tf.float32)
    spec = tf.signal.rfft(frames * w, fft_length=[n_fft])
    if normalize:
        spec = spec / tf.cast(n_fft, tf.complex64)
    return spec


def tf_istft(
    spec,
    n_fft: int,
    hop: int,
    win_length: int | None = None,
    center: bool = False,
    normalize: bool = True,
    length: int | None = None,
):
    """TensorFlow inverse of `tf_stft` for (..., frames, bins): float32 (..., samples).

    `length` (a Python int) trims or zero-pads the result as `istft` does.
    """
    import tensorflow as tf

    spec = tf.convert_to_tensor(spec, tf.complex64)
    w = tf.constant(window(n_fft, win_length or n_fft), tf.float32)
    frames = tf.signal.irfft(spec, fft_length=[n_fft])
    if normalize:
        frames = frames * float(n_fft)
    out = tf.signal.overlap_and_add(frames * w, hop)
    n = tf.shape(spec)[-2]
    env = tf.signal.overlap_and_add(tf.tile((w * w)[tf.newaxis, :], [n, 1]), hop)
    safe = env > 1e-10
    out = tf.where(safe, out / tf.where(safe, env, tf.ones_like(env)), tf.zeros_like(out))
    if center:
        out = (
            out[..., n_fft // 2 :]
            if length is not None
            else out[..., n_fft // 2 : tf.shape(out)[-1] - n_fft // 2]
        )
    if length is not None:
        out = out[..., :length]
        short = length - tf.shape(out)[-1]
        paddings = [[0, 0]] * (len(out.shape) - 1) + [[0, short]]
        out = tf.pad(out, paddings)
    return out


def tf_compress(mag, kind: str, power: float = 0.3):
    """Magnitude compression used at the model input: 'none', 'power' (|X|**p) or 'log1p'."""
    import tensorflow as tf

    if kind == "none":
        return mag
    if kind == "power":
        # The small floor keeps the gradient of x**p finite at exactly zero.
        return tf.pow(tf.maximum(mag, 1e-12), power)
    if kind == "log1p":
        return tf.math.log1p(mag)
    raise ValueError(f"unknown compression '{kind}' (none, power, log1p)")
