"""Training: distribution strategy, optimizer and loss, `fit`, resume.

The run folder (its files, which folder a run uses, its resume state and summary) is described
and written by run_state.py, the callbacks that write it during `fit` are in callbacks.py, and
the datasets come from train_data.py.

Running the same command again resumes after the last finished epoch (weights, optimizer state,
early-stopping state, history); `--restart` starts over. A NaN or Inf loss raises
`callbacks.TrainingDiverged` at once: nothing from the diverged epoch is written, so every file
on disk holds finite weights. (Keras's `TerminateOnNaN` + `BackupAndRestore` are not used:
together they can save NaN weights and delete the backup, keras issue 21771.)

Devices: `train.strategy` default (one device), mirrored (all local GPUs) or multi_worker
(`MultiWorkerMirroredStrategy`, cluster from `TF_CONFIG`). `batch_size` is the global batch,
split across replicas. With several workers only the chief writes the run folder, which must
be on storage every worker can read (resume reads it).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from . import callbacks as cb
from . import config as config_mod
from . import losses, records, run_state, runs, train_data
from . import model as model_mod

log = logging.getLogger(__name__)


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


# ---------------------------------------------------------------------------------------------
# model, optimizer, loss


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


# ---------------------------------------------------------------------------------------------
# the run


def run(
    cfg: config_mod.Config,
    *,
    restart: bool = False,
    data: train_data.Data | None = None,
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
    run_dir = run_state.prepare_run_dir(cfg, restart, chief)
    state = None if restart else run_state.read_state(run_dir)
    initial_epoch = int(state["epoch"]) if state else 0
    if state and (state.get("stopped_early") or initial_epoch >= cfg.epochs):
        why = "early stopping" if state.get("stopped_early") else "all epochs done"
        log.info(
            "run %s is finished (%d epochs, %s); nothing to do (--restart starts over)",
            run_dir,
            initial_epoch,
            why,
        )
        if chief and not (run_dir / runs.MODEL).is_file():
            run_state.finish(run_dir, None)
        return run_dir

    keras.utils.set_random_seed(cfg.seed + initial_epoch)
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    if data is None:
        data = train_data.make_data(cfg, initial_epoch, multi_worker)
    elif multi_worker:
        data = train_data.shard_by_data(data)
    steps_for_schedule = (
        train_data.batches_per_epoch(data, cfg)
        if cfg.optim.schedule == "cosine"
        else data.steps_per_epoch
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
    callbacks: list[keras.callbacks.Callback] = [cb.NanGuard(run_dir), cb.TimeHistory()]
    if chief and data.valid is not None and (cfg.train.eval_every or cfg.train.audio_every):
        clips = train_data.take_examples(data.valid, max(1, cfg.train.eval_clips))
        if cfg.train.eval_every:
            callbacks.append(cb.PesqStoi(clips, cfg, cfg.train.eval_every))
        if cfg.train.audio_every:
            loudest = int(np.argmax(np.sum(clips[1][:, :, 2:] ** 2, axis=(1, 2, 3))))
            clip = (clips[0][loudest], clips[1][loudest])
            samples = run_dir / "logs" / "samples"
            callbacks.append(cb.SampleLogger(samples, clip, cfg, cfg.train.audio_every))
    if cfg.optim.schedule == "plateau":
        parts["plateau"] = cb.ResumablePlateau(
            state.get("plateau"),
            monitor=monitor,
            factor=cfg.optim.plateau_factor,
            patience=cfg.optim.plateau_patience,
            min_lr=cfg.optim.min_lr,
        )
    if not (state or {}).get("update"):
        parts["update"] = cb.UpdateRatio()
    else:
        log.info("update/lr ratio (measured in the first epoch): %s", state["update"])
        parts["update"] = cb.UpdateRatio()
        parts["update"].result = state["update"]  # measured already: kept, not measured again
    if cfg.train.patience:
        parts["early_stopping"] = cb.ResumableEarlyStopping(
            state.get("early_stopping"), monitor=monitor, patience=cfg.train.patience
        )
    callbacks += list(parts.values())
    if chief:
        checkpoints = cb.Checkpoints(run_dir, monitor, state.get("best"))
        parts["best"] = checkpoints
        callbacks += [
            keras.callbacks.TensorBoard(str(run_dir / "logs"), write_graph=False),
            checkpoints,
            cb.HistoryCSV(run_dir / runs.HISTORY, initial_epoch),
            cb.ResumeState(run_dir, parts, cfg),
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
        run_state.finish(run_dir, model)
    return run_dir


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
