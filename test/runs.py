"""Test helpers: a run folder as `train.load_run` reads it (config.yaml + model.keras), made
directly from a config and a model, without training; the tiny corpus' config; bench scripts
loaded as modules."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import keras

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


def make_run(root: Path, cfg: config.Config, model: keras.Model, name: str = "run") -> Path:
    """Write `root/name/{config.yaml, model.keras}` and return the run folder."""
    run = Path(root) / name
    run.mkdir(parents=True, exist_ok=True)
    config.save(cfg, run / "config.yaml")
    model.save(run / "model.keras")
    return run
