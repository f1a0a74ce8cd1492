"""The LSTM mask model: a sequence model for training and a one-frame model for streaming/export.

Sequence model (`build_model`), for noisy magnitude frames `(batch, frames, bins)`:

    compress (|X|**p or log1p, optional)  ->  mel projection (fixed, optional)
    ->  per-bin standardization (fixed, optional: `model.input_norm`)
    ->  layers x LSTM(units) [-> BatchNorm]  ->  Dense relu (optional)
    ->  Dense sigmoid (to the mel bands with mel on, else to the bins)
    ->  inverse mel (fixed, with mel on)  ->  mask in [0, 1] over the bins
    [-> floor + (1 - floor) * mask, `model.mask_floor`: a lowest gain]

Mel (a choice, documented here): the projection averages the compressed bins of each mel band
(Slaney filters, each normalized to unit sum, so the mel features stay in the range of the
compressed bins, which int8 quantization likes); the inverse mel gives every bin a convex
combination of the band masks it falls in (rows normalized to unit sum, so the mask stays in
[0, 1] with no second sigmoid and no extra weights). Both are non-trainable Dense layers
without bias: they convert to FULLY_CONNECTED and are saved with the model.

Input normalization (`model.input_norm: per-bin`): `(x - mean) / std` per feature, with mean and
std measured on the training data before training (`set_input_norm`) and saved with the model as
non-trainable weights. Nothing in it depends on the utterance: it is what a device computes
frame by frame. The streaming model folds it into the first LSTM layer's input kernel and bias
(`W' = W / std`, `b' = b - (mean / std) W`), so the exported graph and the device's input are
those of a model without it.

Streaming model (`build_streaming_model`): the same layers and weights, batch 1, one frame,
explicit h/c state of every LSTM layer in and out, `unroll=True`. Everything between the input
and the output is 2-D `(1, features)` except the LSTM step itself, so the model converts to
TFLite with only FULLY_CONNECTED, ADD, MUL, LOGISTIC, TANH, SPLIT, RESHAPE and UNPACK (plus POW
or LOG when the frontend is included; the int8 export leaves it out with `frontend=False`; plus
MINIMUM and MAXIMUM with a bounded cell state, `model.cell_clip`).
"""

from __future__ import annotations

import logging
from typing import Any

import keras
import numpy as np

from . import config as config_mod
from . import features

log = logging.getLogger(__name__)

#: Floor of the power-law compression, as `features.tf_compress` uses.
_POWER_FLOOR = 1e-12


@keras.saving.register_keras_serializable(package="lstm_se")
class Compress(keras.layers.Layer):
    """Magnitude compression at the model input: 'power' (|X|**p) or 'log1p'.

    A layer of its own (not a Lambda) so that `.keras` files load without unsafe deserialization
    and so the streaming model can leave it out (`frontend=False`).
    """

    def __init__(self, kind: str = "power", power: float = 0.3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if kind not in ("power", "log1p"):
            raise ValueError(f"Compress kind must be 'power' or 'log1p', got {kind!r}")
        self.kind = kind
        self.power = float(power)

    def call(self, inputs):
        return features.tf_compress(inputs, self.kind, self.power)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "kind": self.kind, "power": self.power}


