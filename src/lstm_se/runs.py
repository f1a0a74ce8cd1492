"""The run folder: its layout, its config and trained model, and the shipped pretrained default.

A run folder (what `lstm-se train` writes, see run_state.py) holds `config.yaml`, `model.keras` once
training has finished, `checkpoints/best.keras` and `checkpoints/last.keras` while it trains,
`summary.json`, `history.csv` and `export/` (what `lstm-se export` writes). Enhance, evaluate
and export read a run only through this module, so listening to a model needs nothing of the
training code.

The pretrained default (`pretrained/<name>/` at the repository root) is such a folder, small
enough for git: config, `model.keras` (weights only, no optimizer state), `export/`,
`summary.json`, `history.csv` and `results.json` (its scores). `lstm-se enhance` without
`--run` uses it.
"""

from __future__ import annotations

import logging
import os
import zipfile
from pathlib import Path
from typing import Any

from . import LstmSeError
from . import config as config_mod
from .config import Config, load_run_config

log = logging.getLogger(__name__)

CONFIG = "config.yaml"
MODEL = "model.keras"
BEST = "checkpoints/best.keras"
LAST = "checkpoints/last.keras"
SUMMARY = "summary.json"
HISTORY = "history.csv"
EXPORT = "export"
RESULTS = "results.json"

#: Where the shipped pretrained runs are: `pretrained/` at the repository root.
PRETRAINED_ROOT = Path(__file__).resolve().parents[2] / "pretrained"
#: The pretrained run `lstm-se enhance` uses without `--run`.
DEFAULT_PRETRAINED = "lstm-2x128"


class RunError(LstmSeError, RuntimeError):
    """A run folder that cannot be used: missing, unfinished or corrupt; names the file."""


def pretrained_dir(name: str = DEFAULT_PRETRAINED) -> Path:
    """The folder of a shipped pretrained run (RunError when it is not there)."""
    path = PRETRAINED_ROOT / name
    if not (path / CONFIG).is_file():
        raise RunError(
            f"no pretrained model '{name}' at {path} (it ships in the repository's pretrained/ "
            "folder; in an installed copy without it, pass --run with a trained run folder)"
        )
    return path


def resolve(run: str | os.PathLike[str] | None) -> Path:
    """`run` as a folder, or the pretrained default when it is None."""
    if run is None:
        path = pretrained_dir()
        log.info("no --run given: using the pretrained model %s", path)
        return path
    path = Path(run)
    if not path.is_dir():
        raise RunError(f"run folder '{path}' does not exist")
    return path


def load_config(run_dir: str | os.PathLike[str]) -> Config:
    """The resolved config the run was trained with."""
    return load_run_config(run_dir)


def model_path(run_dir: str | os.PathLike[str]) -> Path:
    """`model.keras`, or (saying so) the best, then the last checkpoint of an unfinished run."""
    run_dir = Path(run_dir)
    if (run_dir / MODEL).is_file():
        return run_dir / MODEL
    for rel in (BEST, LAST):
        if (run_dir / rel).is_file():
            log.warning(
                "%s has no %s (training has not finished): using %s", run_dir, MODEL, run_dir / rel
            )
            return run_dir / rel
    raise RunError(f"run {run_dir} has no model yet ({MODEL}, {BEST} or {LAST})")


def load_model(path: str | os.PathLike[str]) -> Any:
    """A saved Keras model (uncompiled), with an error naming the file when it is corrupt."""
    import keras

    from . import losses, model  # noqa: F401  (registers the custom layers and losses)

    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise RunError(
            f"{path}: not a Keras model file (corrupt or truncated); retrain or restore it"
        )
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras reports a corrupt archive in many ways
        raise RunError(f"{path}: cannot load the model ({type(exc).__name__}: {exc})") from exc


def load(run_dir: str | os.PathLike[str]) -> tuple[Config, Any]:
    """A run's config and trained sequence model."""
    run_dir = Path(run_dir)
    cfg = load_config(run_dir)
    return cfg, load_model(model_path(run_dir))


#: What a packaged run keeps of its folder (besides `model.keras`, rewritten without the
#: optimizer state): small files only.
PACKAGED = (CONFIG, SUMMARY, HISTORY)


def portable_config(cfg: Config, root: Path) -> Config:
    """`cfg` with the corpus, records and run-folder paths that lie under `root` made relative
    to it: a shipped run names `data/...`, not the folder of the machine that trained it."""
    import dataclasses

    base = Path(os.path.abspath(root))

    def rel(value: str) -> str:
        # abspath, not resolve: a records folder that is a link keeps the name the config gave
        path = Path(os.path.abspath(value))
        if Path(value).is_absolute() and path.is_relative_to(base):
            return path.relative_to(base).as_posix()
        return value

    dset = dataclasses.replace(cfg.dset, wav=rel(cfg.dset.wav), save_path=rel(cfg.dset.save_path))
    return dataclasses.replace(cfg, dset=dset, folder=rel(cfg.folder))


def package(run_dir: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Copy a finished run into `dest` as a small, self-contained run folder (the layout of the
    module doc, without checkpoints, backups, logs or evaluations): `model.keras` holds the
    weights only. Written under a temporary name and renamed; an existing `dest` is replaced."""
    import shutil

    import keras

    from . import model as model_mod

    run_dir, dest = Path(run_dir), Path(dest)
    cfg, trained = load(run_dir)
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for rel in PACKAGED:
        if (run_dir / rel).is_file():
            shutil.copy2(run_dir / rel, tmp / rel)
    config_mod.save(portable_config(cfg, PRETRAINED_ROOT.parent), tmp / CONFIG)
    if (run_dir / EXPORT).is_dir():
        shutil.copytree(run_dir / EXPORT, tmp / EXPORT)
    fresh = model_mod.build_model(cfg)
    fresh.set_weights(trained.get_weights())
    keras.models.save_model(fresh, tmp / MODEL)
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)
    return dest
