"""The Keras callbacks of a training run: divergence guard, timing, update ratio, resumable
early stopping and plateau, checkpoints, history, the resume backup, and the TensorBoard
samples and PESQ/STOI scoring of validation clips.

Each callback that must survive a resume has a `state()` that `ResumeState` saves in
`backup/state.json` (run_state.py); `train.run` puts it back when the run resumes.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from . import LstmSeError, features, losses, run_state, runs
from . import config as config_mod

log = logging.getLogger(__name__)


class TrainingDiverged(LstmSeError, RuntimeError):
    """The loss (or the weights) became NaN or Inf."""


def _weights_finite(model: keras.Model) -> bool:
    return all(np.all(np.isfinite(w)) for w in model.get_weights())


class NanGuard(keras.callbacks.Callback):
    """Stops at the first NaN/Inf loss (or weights) by raising `TrainingDiverged`.

    It runs first, so nothing of the diverged epoch reaches the disk.
    """

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def _fail(self, what: str, where: str) -> None:
        state = run_state.read_state(self.run_dir)
        kept = (
            f"the last good weights (epoch {state['epoch']}) are in {self.run_dir}"
            if state
            else "no epoch had finished, so no weights were saved"
        )
        raise TrainingDiverged(
            f"training diverged: {what} at {where}. Nothing from this epoch was saved; {kept}. "
            "Look for NaN/Inf or extreme values in the data, or lower optim.lr (and keep "
            "optim.clipnorm on); re-running resumes from the last good epoch, --restart starts "
            "over."
        )

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self._fail(f"the loss is {float(loss)}", f"epoch {self.epoch + 1}, batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        for key in ("loss", "val_loss"):
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(float(value)):
                self._fail(f"{key} is {float(value)}", f"the end of epoch {epoch + 1}")
        if not _weights_finite(self.model):
            self._fail("the weights hold NaN/Inf", f"the end of epoch {epoch + 1}")


class TimeHistory(keras.callbacks.Callback):
    """Adds `epoch_seconds`, `step_seconds` (training steps only) and `learning_rate` to logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()
        self.t_train = self.t0
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self.t_train = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        logs["epoch_seconds"] = time.perf_counter() - self.t0
        logs["step_seconds"] = (self.t_train - self.t0) / max(1, self.steps)
        opt = self.model.optimizer
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(opt.learning_rate))


class UpdateRatio(keras.callbacks.Callback):
    """How far the optimizer really moves the weights against the nominal step, measured on
    the first `steps` training steps of the run: the median over weights of |Δw| / lr per step,
    then the median over steps (Adam's step is about lr while the gradients are well above its
    epsilon; far below 1 means the loss scale starves it). Logged as `update_ratio` at the end
    of the first epoch and kept in the resume state and `summary.json`."""

    def __init__(self, steps: int = 20) -> None:
        super().__init__()
        self.steps = steps
        self.ratios: list[float] = []
        self.before: np.ndarray | None = None
        self.result: dict[str, Any] | None = None

    def _flat(self) -> np.ndarray:
        return np.concatenate(
            [np.ravel(keras.ops.convert_to_numpy(w)) for w in self.model.trainable_weights]
        ).astype(np.float64)

    def on_train_batch_begin(self, batch, logs=None):
        if self.result is None and len(self.ratios) < self.steps:
            self.lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            self.before = self._flat()

    def on_train_batch_end(self, batch, logs=None):
        if self.before is not None:
            delta = np.abs(self._flat() - self.before)
            self.ratios.append(float(np.median(delta)) / self.lr)
            self.before = None

    def on_epoch_end(self, epoch, logs=None):
        if self.result is None and self.ratios:
            self.result = {
                "median": float(np.median(self.ratios)),
                "min": float(np.min(self.ratios)),
                "steps": len(self.ratios),
            }
            log.info(
                "update/lr ratio over the first %d steps: median %.3g (min %.3g)",
                len(self.ratios),
                self.result["median"],
                self.result["min"],
            )
            if logs is not None:
                logs["update_ratio"] = self.result["median"]

    def state(self) -> dict[str, Any] | None:
        return self.result


