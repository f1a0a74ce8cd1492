"""Frame maskers: one magnitude frame in, one mask out, the LSTM state carried between calls.

A masker is what streaming enhancement (`enhance.StreamingEnhancer`) and a device run call once
per hop. Two run the trained float model on the host:

- :class:`LiteRTMasker` (what `lstm-se enhance --streaming` uses): the one-frame Keras model
  converted to a float TFLite model in memory (under a second) and run by LiteRT on one thread,
  about 25 us per frame, so a laptop streams live audio with room to spare.
- :class:`KerasMasker`: the same one-frame model called through a compiled `tf.function`, the
  reference the LiteRT masker is tested against (several ms per frame: TensorFlow's per-call
  overhead, not the model's cost).

Exported int8/16x8 models have their own maskers (`tflite_masker.py`), built through a
`MaskerFactory`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .config import Config


class Masker(Protocol):
    """One magnitude frame `(bins,)` in, one mask `(bins,)` out, with state carried between."""

    def reset(self) -> None:
        """Forget the carried state (start of a new signal)."""

    def __call__(self, mag_frame: np.ndarray) -> np.ndarray:
        """Mask in [0, 1] for one frame of noisy magnitudes."""


MaskerFactory = Callable[[Path, Config], Masker]
"""Builds a masker for a run folder and its config (how `lstm-se enhance --tflite` gets the
int8 masker from tflite_masker.py)."""


class KerasMasker:
    """Frame masker around the one-frame streaming Keras model (explicit h/c state).

    Built from the trained sequence model with `model.build_streaming_model`, so both share
    the same weights. The step is a compiled `tf.function` with a fixed signature: calling a
    Keras model eagerly costs milliseconds per frame, which would hide the real per-frame cost.
    """

    def __init__(self, cfg: Config, trained: Any) -> None:
        import tensorflow as tf

        from . import model as model_mod

        self.cfg = cfg
        self.model = model_mod.build_streaming_model(cfg, trained)
        self._initial = model_mod.initial_state(cfg)
        bins = cfg.dset.n_fft // 2 + 1
        spec = [tf.TensorSpec((1, 1, bins), tf.float32)] + [
            tf.TensorSpec(s.shape, tf.float32) for s in self._initial
        ]
        keras_model = self.model

        @tf.function(input_signature=spec, autograph=False)
        def step(*inputs):
            return keras_model(list(inputs), training=False)

        self._step = step
        self.state: list[Any] = []
        self.reset()

    def reset(self) -> None:
        """Zero LSTM state."""
        self.state = [s.copy() for s in self._initial]

    def __call__(self, mag_frame: np.ndarray) -> np.ndarray:
        frame = np.asarray(mag_frame, dtype=np.float32).reshape(1, 1, -1)
        mask, *self.state = self._step(frame, *self.state)
        return mask.numpy().reshape(-1)


def float_tflite(cfg: Config, trained: Any) -> bytes:
    """The one-frame model (frontend included) as a float TFLite flatbuffer, converted here."""
    import tensorflow as tf

    from . import model as model_mod

    stream = model_mod.build_streaming_model(cfg, trained)
    converter = tf.lite.TFLiteConverter.from_keras_model(stream)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
        return bytes(converter.convert())


class LiteRTMasker:
    """Frame masker running the float one-frame model in LiteRT (one thread).

    Same weights and graph as :class:`KerasMasker` (the converter keeps float32 arithmetic),
    so the two agree to float rounding; the LiteRT call costs tens of microseconds where the
    `tf.function` call costs milliseconds. The converter names the outputs `output_k` in the
    Keras model's output order (mask, then h_1, c_1, ...), which is how the state is carried.
    """

    def __init__(self, cfg: Config, trained: Any = None, model_bytes: bytes | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        from . import model as model_mod

        if model_bytes is None:
            if trained is None:
                raise ValueError("LiteRTMasker needs the trained model or a float TFLite model")
            model_bytes = float_tflite(cfg, trained)
        self.cfg = cfg
        self.model_bytes = model_bytes
        interpreter = Interpreter(model_content=model_bytes, num_threads=1)
        self._runner = interpreter.get_signature_runner()
        self._state_names = model_mod.state_names(cfg)
        self._outputs = [f"output_{k + 1}" for k in range(len(self._state_names))]
        self._initial = model_mod.initial_state(cfg)
        self._bins = cfg.dset.n_fft // 2 + 1
        self.state: dict[str, np.ndarray] = {}
        self.reset()

    def reset(self) -> None:
        """Zero LSTM state."""
        self.state = {
            n: s.astype(np.float32).copy()
            for n, s in zip(self._state_names, self._initial, strict=True)
        }

    def __call__(self, mag_frame: np.ndarray) -> np.ndarray:
        frame = np.asarray(mag_frame, dtype=np.float32).reshape(1, 1, self._bins)
        out = self._runner(frame=frame, **self.state)
        self.state = {n: out[o] for n, o in zip(self._state_names, self._outputs, strict=True)}
        return np.asarray(out["output_0"]).reshape(-1)
