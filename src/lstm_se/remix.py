"""Dynamic mixing: fresh training examples every epoch from stored clean speech and noise.

Records prepared with `dset.mixing: dynamic` hold one example per utterance: the whole clean
STFT and the whole noise STFT (noise = noisy - clean, so any paired corpus works, VoiceBank-DEMAND
included), at the corpus' own level. The STFT is linear, so a mixture of scaled sources is the
same sum of their STFTs: mixing is done here, in the STFT domain, exactly.

Example k of epoch e (one `segment` of frames):

1. speech: utterance `perm_e[k]` of a seeded permutation, cropped at a random frame (zero-padded
   when shorter than a segment);
2. noise: the noise of utterance `perm'_e[k]` (an independent permutation: noise is re-paired
   at random), cropped at its own random frame and looped when shorter;
3. SNR uniform in `dset.remix_snr` dB: speech power = mean power of its active frames (within
   40 dB of the crop's loudest frame, as `mix.py` measures it), noise power = mean over the crop;
4. with `dset.remix_eq_db` > 0, speech and noise each filtered by a random smooth EQ
   (`eq_gains`) before the SNR is measured: the target is the filtered speech;
5. level uniform in `dset.remix_level`: both scaled so the speech's active level is that many
   dBFS (mean square of the waveform, 0 dBFS = full-scale square wave), converted from STFT
   power with the window's energy.

Every draw comes from stateless random ops seeded by (seed, e, k): epoch e is the same whatever
epochs came before, so a resumed run sees what an uninterrupted one would. Validation uses one
fixed draw per utterance (the same every epoch), so val_loss is comparable across epochs.

The whole split is held in memory as one float32 array of frames (about 1 GB per audio hour at
the default framing) and read by `tf.gather` in the input pipeline: nothing is decoded per step.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import features
from .config import Config, derive

log = logging.getLogger(__name__)

#: Speech frames within this many dB of the crop's loudest frame count as active.
ACTIVE_DB = 40.0
#: The validation draws' epoch number (never a training epoch).
VALID_EPOCH = 1_000_003
#: Added to the epoch in the EQ draws' seed: above every epoch id, so no other draw shares it.
EQ_STREAM = 2_000_003
#: Cosines in a random EQ curve (their weights are the EQ's random draws).
EQ_TERMS = 3


def eq_gains(weights, bins: int, max_db: float):
    """Linear gains (..., bins) of smooth EQ curves: sum_k w_k cos(pi k f / f_max) dB, k = 1..3,
    for weights (..., 3) uniform in [0, 1) mapped to [-max_db/3, max_db/3): |curve| <= max_db."""
    import tensorflow as tf

    k = tf.range(1, EQ_TERMS + 1, dtype=tf.float32)
    f = tf.linspace(0.0, 1.0, bins)
    basis = tf.cos(np.pi * k[:, None] * f[None, :])  # (3, bins)
    db = tf.tensordot((2.0 * weights - 1.0) * (max_db / EQ_TERMS), basis, axes=1)
    return 10.0 ** (db / 20.0)


@dataclass
class Sources:
    """One split's clean speech and noise STFT frames, utterances back to back."""

    frames: np.ndarray
    """(total frames, 4, bins) float32: clean real, clean imag, noise real, noise imag."""
    offsets: np.ndarray
    """(utterances,) int64: first frame of each utterance."""
    lengths: np.ndarray
    """(utterances,) int64: frames of each utterance."""

    @property
    def utterances(self) -> int:
        return len(self.lengths)

    def variable(self):
        """The frames as one non-trainable tf.Variable, made once (datasets share it)."""
        import tensorflow as tf

        if getattr(self, "_variable", None) is None:
            self._variable = tf.Variable(self.frames, trainable=False, name="remix_frames")
        return self._variable


