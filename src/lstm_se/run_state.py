"""The run folder outside `fit`: which folder a run uses, its resume state, `summary.json`.

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
- `summary.json`: epochs, best epoch, training time, the update/lr ratio.

The callbacks that write the per-epoch files during `fit` are in callbacks.py; this module
chooses and checks the folder before training and writes what comes after it.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import keras

from . import config as config_mod
from . import runs

log = logging.getLogger(__name__)

STATE = "backup/state.json"

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


def atomic_save_model(model: keras.Model, path: Path) -> None:
    """`model.save` under a temporary name in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_save_weights(model: keras.Model, path: Path) -> None:
    """`model.save_weights` (weights and optimizer state) atomically; path ends .weights.h5."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{os.getpid()}.tmp-{path.name}")
    try:
        model.save_weights(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def json_float(value: Any) -> Any:
    """JSON has no NaN/Inf: keep them as None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


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
            unfinished = (cand / STATE).is_file() and not (cand / runs.MODEL).is_file()
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


def finish(run_dir: Path, model: keras.Model | None) -> None:
    """`model.keras`: the best epoch's weights with the final optimizer state; `summary.json`."""
    best = run_dir / runs.BEST
    if model is None:
        model = keras.models.load_model(run_dir / runs.LAST)
    if best.is_file():
        model.set_weights(keras.models.load_model(best, compile=False).get_weights())
    atomic_save_model(model, run_dir / runs.MODEL)
    log.info("saved %s", run_dir / runs.MODEL)
    write_summary(run_dir)


def write_summary(run_dir: Path) -> dict[str, Any]:
    """`summary.json`: epochs, best epoch and val_loss, training time, the update/lr ratio."""
    state = read_state(run_dir) or {}
    rows = []
    if (run_dir / runs.HISTORY).is_file():
        with open(run_dir / runs.HISTORY, newline="", encoding="utf-8") as fh:
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
