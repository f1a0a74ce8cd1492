"""Test helper: a run folder as `train.load_run` reads it (config.yaml + model.keras), made
directly from a config and a model, without training."""

from __future__ import annotations

from pathlib import Path

import keras

from lstm_se import config


def make_run(root: Path, cfg: config.Config, model: keras.Model, name: str = "run") -> Path:
    """Write `root/name/{config.yaml, model.keras}` and return the run folder."""
    run = Path(root) / name
    run.mkdir(parents=True, exist_ok=True)
    config.save(cfg, run / "config.yaml")
    model.save(run / "model.keras")
    return run
