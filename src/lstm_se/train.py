"""Training: run folder, distribution strategy, callbacks, `fit`, resume and saving.

A run folder `<folder>/<train.name or a timestamp>/` holds:

- `config.yaml`: the resolved config of the run.
- `checkpoints/best.keras` (lowest val_loss) and `checkpoints/last.keras`, with optimizer state,
  each written to a temporary name and renamed.
- `backup/`: the resume state, `state.json` (finished epochs, early-stopping, best-checkpoint and
  plateau state) pointing at `epoch-NNNN.weights.h5` (weights and optimizer state).
- `logs/`: TensorBoard; `train/` and `validation/` scalars, `samples/` audio and spectrograms of
  a fixed validation clip.
- `history.csv`: one row per epoch; losses, metrics, learning rate, `epoch_seconds`,
  `step_seconds` (mean training step), `val_pesq`/`val_stoi` on the epochs they are scored.
- `model.keras`, at the end: the best epoch's weights with the optimizer state at the end of
  training (what enhance and export load).

Running the same command again resumes after the last finished epoch (weights, optimizer state,
early-stopping state, history); `--restart` starts over. A NaN or Inf loss raises
`TrainingDiverged` at once: nothing from the diverged epoch is written, so every file on disk
holds finite weights. (Keras's `TerminateOnNaN` + `BackupAndRestore` are not used: together they
can save NaN weights and delete the backup, keras issue 21771.)

Devices: `train.strategy` default (one device), mirrored (all local GPUs) or multi_worker
(`MultiWorkerMirroredStrategy`, cluster from `TF_CONFIG`). `batch_size` is the global batch,
split across replicas. With several workers only the chief writes the run folder, which must
be on storage every worker can read (resume reads it).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from . import LstmSeError, features, losses, records, runs
from . import config as config_mod
from . import model as model_mod

log = logging.getLogger(__name__)

STATE = "backup/state.json"
MODEL, BEST, LAST, HISTORY = runs.MODEL, runs.BEST, runs.LAST, runs.HISTORY

#: Keys that may change between a run and its resumption; any other change needs --restart.
RESUMABLE_CHANGES = frozenset(
    {
        "epochs",
        "debug",
        "train.patience",
        "train.eval_every",
        "train.eval_clips",
        "train.audio_every",
        "train.valid_steps",
        "train.strategy",
        "train.shuffle_buffer",
    }
)


class TrainingDiverged(LstmSeError, RuntimeError):
    """The loss (or the weights) became NaN or Inf."""


@dataclass
class Data:
    """Batched datasets for `fit` (the batch size is global)."""

    train: tf.data.Dataset
    valid: tf.data.Dataset | None
    steps_per_epoch: int | None
    """Training batches per epoch; None: one pass through `train`."""
    valid_steps: int | None = None
    """Validation batches per epoch; None: the whole of `valid`."""
    n_train: int | None = None
    """Training examples, when known (sizes the cosine schedule when `steps` is 0)."""


# ---------------------------------------------------------------------------------------------
# small file helpers


def _atomic_save_model(model: keras.Model, path: Path) -> None:
    """`model.save` under a temporary name in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _atomic_save_weights(model: keras.Model, path: Path) -> None:
    """`model.save_weights` (weights and optimizer state) atomically; path ends .weights.h5."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{os.getpid()}.tmp-{path.name}")
    try:
        model.save_weights(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _json_float(value: Any) -> Any:
    """JSON has no NaN/Inf: keep them as None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _weights_finite(model: keras.Model) -> bool:
    return all(np.all(np.isfinite(w)) for w in model.get_weights())