def load_sources(folder: str | os.PathLike[str], split: str) -> Sources:
    """Read one split of a dynamic-mixing records folder into memory (shards verified first)."""
    import tensorflow as tf

    from . import records

    folder = Path(folder)
    man = records.load_manifest(folder)
    spec = man["feature_spec"]
    if spec.get("content") != "clean+noise":
        raise records.RecordsError(
            f"{folder}: records of fixed segments, not of clean speech and noise; prepare them "
            "with dset.mixing=dynamic"
        )
    records.verify(folder, split)
    bins = int(man["bins"])
    keys = records.example_schema(("clean",))
    keys["noise"] = tf.io.FixedLenFeature([], tf.string)
    parts, lengths = [], []
    for path in records.shard_paths(folder, man, split):
        for raw in tf.data.TFRecordDataset(str(path)):
            p = tf.io.parse_single_example(raw, keys)
            planes = []
            for key in ("clean", "noise"):
                x = np.frombuffer(p[key].numpy(), "<f4").reshape(2, -1, bins)
                if spec["feature"] == "mag_phase":
                    x = np.stack([x[0] * np.cos(x[1]), x[0] * np.sin(x[1])])
                planes += [x[0], x[1]]
            parts.append(np.stack(planes, axis=1).astype(np.float32))
            lengths.append(len(parts[-1]))
    if not parts:
        raise records.RecordsError(f"{folder}: split '{split}' has no examples")
    lengths_arr = np.asarray(lengths, np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths_arr)[:-1]]).astype(np.int64)
    return Sources(np.concatenate(parts), offsets, lengths_arr)


def power_to_mean_square(n_fft: int, win_length: int, fft_normalize: bool) -> float:
    """Factor from one frame's spectral power (DC and Nyquist once, other bins twice) to the
    mean square of a stationary waveform (Parseval with the analysis window's energy)."""
    w2 = float(np.sum(features.window(n_fft, win_length) ** 2))
    return n_fft / w2 if fft_normalize else 1.0 / (n_fft * w2)