class _ResumableCounters:
    """Mixin for Keras callbacks whose counters must survive a resume: Keras resets them in
    `on_train_begin`, so they are put back from the saved state right after."""

    int_fields: tuple[str, ...] = ()
    """Counters saved and restored as int; `best` is always kept (as a JSON float)."""
    report_fields: tuple[str, ...] = ()
    """Counters saved for the record but not restored (they describe the finished run)."""

    def __init__(self, restored: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.restored = restored

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.restored:
            self.best = self.restored["best"]
            for name in self.int_fields:
                setattr(self, name, int(self.restored[name]))

    def state(self) -> dict[str, Any]:
        names = self.int_fields + self.report_fields
        return {
            "best": run_state.json_float(self.best),
            **{n: int(getattr(self, n)) for n in names},
        }


class ResumableEarlyStopping(_ResumableCounters, keras.callbacks.EarlyStopping):
    """EarlyStopping whose counters survive a resume."""

    int_fields = ("wait", "best_epoch")
    report_fields = ("stopped_epoch",)


class ResumablePlateau(_ResumableCounters, keras.callbacks.ReduceLROnPlateau):
    """ReduceLROnPlateau whose counters survive a resume (the rate itself is optimizer state)."""

    int_fields = ("wait", "cooldown_counter")


class Checkpoints(keras.callbacks.Callback):
    """`checkpoints/last.keras` every epoch, `checkpoints/best.keras` on a new best `monitor`."""

    def __init__(self, run_dir: Path, monitor: str, restored: dict[str, Any] | None) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.monitor = monitor
        restored = restored or {}
        self.best = restored.get("best")
        self.best_epoch = restored.get("epoch")

    def on_epoch_end(self, epoch, logs=None):
        run_state.atomic_save_model(self.model, self.run_dir / runs.LAST)
        value = (logs or {}).get(self.monitor)
        if value is not None and (self.best is None or float(value) < self.best):
            self.best, self.best_epoch = float(value), epoch
            run_state.atomic_save_model(self.model, self.run_dir / runs.BEST)
            log.info("epoch %d: new best %s %.5g", epoch + 1, self.monitor, self.best)

    def state(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor,
            "best": run_state.json_float(self.best),
            "epoch": self.best_epoch,
        }


class HistoryCSV(keras.callbacks.Callback):
    """`history.csv`: one row per finished epoch, continuous over resumes.

    On a resume the rows of epochs that were not finished (by the resume state) are dropped, so
    an epoch redone after a kill appears once. The file is rewritten atomically each epoch.
    """

    FIRST = ("epoch", "loss", "val_loss")

    def __init__(self, path: Path, initial_epoch: int) -> None:
        super().__init__()
        self.path = path
        self.rows: list[dict[str, str]] = []
        if path.is_file():
            with path.open(newline="", encoding="utf-8") as fh:
                self.rows = [r for r in csv.DictReader(fh) if int(r["epoch"]) < initial_epoch]

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": str(epoch)}
        for key, value in (logs or {}).items():
            row[key] = repr(float(value)) if np.ndim(value) == 0 else str(value)
        self.rows.append(row)
        self._write()

    def _write(self) -> None:
        keys = [k for k in self.FIRST if any(k in r for r in self.rows)]
        keys += sorted({k for r in self.rows for k in r} - set(keys))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        config_mod.atomic_write_text(self.path, buf.getvalue())


class ResumeState(keras.callbacks.Callback):
    """The resume backup: `backup/epoch-NNNN.weights.h5` (weights + optimizer), then
    `backup/state.json` pointing at it (each written atomically, the pointer last, so a kill at
    any moment leaves a consistent pair). Runs last in the callback list."""

    def __init__(self, run_dir: Path, parts: dict[str, Any], cfg: config_mod.Config) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.parts = parts  # name -> callback with .state(), saved alongside
        self.cfg = cfg
        self.stopped_early = False

    def on_epoch_end(self, epoch, logs=None):
        name = f"epoch-{epoch + 1:04d}.weights.h5"
        run_state.atomic_save_weights(self.model, self.run_dir / "backup" / name)
        state = {
            "epoch": epoch + 1,
            "weights": name,
            "epochs": self.cfg.epochs,
            "stopped_early": bool(self.model.stop_training),
            "iterations": int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)),
            **{key: cb.state() for key, cb in self.parts.items()},
        }
        config_mod.atomic_write_text(self.run_dir / run_state.STATE, json.dumps(state, indent=2))
        for old in (self.run_dir / "backup").glob("epoch-*.weights.h5"):
            if old.name != name:
                old.unlink(missing_ok=True)


def segment_wave(spec: np.ndarray, cfg: config_mod.Config) -> np.ndarray:
    """Waveform of one segment's (frames, bins) spectrum, without the edges that a masked
    spectrum blows up (`losses.edge_trim`)."""
    d = cfg.dset
    wave = features.istft(spec, d.n_fft, d.hop_length, d.win_length, d.center, d.fft_normalize)
    trim = losses.edge_trim(d.n_fft, d.hop_length, d.center)
    return wave[trim : len(wave) - trim]


