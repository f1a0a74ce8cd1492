"""Test helpers: a run folder as `train.load_run` reads it (config.yaml + model.keras), made
directly from a config and a model (`make_run`), or from a few dozen training steps on the tiny
corpus (`tiny_trained_run`); the tiny corpus' config; bench scripts loaded as modules.

Keras and TensorFlow are imported only inside the helpers that need them: importing this
module must not load TensorFlow (worker pools fork only while TensorFlow is not loaded)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from lstm_se import config

ROOT = Path(__file__).resolve().parents[1]


def tiny_config(corpus: Path, out: Path, *overrides: str) -> config.Config:
    """Config for the tiny test corpus: short segments and small shards, records in `out`."""
    base = {
        "dset": {
            "wav": str(corpus),
            "save_path": str(out),
            "segment": 0.5,
            "split": 0.75,
            "shard_mb": 0.5,
            "workers": 1,
        },
        "seed": 7,
    }
    return config.from_dict(base, list(overrides))


def load_bench(name: str) -> ModuleType:
    """`bench/<name>.py` imported as the module `bench_<name>`."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def make_run(root: Path, cfg: config.Config, model: Any, name: str = "run") -> Path:
    """Write `root/name/{config.yaml, model.keras}` and return the run folder."""
    run = Path(root) / name
    run.mkdir(parents=True, exist_ok=True)
    config.save(cfg, run / "config.yaml")
    model.save(run / "model.keras")
    return run


def _train_briefly(cfg: config.Config, steps: int = 40) -> Any:
    """A few dozen steps towards the clean/noisy magnitude ratio: masks that vary like a
    trained model's (a random model's masks sit near 0.5 and make any SNR look good)."""
    import keras
    import tensorflow as tf

    from lstm_se import model as model_mod
    from lstm_se import records

    keras.utils.set_random_seed(1)
    model = model_mod.build_model(cfg)
    ds = records.dataset(cfg.dset.save_path, "train", 8, shuffle=True, repeat=True, seed=1)

    def to_xy(mag, target):
        clean = tf.sqrt(target[:, :, 2] ** 2 + target[:, :, 3] ** 2)
        return mag, tf.clip_by_value(clean / (mag + 1e-8), 0.0, 1.0)

    model.compile(keras.optimizers.Adam(3e-3), "mse")
    model.fit(ds.map(to_xy), steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    return model


def tiny_trained_run(corpus: Path, root: Path, overrides: list[str], steps: int = 40) -> Path:
    """Records of `corpus` under `root` and a run of the model `overrides` describe, trained
    briefly on them."""
    from lstm_se import prepare

    cfg = tiny_config(corpus, root / "records", *overrides)
    prepare.prepare(cfg, workers=1, progress=False)
    return make_run(root, cfg, _train_briefly(cfg, steps=steps), "tiny")