@keras.saving.register_keras_serializable(package="lstm_se")
class InputNorm(keras.layers.Layer):
    """Fixed per-feature standardization `(x - mean) * inv_std` (non-trainable weights)."""

    def build(self, input_shape):
        width = int(input_shape[-1])
        self.mean = self.add_weight(
            shape=(width,), initializer="zeros", trainable=False, name="mean"
        )
        self.inv_std = self.add_weight(
            shape=(width,), initializer="ones", trainable=False, name="inv_std"
        )

    def call(self, inputs):
        return (inputs - self.mean) * self.inv_std

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="lstm_se")
class BoundedLSTMCell(keras.layers.LSTMCell):
    """An LSTM cell whose cell state is clipped to [-bound, bound] at every step.

    The cell state of an LSTM trained freely spans a wide range (-118..106 in the shipped
    default), which a full-integer int8 model resolves in steps of about 0.9. Clipping it in
    training, and at the same place in the streaming model (two element-wise ops, MINIMUM and
    MAXIMUM), bounds the range the int8 state must cover (`model.cell_clip`). Same weights and
    weight order as `keras.layers.LSTMCell`, so weights copy between the two.
    """

    def __init__(self, units: int, bound: float = 0.0, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.bound = float(bound)

    def _clip(self, c):
        return keras.ops.clip(c, -self.bound, self.bound) if self.bound > 0 else c

    def _compute_carry_and_output(self, x, h_tm1, c_tm1):
        c, o = super()._compute_carry_and_output(x, h_tm1, c_tm1)
        return self._clip(c), o

    def _compute_carry_and_output_fused(self, z, c_tm1):
        c, o = super()._compute_carry_and_output_fused(z, c_tm1)
        return self._clip(c), o

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "bound": self.bound}


def _lstm(m, name: str, **kwargs: Any) -> keras.layers.Layer:
    """One LSTM layer of the model: Keras' LSTM, or an RNN of `BoundedLSTMCell` when
    `model.cell_clip` bounds the cell state (same weights, same layer name)."""
    if m.cell_clip > 0:
        return keras.layers.RNN(BoundedLSTMCell(m.units, m.cell_clip), name=name, **kwargs)
    return keras.layers.LSTM(m.units, name=name, **kwargs)


def set_input_norm(model: keras.Model, mean: np.ndarray, std: np.ndarray) -> None:
    """Store the per-feature statistics in the model's `input_norm` layer (std floored)."""
    std = np.maximum(np.asarray(std, np.float64), 1e-6)
    model.get_layer("input_norm").set_weights(
        [np.asarray(mean, np.float32), (1.0 / std).astype(np.float32)]
    )


def fold_input_norm(source: keras.Model, target: keras.Model) -> None:
    """Fold `source`'s input_norm into `target`'s lstm_1 input kernel and bias (in place)."""
    mean, inv_std = (
        np.asarray(w, np.float64) for w in source.get_layer("input_norm").get_weights()
    )
    lstm = target.get_layer("lstm_1")
    kernel, recurrent, bias = (np.asarray(w, np.float64) for w in lstm.get_weights())
    folded = kernel * inv_std[:, None]
    lstm.set_weights(
        [
            folded.astype(np.float32),
            recurrent.astype(np.float32),
            (bias - (mean * inv_std) @ kernel).astype(np.float32),
        ]
    )


def compress(mag: np.ndarray, cfg: config_mod.Config) -> np.ndarray:
    """The model's frontend in numpy (float32), for callers of a `frontend=False` model."""
    m = cfg.model
    mag = np.asarray(mag, dtype=np.float32)
    if m.compression == "none":
        return mag
    if m.compression == "power":
        return np.power(np.maximum(mag, _POWER_FLOOR), m.compression_power).astype(np.float32)
    if m.compression == "log1p":
        return np.log1p(mag).astype(np.float32)
    raise ValueError(f"unknown compression '{m.compression}'")


def mel_matrices(cfg: config_mod.Config) -> tuple[np.ndarray, np.ndarray]:
    """(projection (bins, n_mels), inverse (n_mels, bins)), float32, as the module doc says.

    Every bin is covered by the inverse: a bin outside [f_min, f_max] (or between filters)
    takes the mask of the band whose centre is nearest.
    """
    d, m = cfg.dset, cfg.model
    derived = config_mod.derive(cfg)
    fb = features.mel_matrix(d.sample_rate, d.n_fft, m.n_mels, m.f_min, derived.f_max)
    col = fb.sum(axis=0, keepdims=True)
    proj = np.divide(fb, col, out=np.zeros_like(fb), where=col > 0)
    inv = fb.copy()
    row = inv.sum(axis=1)
    empty = row <= 0
    if empty.any():
        bin_hz = np.arange(fb.shape[0]) * d.sample_rate / d.n_fft
        centre_hz = (fb * bin_hz[:, None]).sum(axis=0) / np.maximum(fb.sum(axis=0), 1e-12)
        live = np.flatnonzero(fb.sum(axis=0) > 0)
        for k in np.flatnonzero(empty):
            inv[k, live[np.argmin(np.abs(centre_hz[live] - bin_hz[k]))]] = 1.0
        row = inv.sum(axis=1)
    inv = inv / row[:, None]
    return proj.astype(np.float32), inv.T.astype(np.float32)