def examples_per_epoch(sources: Sources, frames: int) -> int:
    """As many segment crops as the split has segments of audio (at least one)."""
    return max(1, int(np.sum(sources.lengths)) // frames)


def dataset(
    sources: Sources,
    cfg: Config,
    batch_size: int,
    *,
    first_epoch: int,
    epochs: int,
    per_epoch: int,
    validation: bool = False,
    drop_remainder: bool = True,
):
    """`tf.data.Dataset` of `(noisy_mag (B, T, bins), target (B, T, 4, bins))`, `per_epoch`
    examples for each epoch in [first_epoch, epochs) (validation: one fixed pass), in order."""
    import tensorflow as tf

    d = cfg.dset
    frames = derive(cfg).frames_per_segment
    n_utt = sources.utterances
    store = sources.variable()
    offsets = tf.constant(sources.offsets)
    lengths = tf.constant(sources.lengths)
    bins = sources.frames.shape[-1]
    weights = np.full(bins, 2.0, np.float32)
    weights[0] = 1.0
    if d.n_fft % 2 == 0:
        weights[-1] = 1.0
    bin_weights = tf.constant(weights)
    to_ms = power_to_mean_square(d.n_fft, d.win_length, d.fft_normalize)
    snr_lo, snr_hi = (float(v) for v in d.remix_snr)
    lvl_lo, lvl_hi = (float(v) for v in d.remix_level)
    eq_db = float(d.remix_eq_db)
    seed = int(cfg.seed)
    steps = tf.range(frames, dtype=tf.int64)

    base = tf.constant(seed * 1_000_003, tf.int64)
    # (An empty range of epochs still gets one row: the dataset then has no element to use it.)
    epoch_ids = [VALID_EPOCH] if validation else list(range(first_epoch, epochs)) or [first_epoch]

    def permutations(stream: int):
        """The utterance order of each epoch for one stream (1: speech, 2: noise), made once
        here rather than for every example: (epochs, utterances)."""
        return tf.stack(
            [
                tf.argsort(
                    tf.random.stateless_uniform(
                        [n_utt], seed=tf.constant([seed * 1_000_003 - stream, e], tf.int64)
                    )
                )
                for e in epoch_ids
            ]
        )

    orders = {stream: permutations(stream) for stream in (1, 2)}

    def draws(index):
        """One example's random choices (its seeds are its own, so they are drawn one by one):
        speech and noise utterance, their crop starts, the uniforms of SNR and level, and the
        weights of the two EQ curves (speech, noise)."""
        epoch = VALID_EPOCH if validation else index // per_epoch
        k = index % per_epoch
        draw = tf.random.stateless_uniform([4], seed=tf.stack([base + k, epoch]))
        # The EQ's weights have a seed of their own, so turning it on leaves the other draws.
        if eq_db > 0:
            eq_seed = tf.stack([base + k, epoch + EQ_STREAM])
            eq = tf.random.stateless_uniform([2, EQ_TERMS], seed=eq_seed)
        else:
            eq = tf.zeros([2, EQ_TERMS])
        row = 0 if validation else epoch - first_epoch

        def permuted(stream: int):
            return orders[stream][row, k % n_utt]

        speech_utt = k % n_utt if validation else permuted(1)
        noise_utt = permuted(2)
        speech_room = tf.maximum(lengths[speech_utt] - frames, 0) + 1
        noise_room = tf.maximum(lengths[noise_utt] - frames, 0) + 1
        s_start = tf.cast(draw[0] * tf.cast(speech_room, tf.float32), tf.int64)
        n_start = tf.cast(draw[1] * tf.cast(noise_room, tf.float32), tf.int64)
        return (
            tf.cast(speech_utt, tf.int64),
            tf.minimum(s_start, speech_room - 1),
            tf.cast(noise_utt, tf.int64),
            tf.minimum(n_start, noise_room - 1),
            draw[2],
            draw[3],
            eq,
        )

    def crop(utt, start, loop, channels):
        """`frames` rows of each utterance `utt` (B,) from `start` (B,), only the two stored
        channels the mixture needs (clean re/im or noise re/im): (B, frames, 2, bins)."""
        length = tf.gather(lengths, utt)[:, None]
        pos = start[:, None] + steps[None, :]
        valid = pos < length
        if loop:
            pos, valid = pos % length, tf.ones_like(valid)
        rows = tf.gather(offsets, utt)[:, None] + tf.minimum(pos, length - 1)  # (B, frames)
        rows = tf.broadcast_to(rows[:, :, None], tf.concat([tf.shape(rows), [2]], 0))
        chans = tf.broadcast_to(tf.constant(channels, tf.int64), tf.shape(rows))
        picked = tf.gather_nd(store, tf.stack([rows, chans], axis=-1))
        return picked * tf.cast(valid, tf.float32)[:, :, None, None]

    def frame_power(re, im):
        return tf.reduce_sum((re * re + im * im) * bin_weights, axis=-1)

    def mix(speech_utt, s_start, noise_utt, n_start, u_snr, u_level, u_eq):
        """A batch of mixtures from a batch of draws, every step on the whole batch at once."""
        speech = crop(speech_utt, s_start, loop=False, channels=(0, 1))
        noise = crop(noise_utt, n_start, loop=True, channels=(2, 3))
        if eq_db > 0:
            gains = eq_gains(u_eq, bins, eq_db)  # (B, 2, bins): speech, noise
            speech = speech * gains[:, None, 0:1, :]
            noise = noise * gains[:, None, 1:2, :]
        sr, si = speech[:, :, 0], speech[:, :, 1]
        nr, ni = noise[:, :, 0], noise[:, :, 1]
        p_speech = frame_power(sr, si)  # (B, frames)
        loudest = tf.reduce_max(p_speech, axis=1, keepdims=True)
        active = p_speech >= loudest * 10.0 ** (-ACTIVE_DB / 10.0)
        active = tf.logical_and(active, p_speech > 0)
        p_active = tf.math.divide_no_nan(
            tf.reduce_sum(tf.where(active, p_speech, 0.0), axis=1),
            tf.reduce_sum(tf.cast(active, tf.float32), axis=1),
        )
        p_noise = tf.reduce_mean(frame_power(nr, ni), axis=1)
        snr = snr_lo + (snr_hi - snr_lo) * u_snr
        noise_gain = tf.sqrt(tf.math.divide_no_nan(p_active, p_noise * 10.0 ** (snr / 10.0)))
        # A crop without speech keeps its noise, set to the drawn level itself.
        noise_gain = tf.where(p_active > 0, noise_gain, 1.0)
        reference = tf.where(p_active > 0, p_active, p_noise)
        level = lvl_lo + (lvl_hi - lvl_lo) * u_level
        gain = tf.sqrt(tf.math.divide_no_nan(10.0 ** (level / 10.0), reference * to_ms))
        gain, noise_gain = gain[:, None, None], noise_gain[:, None, None]
        sr, si = gain * sr, gain * si
        yr, yi = sr + gain * noise_gain * nr, si + gain * noise_gain * ni
        target = tf.stack([yr, yi, sr, si], axis=2)
        return tf.sqrt(yr * yr + yi * yi), target

    if validation:
        indices = tf.data.Dataset.range(per_epoch)
    else:
        indices = tf.data.Dataset.range(first_epoch * per_epoch, epochs * per_epoch)
    # The draws one example at a time (each has its own seed), the mixing a batch at a time:
    # a few large ops per batch instead of many small ones per example (bench/train.py).
    ds = indices.map(draws, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(mix, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def describe(sources: Sources, cfg: Config, split: str) -> dict[str, Any]:
    """Counts for the log."""
    d = cfg.dset
    seconds = float(np.sum(sources.lengths)) * d.hop_length / d.sample_rate
    return {"split": split, "utterances": sources.utterances, "seconds": round(seconds, 1)}
