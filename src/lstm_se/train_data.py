"""The training data for `fit`: batched datasets from the records (records.py), or from the
clean speech and noise of dynamic-mixing records (remix.py), checked against the run's config.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from . import config as config_mod
from . import records

log = logging.getLogger(__name__)


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
    return shard_by_data(data) if multi_worker else data


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


def shard_by_data(data: Data) -> Data:
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


def batches_per_epoch(data: Data, cfg: config_mod.Config) -> int:
    if data.steps_per_epoch:
        return data.steps_per_epoch
    if data.n_train:
        return max(1, data.n_train // cfg.batch_size)
    card = int(data.train.cardinality())
    if card > 0:
        return card
    log.info("counting training batches for the cosine schedule (one pass over the data)")
    return max(1, int(data.train.reduce(0, lambda n, _: n + 1)))