def _fixed_dense(units: int, name: str) -> keras.layers.Dense:
    return keras.layers.Dense(units, use_bias=False, trainable=False, name=name)


def _set_mel(model: keras.Model, cfg: config_mod.Config) -> None:
    proj, inv = mel_matrices(cfg)
    model.get_layer("mel").set_weights([proj])
    model.get_layer("mask").set_weights([inv])


def _check(cfg: config_mod.Config) -> config_mod.Derived:
    derived = config_mod.derive(cfg)
    if cfg.model.compression == "power" and cfg.model.compression_power <= 0:
        raise config_mod.ConfigError(
            f"'model.compression_power' must be positive, got {cfg.model.compression_power}"
        )
    return derived


def _mask_head(h, m, bins: int):
    """Dense layers after the LSTMs, shared by the sequence and the streaming model (same
    layer names, so weights copy by name): optional relu Dense, sigmoid mask (in mel bands and
    back through the fixed inverse mel when mel input is on)."""
    if m.dense_units:
        h = keras.layers.Dense(m.dense_units, activation="relu", name="dense")(h)
    if m.n_mels:
        h = keras.layers.Dense(m.n_mels, activation="sigmoid", name="mel_mask")(h)
        h = _fixed_dense(bins, "mask")(h)
    else:
        h = keras.layers.Dense(bins, activation="sigmoid", name="mask")(h)
    if m.mask_floor > 0:
        # Part of the model (trained with it, exported with it as one MUL and one ADD), so the
        # device applies exactly the gains the training saw.
        h = keras.layers.Rescaling(1.0 - m.mask_floor, m.mask_floor, name="mask_floor")(h)
    return h


def _sequence_frontend(x, m):
    """Compression, mel projection and input normalization of a `(batch, frames, bins)` input,
    shared by the sequence and the chunk model (same layer names, so weights copy by name)."""
    h = x
    if m.compression != "none":
        h = Compress(m.compression, m.compression_power, name="compress")(h)
    if m.n_mels:
        h = _fixed_dense(m.n_mels, "mel")(h)
    if m.input_norm == "per-bin":
        h = InputNorm(name="input_norm")(h)
    return h


def build_model(cfg: config_mod.Config) -> keras.Model:
    """Sequence model: noisy magnitude `(batch, frames, bins)` -> mask in [0, 1], same shape.

    Frames may vary between calls (the frame axis is None); the model is causal.
    """
    m = cfg.model
    bins = _check(cfg).n_bins
    x = keras.Input(shape=(None, bins), name="noisy_mag")
    h = _sequence_frontend(x, m)
    for i in range(1, m.layers + 1):
        h = _lstm(m, f"lstm_{i}", return_sequences=True)(h)
        if m.batch_norm:
            h = keras.layers.BatchNormalization(name=f"bn_{i}")(h)
    h = _mask_head(h, m, bins)
    model = keras.Model(x, h, name=m.name)
    if m.n_mels:
        _set_mel(model, cfg)
    return model


def state_names(cfg: config_mod.Config) -> list[str]:
    """Names of the state inputs (and outputs) in order: h_1, c_1, ..., h_L, c_L."""
    return [f"{k}_{i}" for i in range(1, cfg.model.layers + 1) for k in ("h", "c")]


def initial_state(cfg: config_mod.Config) -> list[np.ndarray]:
    """Zeros for every state input of the streaming model, each `(1, units)` float32."""
    return [np.zeros((1, cfg.model.units), np.float32) for _ in state_names(cfg)]


