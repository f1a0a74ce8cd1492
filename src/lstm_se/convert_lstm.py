"""TFLite's fused int8 LSTM: the one-frame model as UNIDIRECTIONAL_SEQUENCE_LSTM ops.

The explicit-state model (`convert`) unrolls each LSTM cell into FULLY_CONNECTED, ADD, MUL,
LOGISTIC and TANH ops whose every tensor is int8. TFLite's fused LSTM kernel instead keeps the
gates and the cell state in 16 bits (the "8x8_16" integer LSTM: int8 weights, input and hidden
state, int16 gates and cell state), and it keeps the state itself, in variable tensors that
persist across `Invoke` (the model has one input, the frame, and one output, the mask).

Only Keras 2 (`tf-keras`, `TF_USE_LEGACY_KERAS=1`) marks its LSTM layer for the converter's
fusion; Keras 3, which the rest of the project uses, converts an LSTM to a WHILE loop. Keras 2
and Keras 3 cannot share one process (the environment variable is read when TensorFlow is first
imported), so this runs as its own child: the Keras 3 conversion child (`convert`) writes the
streaming model's weights (input normalization already folded in) and the compressed
representative frames to an .npz, and `python -m lstm_se.convert_lstm SPEC.json` rebuilds the
model as a batch-1, one-step Keras 2 LSTM and converts it. This module imports no TensorFlow
until its `_main` runs (with the variable set).

On the device, TFLite Micro's reference UNIDIRECTIONAL_SEQUENCE_LSTM kernel keeps the state in
the variable tensors as here; the CMSIS-NN one (checked at tflite-micro's 2026 head) hands the
kernel a scratch cell state and loses the state between calls, so firmware must register the
reference kernel for this op (`Register_UNIDIRECTIONAL_SEQUENCE_LSTM()` from
`tensorflow/lite/micro/kernels/unidirectional_sequence_lstm.h`, built without
`OPTIMIZED_KERNEL_DIR=cmsis_nn` for that file, or the op resolver's reference registration) and
must call `interpreter.Reset()` (which resets the variable tensors) at the start of a stream.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

LSTM_FILE = "model_lstm_int8.tflite"
"""The fused-LSTM int8 model's file in `<run>/export/`."""
WEIGHTS_FILE = "lstm_weights.npz"
"""What the Keras 3 conversion child hands this one: weights and representative frames."""


def available() -> bool:
    """True when tf-keras (Keras 2) is installed, which this conversion needs."""
    return importlib.util.find_spec("tf_keras") is not None


def weights_npz(stream_model: Any, cfg: Any, frames: np.ndarray, path: Path) -> None:
    """Write the streaming model's layer weights and the compressed representative frames
    `(n, bins)`, in order (the calibration runs them through the stateful model as one
    stream), for `convert_lstm` (called in the Keras 3 child)."""
    arrays: dict[str, np.ndarray] = {"frames": np.asarray(frames, np.float32)}
    for layer in stream_model.layers:
        for k, w in enumerate(layer.get_weights()):
            arrays[f"{layer.name}/{k}"] = np.asarray(w, np.float32)
    arrays["layers"] = np.array(cfg.model.layers)
    arrays["units"] = np.array(cfg.model.units)
    arrays["dense_units"] = np.array(cfg.model.dense_units or 0)
    arrays["mask_floor"] = np.array(cfg.model.mask_floor, np.float32)
    np.savez(path, **arrays)


def supported(cfg: Any) -> str | None:
    """None when the config's model can be built as the fused model, else why not."""
    m = cfg.model
    if m.n_mels:
        return "mel bands (model.n_mels) are not built into the fused-LSTM model"
    if m.batch_norm:
        return "batch norm between the LSTM layers is not built into the fused-LSTM model"
    return None


def build_and_convert(npz: Path) -> bytes:
    """Rebuild the model from `npz` as a batch-1, one-step Keras 2 LSTM and convert it to full
    integer int8 (int8 input and output) with the fused LSTM kernel. Needs
    TF_USE_LEGACY_KERAS=1 set before TensorFlow was imported.

    The Keras layers are not `stateful` (a stateful LSTM crashes the converter's calibration
    with a segfault, seen with tf-keras 2.21): the converted op's state tensors are variables
    all the same, updated in place by every `Invoke`, so the calibration, too, runs the frames
    as one stream."""
    import tensorflow as tf
    import tf_keras

    data = np.load(npz)
    frames = data["frames"]
    layers, units, dense_units = (int(data[k]) for k in ("layers", "units", "dense_units"))
    bins = frames.shape[-1]
    inp = tf_keras.Input(batch_shape=(1, 1, bins), name="frame")
    h = inp
    for i in range(1, layers + 1):
        h = tf_keras.layers.LSTM(units, return_sequences=True, unroll=False, name=f"lstm_{i}")(h)
    if dense_units:
        h = tf_keras.layers.Dense(dense_units, activation="relu", name="dense")(h)
    out = tf_keras.layers.Dense(bins, activation="sigmoid", name="mask")(h)
    floor = float(data["mask_floor"]) if "mask_floor" in data else 0.0
    if floor > 0:
        out = tf_keras.layers.Rescaling(1.0 - floor, floor, name="mask_floor")(out)
    model = tf_keras.Model(inp, out)
    for layer in model.layers:
        n = len(layer.get_weights())
        if n:
            layer.set_weights([data[f"{layer.name}/{k}"] for k in range(n)])

    def representative():
        for frame in frames:
            yield [frame.reshape(1, 1, bins)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return bytes(converter.convert())


def _main(argv: Sequence[str]) -> int:
    """`python -m lstm_se.convert_lstm SPEC.json` (SPEC: {"npz": ..., "out": ...})."""
    if len(argv) != 1:
        print("usage: python -m lstm_se.convert_lstm SPEC.json", file=sys.stderr)
        return 2
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        print(
            "error: run with TF_USE_LEGACY_KERAS=1 (the fused LSTM needs Keras 2)", file=sys.stderr
        )
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    spec = json.loads(Path(argv[0]).read_text())
    if not available():
        print("error: tf-keras is not installed (pip install --no-deps tf-keras)", file=sys.stderr)
        return 1
    print("STAGE convert fused LSTM int8", flush=True)
    data = build_and_convert(Path(spec["npz"]))
    from .export_files import atomic_write_bytes

    atomic_write_bytes(Path(spec["out"]), data)
    log.info("%s: %d bytes", spec["out"], len(data))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