class SampleLogger(keras.callbacks.Callback):
    """TensorBoard audio and spectrogram images of one fixed validation clip every N epochs."""

    def __init__(
        self, logdir: Path, clip: tuple[np.ndarray, np.ndarray], cfg: config_mod.Config, every: int
    ) -> None:
        super().__init__()
        self.x, self.y = clip
        self.every = every
        self.cfg = cfg
        self.writer = tf.summary.create_file_writer(str(logdir))
        self.first = True

    def _wave(self, spec: np.ndarray) -> np.ndarray:
        return segment_wave(spec, self.cfg)

    def _image(self, mag: np.ndarray, top: float) -> np.ndarray:
        """(frames, bins) magnitude -> (1, bins, frames, 3) RGB in [0, 1], 80 dB range."""
        import matplotlib

        db = 20 * np.log10(np.maximum(mag, 1e-10) / top)
        level = np.clip((db + 80.0) / 80.0, 0.0, 1.0)
        rgb = matplotlib.colormaps["magma"](level.T[::-1])[..., :3]
        return rgb[None].astype(np.float32)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every and not self.first:
            return
        mask = np.asarray(self.model(self.x[None], training=False))[0]
        noisy = self.y[:, 0] + 1j * self.y[:, 1]
        clean = self.y[:, 2] + 1j * self.y[:, 3]
        enhanced = mask * noisy
        waves = {"noisy": self._wave(noisy), "clean": self._wave(clean)}
        waves["enhanced"] = self._wave(enhanced)
        # One scale for all three (from the noisy clip) keeps their loudness comparable.
        scale = 0.9 / max(float(np.abs(waves["noisy"]).max()), 1e-9)
        top = float(np.abs(noisy).max()) or 1.0
        rate = self.cfg.dset.sample_rate
        with self.writer.as_default(step=epoch):
            names = ("noisy", "clean", "enhanced") if self.first else ("enhanced",)
            for name in names:
                wave = np.clip(waves[name] * scale, -1.0, 1.0)[None, :, None]
                tf.summary.audio(f"audio/{name}", wave, rate, max_outputs=1)
            for name, mag in (("noisy", np.abs(noisy)), ("clean", np.abs(clean))):
                if self.first:
                    tf.summary.image(f"spectrogram/{name}", self._image(mag, top))
            tf.summary.image("spectrogram/enhanced", self._image(np.abs(enhanced), top))
            tf.summary.image("mask", self._image(mask, 1.0))
        self.writer.flush()
        self.first = False

    def on_train_end(self, logs=None):
        self.writer.close()


#: Scores clips [start, stop) of an .npz of `ref`/`est` waveforms; prints [[pesq, stoi], ...].
_SCORER = """
import json, sys
import numpy as np
from lstm_se import metrics
data = np.load(sys.argv[1], allow_pickle=False)
rate, ref, est = int(data["rate"]), data["ref"], data["est"]
out = [[metrics.pesq_wb(ref[i], est[i], rate), metrics.stoi(ref[i], est[i], rate)]
       for i in range(int(sys.argv[2]), int(sys.argv[3]))]
json.dump(out, sys.stdout)
"""


class PesqStoi(keras.callbacks.Callback):
    """`val_pesq` and `val_stoi` on a fixed validation subset every N epochs.

    Scored by metrics.py outside the TF graph, in worker processes: fresh Python interpreters
    (not fork, which is unsafe in a process running TensorFlow, and not multiprocessing's spawn,
    which re-imports the caller's main script) that import only numpy, pesq and pystoi.
    """

    def __init__(
        self, clips: tuple[np.ndarray, np.ndarray], cfg: config_mod.Config, every: int
    ) -> None:
        super().__init__()
        self.x, self.y = clips
        self.cfg = cfg
        self.every = every
        self.workers = max(1, min(len(self.x), os.cpu_count() or 1))

    def _waves(self, spec: np.ndarray) -> np.ndarray:
        return np.stack([segment_wave(s, self.cfg) for s in spec])

    def score(self, ref: np.ndarray, est: np.ndarray) -> tuple[float, float]:
        """Mean PESQ-WB and STOI of waveform pairs `(clips, samples)`, NaN-skipping."""
        rate = self.cfg.dset.sample_rate
        with tempfile.TemporaryDirectory(prefix="lstm-se-score-") as tmp:
            path = Path(tmp) / "clips.npz"
            np.savez(path, ref=ref, est=est, rate=np.int64(rate))
            bounds = np.linspace(0, len(ref), self.workers + 1).astype(int)
            procs = [
                subprocess.Popen(
                    [sys.executable, "-c", _SCORER, str(path), str(a), str(b)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for a, b in itertools.pairwise(bounds)
                if b > a
            ]
            rows: list[list[float]] = []
            for proc in procs:
                out, err = proc.communicate()
                if proc.returncode != 0:
                    raise RuntimeError(f"PESQ/STOI worker failed:\n{err.strip()}")
                if err.strip():
                    log.debug("PESQ/STOI worker: %s", err.strip())
                rows += json.loads(out)
        values = np.asarray(rows, dtype=np.float64).reshape(-1, 2)
        means = [float(np.nanmean(col)) if np.isfinite(col).any() else math.nan for col in values.T]
        return means[0], means[1]

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every or logs is None:
            return
        mask = np.asarray(self.model(self.x, training=False))
        clean = self._waves(self.y[:, :, 2] + 1j * self.y[:, :, 3])
        est = self._waves(mask * (self.y[:, :, 0] + 1j * self.y[:, :, 1]))
        logs["val_pesq"], logs["val_stoi"] = self.score(clean, est)