def build_streaming_model(
    cfg: config_mod.Config, trained: keras.Model, frontend: bool = True
) -> keras.Model:
    """One-frame, batch-1 model with explicit LSTM state, weights copied from `trained`.

    Inputs `[frame (1, 1, bins), h_1, c_1, ..., h_L, c_L]` (states `(1, units)`), outputs
    `[mask (1, 1, bins), h_1, c_1, ...]`. With `frontend=False` the frame must already be
    compressed (`compress`), and the model holds no POW/LOG op.
    """
    m = cfg.model
    bins = _check(cfg).n_bins
    frame = keras.Input(batch_shape=(1, 1, bins), name="frame")
    states = [keras.Input(batch_shape=(1, m.units), name=n) for n in state_names(cfg)]
    h = frame
    if frontend and m.compression != "none":
        h = Compress(m.compression, m.compression_power, name="compress")(h)
    # 2-D from here on: Dense on (1, F) converts to a plain FULLY_CONNECTED.
    h = keras.layers.Reshape((bins,), name="flatten_frame")(h)
    if m.n_mels:
        h = _fixed_dense(m.n_mels, "mel")(h)
    out_states = []
    for i in range(1, m.layers + 1):
        width = h.shape[-1]
        h = keras.layers.Reshape((1, width), name=f"step_{i}")(h)
        h, h_state, c_state = _lstm(m, f"lstm_{i}", unroll=True, return_state=True)(
            h, initial_state=states[2 * i - 2 : 2 * i]
        )
        out_states += [h_state, c_state]
        if m.batch_norm:
            h = keras.layers.BatchNormalization(name=f"bn_{i}")(h)
    h = _mask_head(h, m, bins)
    mask = keras.layers.Reshape((1, bins), name="mask_frame")(h)
    model = keras.Model([frame, *states], [mask, *out_states], name=f"{m.name}_streaming")
    copy_weights(trained, model)
    if m.input_norm == "per-bin":
        fold_input_norm(trained, model)
    return model


def copy_weights(source: keras.Model, target: keras.Model) -> None:
    """Copy every weighted layer of `target` from the layer of the same name in `source`."""
    for layer in target.layers:
        if not layer.weights:
            continue
        try:
            src = source.get_layer(layer.name)
        except ValueError as exc:
            raise ValueError(
                f"layer '{layer.name}' of {target.name} has no counterpart in {source.name}: "
                "was the trained model built from another config?"
            ) from exc
        layer.set_weights(src.get_weights())


def summary_text(model: keras.Model) -> str:
    """The Keras summary as one string (for the log)."""
    lines: list[str] = []
    model.summary(print_fn=lambda text, **_: lines.append(text))
    return "\n".join(lines)


def build_chunk_model(cfg: config_mod.Config, trained: keras.Model) -> keras.Model:
    """The sequence model with explicit LSTM state: batch 1, any number of frames per call.

    Inputs `[frames (1, None, bins), h_1, c_1, ...]`, outputs `[masks (1, None, bins), h_1,
    c_1, ...]`, weights copied from `trained` (input_norm kept as a layer, not folded). Feeding
    a long input chunk by chunk with the state carried gives the masks of one call on the whole
    input (the model is causal), with memory bounded by the chunk.
    """
    m = cfg.model
    bins = _check(cfg).n_bins
    frames = keras.Input(batch_shape=(1, None, bins), name="frames")
    states = [keras.Input(batch_shape=(1, m.units), name=n) for n in state_names(cfg)]
    h = _sequence_frontend(frames, m)
    out_states = []
    for i in range(1, m.layers + 1):
        h, h_state, c_state = _lstm(m, f"lstm_{i}", return_sequences=True, return_state=True)(
            h, initial_state=states[2 * i - 2 : 2 * i]
        )
        out_states += [h_state, c_state]
        if m.batch_norm:
            h = keras.layers.BatchNormalization(name=f"bn_{i}")(h)
    mask = _mask_head(h, m, bins)
    model = keras.Model([frames, *states], [mask, *out_states], name=f"{m.name}_chunked")
    copy_weights(trained, model)
    return model