# ---------------------------------------------------------------------------------------------
# strategy and run folder


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy for `train.strategy`; create it before any other TF work."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise config_mod.ConfigError(
                "'train.strategy' is multi_worker but TF_CONFIG is not set; it must describe "
                'the cluster, e.g. {"cluster": {"worker": ["host1:port", "host2:port"]}, '
                '"task": {"type": "worker", "index": 0}}'
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise config_mod.ConfigError(f"unknown train.strategy '{name}'")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run folder (always, unless it is a non-chief worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return True
    cluster = resolver.cluster_spec().as_dict()
    if not cluster:
        return True
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in cluster


def _config_changes(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += _config_changes(a, b, f"{prefix}{key}.")
        elif a != b:
            keys.append(f"{prefix}{key}")
    return keys


def _load_saved_config(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / "config.yaml"
    if not path.is_file():
        return None
    return config_mod.to_dict(config_mod.load(path))


def find_run_dir(cfg: config_mod.Config, restart: bool = False) -> Path:
    """The run folder for `cfg`: `<folder>/<train.name>`; without a name, the newest unfinished
    run with the same config (so re-running resumes it), or a new timestamped folder."""
    root = Path(cfg.folder)
    if cfg.train.name:
        return root / cfg.train.name
    if not restart and root.is_dir():
        want = config_mod.to_dict(cfg)
        for cand in sorted(root.iterdir(), reverse=True):
            unfinished = (cand / STATE).is_file() and not (cand / MODEL).is_file()
            if unfinished and _load_saved_config(cand) == want:
                return cand
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir, n = root / stamp, 1
    while run_dir.exists():
        run_dir, n = root / f"{stamp}-{n}", n + 1
    return run_dir


def read_state(run_dir: Path) -> dict[str, Any] | None:
    """The resume state of a run (None when it has not finished an epoch)."""
    path = Path(run_dir) / STATE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# data


def make_data(cfg: config_mod.Config, initial_epoch: int = 0, multi_worker: bool = False) -> Data:
    """Datasets from the records at `dset.save_path` (records.py; remix.py for records of
    clean speech and noise)."""

    folder = cfg.dset.save_path
    manifest = records.load_manifest(folder)
    check_records_match(cfg, manifest, folder)
    if manifest["feature_spec"].get("content") == "clean+noise":
        return _remix_data(cfg, folder, initial_epoch)
    # A resumed run shuffles with another seed, so it does not replay the first epochs' order.
    seed = cfg.seed + initial_epoch
    repeat = cfg.steps > 0
    train = records.dataset(
        folder,
        "train",
        cfg.batch_size,
        shuffle=True,
        repeat=repeat,
        seed=seed,
        shuffle_buffer=cfg.train.shuffle_buffer,
        drop_remainder=True,
    )
    n_train, n_valid = _split_count(manifest, "train"), _split_count(manifest, "valid")
    if not repeat and n_train < cfg.batch_size:
        raise config_mod.ConfigError(
            f"'batch_size' ({cfg.batch_size}) is larger than the {n_train} training examples in "
            f"{folder}; lower it, or set 'steps' to repeat the data"
        )
    if not repeat:
        # A known length lets Keras end the epoch without an "input ran out of data" warning.
        train = train.apply(tf.data.experimental.assert_cardinality(n_train // cfg.batch_size))
    valid = None
    if n_valid:
        valid = records.dataset(
            folder, "valid", cfg.batch_size, shuffle=False, repeat=False, seed=cfg.seed
        ).apply(tf.data.experimental.assert_cardinality(math.ceil(n_valid / cfg.batch_size)))
    data = Data(
        train,
        valid,
        cfg.steps or None,
        cfg.train.valid_steps or None,
        n_train=n_train or None,
    )
    return _shard_by_data(data) if multi_worker else data


#: dset keys that shape the features in the records: train must have the records' values.
SHAPES_RECORDS = (
    "sample_rate", "segment", "n_fft", "win_length", "hop_length", "channels", "fft", "center",
    "fft_normalize", "normalize", "segment_normalization", "feature", "mixing",
)  # fmt: skip


def check_records_match(cfg: config_mod.Config, manifest: dict[str, Any], folder: str) -> None:
    """Refuse records prepared with other dset settings than the run's (both values named)."""
    want = json.loads(json.dumps(dataclasses.asdict(cfg.dset)))
    have = manifest.get("dset") or {}
    diffs = [
        f"dset.{key}: records {have.get(key)!r}, config {value!r}"
        for key, value in want.items()
        if key in SHAPES_RECORDS and key in have and have[key] != value
    ]
    if diffs:
        raise config_mod.ConfigError(
            f"the records at {folder} were prepared with other settings than this run's "
            f"config ({'; '.join(diffs)}): run `lstm-se prepare` with this config (and "
            "--force, or another dset.save_path), or train with the records' settings"
        )


def _remix_data(cfg: config_mod.Config, folder: str, initial_epoch: int) -> Data:
    """Dynamic mixing (remix.py): new examples every epoch, a fixed validation draw."""
    from . import remix

    frames = config_mod.derive(cfg).frames_per_segment
    train = remix.load_sources(folder, "train")
    per_epoch = cfg.steps * cfg.batch_size or remix.examples_per_epoch(train, frames)
    if per_epoch < cfg.batch_size:
        raise config_mod.ConfigError(
            f"'batch_size' ({cfg.batch_size}) is larger than the {per_epoch} training examples "
            f"of an epoch in {folder}; lower it, or set 'steps'"
        )
    steps = per_epoch // cfg.batch_size
    per_epoch = steps * cfg.batch_size
    log.info(
        "dynamic mixing: %s; %d examples (%d steps) per epoch, SNR %s dB, level %s dBFS",
        remix.describe(train, cfg, "train"),
        per_epoch,
        steps,
        list(cfg.dset.remix_snr),
        list(cfg.dset.remix_level),
    )
    ds = remix.dataset(
        train,
        cfg,
        cfg.batch_size,
        first_epoch=initial_epoch,
        epochs=cfg.epochs,
        per_epoch=per_epoch,
    )
    valid = None
    manifest = records.load_manifest(folder)
    if _split_count(manifest, "valid"):
        sources = remix.load_sources(folder, "valid")
        valid = remix.dataset(
            sources,
            cfg,
            cfg.batch_size,
            first_epoch=0,
            epochs=1,
            per_epoch=sources.utterances,
            validation=True,
            drop_remainder=False,
        )
    return Data(ds, valid, steps, cfg.train.valid_steps or None, n_train=per_epoch)


def _split_count(manifest: dict[str, Any], split: str) -> int:
    """Examples of a split, as the manifest counts them (0 when the split is absent)."""
    return int(manifest.get("examples", {}).get(split) or 0)


def _shard_by_data(data: Data) -> Data:
    """Multi-worker: shard by element, not by file (a small dataset may have one shard file)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    data.train = data.train.with_options(options)
    if data.valid is not None:
        data.valid = data.valid.with_options(options)
    return data


def take_examples(dataset: tf.data.Dataset, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `n` examples of a batched dataset as numpy (noisy_mag, target)."""
    xs, ys, have = [], [], 0
    for x, y in dataset:
        xs.append(np.asarray(x))
        ys.append(np.asarray(y))
        have += len(xs[-1])
        if have >= n:
            break
    if not xs:
        raise ValueError("the validation dataset is empty")
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


# ---------------------------------------------------------------------------------------------
# model, optimizer, loss


def _batches_per_epoch(data: Data, cfg: config_mod.Config) -> int:
    if data.steps_per_epoch:
        return data.steps_per_epoch
    if data.n_train:
        return max(1, data.n_train // cfg.batch_size)
    card = int(data.train.cardinality())
    if card > 0:
        return card
    log.info("counting training batches for the cosine schedule (one pass over the data)")
    return max(1, int(data.train.reduce(0, lambda n, _: n + 1)))


def make_optimizer(cfg: config_mod.Config, steps_per_epoch: int | None) -> keras.Optimizer:
    """The optimizer of `optim`, with gradient clipping and the learning-rate schedule."""
    o = cfg.optim
    lr: Any = o.lr
    if o.schedule == "cosine":
        if not steps_per_epoch:
            raise ValueError("the cosine schedule needs the number of steps per epoch")
        total = cfg.epochs * steps_per_epoch
        warmup = min(o.warmup_steps, total - 1)
        if warmup > 0:
            lr = keras.optimizers.schedules.CosineDecay(
                min(o.min_lr, o.lr),
                decay_steps=total - warmup,
                alpha=min(1.0, o.min_lr / o.lr),
                warmup_target=o.lr,
                warmup_steps=warmup,
            )
        else:
            lr = keras.optimizers.schedules.CosineDecay(
                o.lr, decay_steps=total, alpha=min(1.0, o.min_lr / o.lr)
            )
    clip = {"clipnorm": o.clipnorm} if o.clipnorm > 0 else {}
    if o.name == "adam":
        return keras.optimizers.Adam(lr, epsilon=o.epsilon, **clip)
    if o.name == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=o.weight_decay, epsilon=o.epsilon, **clip)
    return keras.optimizers.SGD(lr, momentum=0.9, **clip)


def metrics_for(cfg: config_mod.Config) -> list[keras.metrics.Metric]:
    """In-training metrics of `model.metric` ('si_sdr', or 'none')."""
    if cfg.model.metric in ("", "none"):
        return []
    d = cfg.dset
    return [losses.SISDR(d.n_fft, d.hop_length, d.win_length, d.center, d.fft_normalize)]


def compile_model(model: keras.Model, cfg: config_mod.Config, steps_per_epoch: int | None) -> None:
    """Compile with the configured loss, metric and optimizer."""
    m = cfg.model
    model.compile(
        optimizer=make_optimizer(cfg, steps_per_epoch),
        loss=losses.get(m.loss, power=m.loss_power, alpha=m.loss_alpha, norm=m.loss_norm),
        metrics=metrics_for(cfg),
    )


def _patch_for_multi_worker(model: keras.Model) -> None:
    """Work around keras issue 20585: Keras 3 `fit` fails under MultiWorkerMirroredStrategy.

    Two places in Keras's TF trainer break with the collective strategy, and this instance gets
    a fix for each (the model's class and other runs are untouched):

    1. Before training, Keras builds the model from one batch by `strategy.reduce`-ing the
       whole (x, y) tuple of per-replica values, which fails ("Attempt to convert a value
       (PerReplica...)"). Only shapes and dtypes are needed there: the first local replica's
       batch is used instead (no collective).
    2. Every step's scalar logs are reduced across workers with `reduce("MEAN", v, axis=0)`,
       which a scalar has no axis for. The train and test steps return each log value with a
       leading axis of one, so that reduction is the mean over all replicas, as intended.
    """
    strategy = model.distribute_strategy

    def local(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(local, next(it))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    def with_axis(step):
        def wrapped(data):
            return tf.nest.map_structure(lambda v: tf.reshape(v, [1]), step(data))

        return wrapped

    model._maybe_symbolic_build = build
    model.train_step = with_axis(model.train_step)
    model.test_step = with_axis(model.test_step)


def _check_train_config(cfg: config_mod.Config) -> None:
    problems = []
    if cfg.epochs < 1:
        problems.append(f"'epochs' must be at least 1, got {cfg.epochs}")
    if cfg.batch_size < 1:
        problems.append(f"'batch_size' must be at least 1, got {cfg.batch_size}")
    if cfg.steps < 0:
        problems.append(f"'steps' must be 0 or more, got {cfg.steps}")
    if cfg.model.metric not in ("si_sdr", "none", ""):
        problems.append(f"'model.metric' must be 'si_sdr' or 'none', got {cfg.model.metric!r}")
    if cfg.optim.lr <= 0:
        problems.append(f"'optim.lr' must be positive, got {cfg.optim.lr}")
    if not 0.0 <= cfg.model.loss_alpha <= 1.0:
        problems.append(f"'model.loss_alpha' must be in [0, 1], got {cfg.model.loss_alpha}")
    if cfg.model.loss_power <= 0:
        problems.append(f"'model.loss_power' must be positive, got {cfg.model.loss_power}")
    if not 0.0 < cfg.optim.plateau_factor < 1.0:
        problems.append(f"'optim.plateau_factor' must be in (0, 1), got {cfg.optim.plateau_factor}")
    if cfg.train.strategy == "multi_worker" and not cfg.train.name:
        problems.append("'train.strategy: multi_worker' needs 'train.name' (one folder for all)")
    if problems:
        raise config_mod.ConfigError("; ".join(problems))


def _start_weights(model: keras.Model, cfg: config_mod.Config) -> None:
    """Initial weights from `model.path` (a .keras model) or `model.ckpt` (weights), if set."""
    for key, path in (("model.path", cfg.model.path), ("model.ckpt", cfg.model.ckpt)):
        if not path:
            continue
        if not Path(path).is_file():
            raise config_mod.ConfigError(f"'{key}': file '{path}' does not exist")
        if path.endswith(".keras"):
            source = keras.models.load_model(path, compile=False)
            model_mod.copy_weights(source, model)
        else:
            model.load_weights(path)
        log.info("initial weights from %s", path)


# ---------------------------------------------------------------------------------------------
# callbacks


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
        state = read_state(self.run_dir)
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


def measure_input_norm(model: keras.Model, dataset: tf.data.Dataset, batches: int = 32) -> None:
    """Per-feature mean and deviation of the model's input to `input_norm` over the first
    `batches` training batches (frames of all-zero input, padding, left out), stored in it."""
    probe = keras.Model(model.inputs, model.get_layer("input_norm").input)
    total = count = square = 0.0
    for x, _ in dataset.take(batches):
        feats = np.asarray(probe(x, training=False), np.float64)
        live = np.asarray(x).sum(axis=-1) > 0
        feats = feats[live]
        total = total + feats.sum(axis=0)
        square = square + (feats * feats).sum(axis=0)
        count += len(feats)
    if not count:
        raise ValueError("no training frames to measure the input normalization on")
    mean = total / count
    std = np.sqrt(np.maximum(square / count - mean * mean, 0.0))
    model_mod.set_input_norm(model, mean, std)
    log.info(
        "input normalization from %d frames: mean %.3g..%.3g, std %.3g..%.3g",
        count,
        mean.min(),
        mean.max(),
        std.min(),
        std.max(),
    )


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
        return {"best": _json_float(self.best), **{n: int(getattr(self, n)) for n in names}}


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
        _atomic_save_model(self.model, self.run_dir / LAST)
        value = (logs or {}).get(self.monitor)
        if value is not None and (self.best is None or float(value) < self.best):
            self.best, self.best_epoch = float(value), epoch
            _atomic_save_model(self.model, self.run_dir / BEST)
            log.info("epoch %d: new best %s %.5g", epoch + 1, self.monitor, self.best)

    def state(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "best": _json_float(self.best), "epoch": self.best_epoch}


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
        _atomic_save_weights(self.model, self.run_dir / "backup" / name)
        state = {
            "epoch": epoch + 1,
            "weights": name,
            "epochs": self.cfg.epochs,
            "stopped_early": bool(self.model.stop_training),
            "iterations": int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)),
            **{key: cb.state() for key, cb in self.parts.items()},
        }
        config_mod.atomic_write_text(self.run_dir / STATE, json.dumps(state, indent=2))
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


# ---------------------------------------------------------------------------------------------
# the run


def prepare_run_dir(cfg: config_mod.Config, restart: bool, chief: bool) -> Path:
    """Find (and on the chief, create or clear) the run folder; check a resumed run's config."""
    run_dir = find_run_dir(cfg, restart)
    if restart and run_dir.exists() and chief:
        log.info("--restart: removing %s", run_dir)
        shutil.rmtree(run_dir)
    saved = None if restart else _load_saved_config(run_dir)
    if saved is not None:
        changed = [
            k for k in _config_changes(saved, config_mod.to_dict(cfg)) if k not in RESUMABLE_CHANGES
        ]
        if changed and read_state(run_dir) is not None:
            raise config_mod.ConfigError(
                f"run {run_dir} was started with a different config ({', '.join(changed)}); "
                "use --restart to start it over, or another train.name"
            )
    if chief and saved != config_mod.to_dict(cfg):
        run_dir.mkdir(parents=True, exist_ok=True)
        config_mod.save(cfg, run_dir / "config.yaml")
    return run_dir


def run(
    cfg: config_mod.Config,
    *,
    restart: bool = False,
    data: Data | None = None,
    strategy: tf.distribute.Strategy | None = None,
    verbose: int = 2,
) -> Path:
    """Train (or resume) the run of `cfg`; returns the run folder.

    `data` replaces the records (tests, benchmarks); `strategy` defaults to `train.strategy`.
    """
    _check_train_config(cfg)
    derived = config_mod.derive(cfg)
    strategy = strategy or make_strategy(cfg.train.strategy)
    chief = is_chief(strategy)
    if data is None:
        records.load_manifest(cfg.dset.save_path)  # fail before a run folder is made
    run_dir = prepare_run_dir(cfg, restart, chief)
    state = None if restart else read_state(run_dir)
    initial_epoch = int(state["epoch"]) if state else 0
    if state and (state.get("stopped_early") or initial_epoch >= cfg.epochs):
        why = "early stopping" if state.get("stopped_early") else "all epochs done"
        log.info(
            "run %s is finished (%d epochs, %s); nothing to do (--restart starts over)",
            run_dir,
            initial_epoch,
            why,
        )
        if chief and not (run_dir / MODEL).is_file():
            _finish(run_dir, None)
        return run_dir

    keras.utils.set_random_seed(cfg.seed + initial_epoch)
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    if data is None:
        data = make_data(cfg, initial_epoch, multi_worker)
    elif multi_worker:
        data = _shard_by_data(data)
    steps_for_schedule = (
        _batches_per_epoch(data, cfg) if cfg.optim.schedule == "cosine" else data.steps_per_epoch
    )

    with strategy.scope():
        model = model_mod.build_model(cfg)
        compile_model(model, cfg, steps_for_schedule)
        if multi_worker:
            _patch_for_multi_worker(model)
        if state:
            model.optimizer.build(model.trainable_variables)
            model.load_weights(run_dir / "backup" / state["weights"])
            log.info(
                "resuming %s after epoch %d (optimizer step %d)",
                run_dir,
                initial_epoch,
                int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
            )
        else:
            _start_weights(model, cfg)
            if cfg.model.input_norm == "per-bin" and not (cfg.model.path or cfg.model.ckpt):
                measure_input_norm(model, data.train)
            log.info("new run %s", run_dir)
    log.info(
        "model %s: %d layers x %d units, %d parameters (%d trainable), %d bins",
        cfg.model.name,
        cfg.model.layers,
        cfg.model.units,
        model.count_params(),
        sum(int(np.prod(w.shape)) for w in model.trainable_weights),
        derived.n_bins,
    )

    monitor = "val_loss" if data.valid is not None else "loss"
    if data.valid is None:
        log.warning("no validation data: best checkpoint and early stopping follow the train loss")
    state = state or {}
    parts: dict[str, Any] = {}
    callbacks: list[keras.callbacks.Callback] = [NanGuard(run_dir), TimeHistory()]
    if chief and data.valid is not None and (cfg.train.eval_every or cfg.train.audio_every):
        clips = take_examples(data.valid, max(1, cfg.train.eval_clips))
        if cfg.train.eval_every:
            callbacks.append(PesqStoi(clips, cfg, cfg.train.eval_every))
        if cfg.train.audio_every:
            loudest = int(np.argmax(np.sum(clips[1][:, :, 2:] ** 2, axis=(1, 2, 3))))
            clip = (clips[0][loudest], clips[1][loudest])
            samples = run_dir / "logs" / "samples"
            callbacks.append(SampleLogger(samples, clip, cfg, cfg.train.audio_every))
    if cfg.optim.schedule == "plateau":
        parts["plateau"] = ResumablePlateau(
            state.get("plateau"),
            monitor=monitor,
            factor=cfg.optim.plateau_factor,
            patience=cfg.optim.plateau_patience,
            min_lr=cfg.optim.min_lr,
        )
    if not (state or {}).get("update"):
        parts["update"] = UpdateRatio()
    else:
        log.info("update/lr ratio (measured in the first epoch): %s", state["update"])
        parts["update"] = UpdateRatio()
        parts["update"].result = state["update"]  # measured already: kept, not measured again
    if cfg.train.patience:
        parts["early_stopping"] = ResumableEarlyStopping(
            state.get("early_stopping"), monitor=monitor, patience=cfg.train.patience
        )
    callbacks += list(parts.values())
    if chief:
        checkpoints = Checkpoints(run_dir, monitor, state.get("best"))
        parts["best"] = checkpoints
        callbacks += [
            keras.callbacks.TensorBoard(str(run_dir / "logs"), write_graph=False),
            checkpoints,
            HistoryCSV(run_dir / HISTORY, initial_epoch),
            ResumeState(run_dir, parts, cfg),
        ]

    model.fit(
        data.train,
        validation_data=data.valid,
        epochs=cfg.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=data.steps_per_epoch,
        validation_steps=data.valid_steps,
        callbacks=callbacks,
        shuffle=False,  # the datasets shuffle themselves, seeded
        verbose=verbose,
    )
    if chief:
        _finish(run_dir, model)
    return run_dir


def _finish(run_dir: Path, model: keras.Model | None) -> None:
    """`model.keras`: the best epoch's weights with the final optimizer state; `summary.json`."""
    best = run_dir / BEST
    if model is None:
        model = keras.models.load_model(run_dir / LAST)
    if best.is_file():
        model.set_weights(keras.models.load_model(best, compile=False).get_weights())
    _atomic_save_model(model, run_dir / MODEL)
    log.info("saved %s", run_dir / MODEL)
    write_summary(run_dir)


def write_summary(run_dir: Path) -> dict[str, Any]:
    """`summary.json`: epochs, best epoch and val_loss, training time, the update/lr ratio."""
    state = read_state(run_dir) or {}
    rows = []
    if (run_dir / HISTORY).is_file():
        with open(run_dir / HISTORY, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    seconds = sum(float(r.get("epoch_seconds") or 0.0) for r in rows)
    best = state.get("best") or {}
    summary = {
        "epochs": state.get("epoch"),
        "stopped_early": state.get("stopped_early"),
        "optimizer_steps": state.get("iterations"),
        "best_epoch": None if best.get("epoch") is None else int(best["epoch"]) + 1,
        "best": {"monitor": best.get("monitor"), "value": best.get("best")},
        "train_seconds": round(seconds, 1),
        "update_ratio": state.get("update"),
    }
    config_mod.atomic_write_text(run_dir / runs.SUMMARY, json.dumps(summary, indent=2))
    return summary


def load_run(run_dir: str | os.PathLike[str]) -> tuple[config_mod.Config, keras.Model]:
    """A run's config and model (`runs.load`)."""
    return runs.load(run_dir)


def command(args: Any, cfg: config_mod.Config) -> int:
    """`lstm-se train`: train or resume; prints where the run is and how to watch it."""
    if cfg.debug:
        logging.getLogger("lstm_se").setLevel(logging.DEBUG)
    run_dir = run(cfg, restart=bool(getattr(args, "restart", False)))
    print(f"run: {run_dir}")
    print(f"tensorboard: tensorboard --logdir {run_dir / 'logs'}")
    return 0
