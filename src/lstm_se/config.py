"""Typed configuration: one schema for every YAML file, command-line overrides and derived values.

Every key is a field of a frozen dataclass with a one-line doc in its metadata (the schema,
`config_schema.py`, re-exported here). Loading checks unknown keys (with the closest valid
name), types and allowed values, and the derived values (frames per segment, frequency bins)
are computed in one place, :func:`derive`.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import logging
import os
import re
import tempfile
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml

from . import new_file_mode

# The schema is part of this module's API: `config.Config`, `config.ConfigError`, ...
from .config_schema import (  # noqa: F401
    Config,
    ConfigError,
    Derived,
    DsetConfig,
    MixConfig,
    ModelConfig,
    OptimConfig,
    TrainConfig,
)

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# schema walking


def _type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def schema_rows(cls: type = Config, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key, type, default, doc) for every leaf key, in schema order; used for the README table."""
    rows: list[tuple[str, str, str, str]] = []
    hints = _type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(tp):
            rows.extend(schema_rows(tp, key + "."))
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        rows.append((key, _type_name(tp), json.dumps(_plain(default)), f.metadata.get("doc", "")))
    return rows


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"list[{_type_name(typing.get_args(tp)[0])}]"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def markdown_table() -> str:
    """The config keys as a markdown table (the README's table is this text)."""
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, tp, default, doc in schema_rows():
        tp = tp.replace("|", "\\|")
        lines.append(f"| `{key}` | {tp} | `{default}` | {doc} |")
    return "\n".join(lines) + "\n"


def to_dict(cfg: Any) -> dict[str, Any]:
    """The config as plain YAML/JSON-ready data."""
    return _plain(cfg)


def _suggest(name: str, options: list[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    if close:
        return f"; did you mean '{prefix}{close[0]}'?"
    return f"; valid keys: {', '.join(prefix + o for o in options)}"


def _coerce(key: str, tp: Any, value: Any) -> Any:
    """Check `value` against the annotation `tp`; return it in the schema's own type."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(
                f"'{key}' must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}"
                + _suggest(str(value), [str(a) for a in allowed]).replace("keys", "values")
            )
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(key, arg, value)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"'{key}' has a wrong type")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"'{key}' must be a list, got {type(value).__name__} {value!r}")
        item_tp = typing.get_args(tp)[0]
        return tuple(_coerce(f"{key}[{i}]", item_tp, v) for i, v in enumerate(value))
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(
                f"'{key}' must be true or false, got {type(value).__name__} {value!r}"
            )
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"'{key}' must be an integer, got {type(value).__name__} {value!r}")
        return value
    if tp is float:
        if isinstance(value, str) and _EXPONENT_NUMBER.fullmatch(value.strip()):
            # YAML 1.1 (PyYAML) reads 3e-4 as a string: it wants 3.0e-4. Both mean the number.
            return float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"'{key}' must be a number, got {type(value).__name__} {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"'{key}' must be a string, got {type(value).__name__} {value!r}")
        return value
    raise ConfigError(f"'{key}': unsupported schema type {tp!r}")  # a bug in the schema


def _build(cls: type, data: Any, prefix: str) -> Any:
    where = prefix.rstrip(".") or "the config"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"'{where}' must be a mapping of keys, got {type(data).__name__}")
    hints = _type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            raise ConfigError(f"unknown key '{prefix}{key}'" + _suggest(str(key), names, prefix))
    kwargs = {}
    for name in names:
        if name not in data:
            continue
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = _build(tp, data[name], f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(f"{prefix}{name}", tp, data[name])
    return cls(**kwargs)


def _apply_legacy(data: dict[str, Any]) -> dict[str, Any]:
    """Map seed-era keys to their plain names so old configs keep loading."""
    model = data.get("model")
    if isinstance(model, dict) and model.get("lstm_layer") is not None:
        if "units" in model and model["units"] != model["lstm_layer"]:
            raise ConfigError(
                f"'model.lstm_layer' ({model['lstm_layer']}) and 'model.units' ({model['units']}) "
                "disagree; 'lstm_layer' is the legacy name of 'units': keep one"
            )
        log.warning(
            "'model.lstm_layer' is the legacy name of 'model.units'; using units=%s",
            model["lstm_layer"],
        )
        model = dict(model)
        model["units"] = model.pop("lstm_layer")
        data = {**data, "model": model}
    return data


_EXPONENT_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")
"""A number in exponent notation without the dot YAML 1.1 asks for (1e-3, 5E+2)."""


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b=value` -> (['a', 'b'], value); the value is read as YAML (so 3, 1e-3, true, [1, 2])."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' is not of the form key.sub=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override '{text}' has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override '{text}': value is not valid YAML ({exc})") from exc
    return key.split("."), value


def _set_path(data: dict[str, Any], path: list[str], value: Any) -> None:
    node = data
    for part in path[:-1]:
        child = node.get(part)
        if child is None:
            child = {}
            node[part] = child
        if not isinstance(child, dict):
            raise ConfigError(f"override '{'.'.join(path)}': '{part}' is not a section")
        node = child
    node[path[-1]] = value


def from_dict(data: dict[str, Any], overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Build and validate a Config from plain data plus `a.b=value` overrides."""
    data = json.loads(json.dumps(data or {}, default=list))  # deep copy, tuples become lists
    for text in overrides:
        path, value = parse_override(text)
        _set_path(data, path, value)
    cfg = _build(Config, _apply_legacy(data), "")
    derive(cfg)  # consistency checks raise here, at load time
    return cfg


def load_run_config(run_dir: str | os.PathLike[str]) -> Config:
    """The resolved config a run folder holds (`config.yaml`, written when the run starts)."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"'{run_dir}' is not a run folder: it has no config.yaml")
    return load(path)


def load(
    path: str | os.PathLike[str] | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> Config:
    """Load a YAML config file (or the defaults when `path` is None) with overrides applied.

    An error names where the bad value came from: the file, or the `key=value` override."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file '{p}' does not exist")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file '{p}' is not valid YAML: {exc}") from exc
        if data is None:  # empty, or only comments: easy to mistake for a real config
            log.warning("config file '%s' is empty: running with the built-in defaults", p)
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"config file '{p}' must hold a mapping of sections")
    for text in overrides:
        parse_override(text)  # its own error names the override
    try:
        return from_dict(data, overrides)
    except ConfigError as exc:
        raise ConfigError(f"{_blame(path, data, overrides)}{exc}") from None


def _blame(
    path: str | os.PathLike[str] | None, data: dict[str, Any], overrides: Sequence[str]
) -> str:
    """Prefix of a load error: the overrides that fail on their own on top of the file, else
    the file (when the file alone fails too), else all overrides together."""
    file_ok = True
    try:
        from_dict(data)
    except ConfigError:
        file_ok = False
    if file_ok:
        bad = []
        for text in overrides:
            try:
                from_dict(data, [text])
            except ConfigError:
                bad.append(f"'{text}'")
        if bad:
            return f"override{'s' if len(bad) > 1 else ''} {', '.join(bad)}: "
        if overrides:
            return f"overrides {' '.join(overrides)} (together): "
    return f"{path}: " if path is not None else ""


# (key, lowest allowed value, whether the lowest value itself is allowed): numbers the types
# alone let through but no stage can use. Checked at load time, so `lstm-se config` and every
# command refuse the same values with the same message.
_RANGES: tuple[tuple[str, float, bool], ...] = (
    ("epochs", 1, True),
    ("batch_size", 1, True),
    ("steps", 0, True),
    ("dset.top_db", 0, True),
    ("dset.shard_mb", 0, False),
    ("dset.remix_eq_db", 0, True),
    ("dset.workers", 0, True),
    ("model.compression_power", 0, False),
    ("model.cell_clip", 0, True),
    ("model.loss_power", 0, False),
    ("model.dense_units", 0, True),
    ("model.n_mels", 0, True),
    ("optim.lr", 0, False),
    ("optim.min_lr", 0, True),
    ("optim.clipnorm", 0, True),
    ("optim.weight_decay", 0, True),
    ("optim.plateau_patience", 1, True),
    ("train.patience", 0, True),
    ("train.eval_every", 0, True),
    ("train.eval_clips", 1, True),
    ("train.audio_every", 0, True),
    ("train.valid_steps", 0, True),
    ("train.shuffle_buffer", 1, True),
    ("mix.mixtures_per_utterance", 1, True),
)


def _get(cfg: Config, key: str) -> Any:
    value: Any = cfg
    for part in key.split("."):
        value = getattr(value, part)
    return value


def _range_problems(cfg: Config) -> list[str]:
    """Messages for every value outside its allowed range (`_RANGES`, plus the two-sided ones)."""
    problems = []
    for key, low, inclusive in _RANGES:
        value = _get(cfg, key)
        if inclusive and value < low:
            what = "0 or more" if low == 0 else f"at least {low}"
            problems.append(f"'{key}' must be {what}, got {value}")
        elif not inclusive and value <= low:
            problems.append(f"'{key}' must be positive, got {value}")
    if not 0.0 <= cfg.model.mask_floor < 1.0:
        problems.append(f"'model.mask_floor' must be in [0, 1), got {cfg.model.mask_floor}")
    if not 0.0 <= cfg.model.loss_alpha <= 1.0:
        problems.append(f"'model.loss_alpha' must be in [0, 1], got {cfg.model.loss_alpha}")
    if not 0.0 < cfg.optim.plateau_factor < 1.0:
        problems.append(f"'optim.plateau_factor' must be in (0, 1), got {cfg.optim.plateau_factor}")
    if cfg.model.metric not in ("si_sdr", "none", ""):
        problems.append(f"'model.metric' must be 'si_sdr' or 'none', got {cfg.model.metric!r}")
    return problems


def derive(cfg: Config) -> Derived:
    """Compute the derived values and check that the config is consistent."""
    d, m = cfg.dset, cfg.model
    problems = []
    if d.sample_rate <= 0:
        problems.append(f"'dset.sample_rate' must be positive, got {d.sample_rate}")
    if d.n_fft <= 0 or d.hop_length <= 0 or d.win_length <= 0:
        problems.append("'dset.n_fft', 'dset.win_length' and 'dset.hop_length' must be positive")
    elif d.win_length > d.n_fft:
        problems.append(
            f"'dset.win_length' ({d.win_length}) must not exceed 'dset.n_fft' ({d.n_fft})"
        )
    elif d.hop_length > d.win_length:
        problems.append(
            f"'dset.hop_length' ({d.hop_length}) must not exceed 'dset.win_length' ({d.win_length})"
        )
    if d.channels != 1:
        problems.append(f"'dset.channels' must be 1 (mono), got {d.channels}")
    if not 0.0 < d.split <= 1.0:
        problems.append(f"'dset.split' must be in (0, 1], got {d.split}")
    if not 0.0 <= d.max_skipped <= 1.0:
        problems.append(f"'dset.max_skipped' must be in [0, 1], got {d.max_skipped}")
    if m.layers < 1 or m.units < 1:
        problems.append("'model.layers' and 'model.units' must be at least 1")
    problems += _range_problems(cfg)
    if d.mixing == "dynamic":
        if d.normalize != "none" or not d.fft or d.center:
            problems.append(
                "'dset.mixing: dynamic' mixes at random levels in the STFT domain: it needs "
                "dset.normalize=none, dset.fft=true and dset.center=false"
            )
        for key, (lo, hi) in (("dset.remix_snr", d.remix_snr), ("dset.remix_level", d.remix_level)):
            if lo > hi:
                problems.append(f"'{key}' must be [low, high], got [{lo}, {hi}]")
    if problems:
        raise ConfigError("; ".join(problems))

    n_bins = d.n_fft // 2 + 1
    segment_samples = round(d.segment * d.sample_rate)
    if d.center:
        frames = 1 + segment_samples // d.hop_length
    else:
        frames = (
            1 + (segment_samples - d.n_fft) // d.hop_length if segment_samples >= d.n_fft else 0
        )
    if frames < 1:
        raise ConfigError(
            f"'dset.segment' ({d.segment} s = {segment_samples} samples) is shorter than one "
            f"frame of 'dset.n_fft' ({d.n_fft}) samples"
        )
    if m.n_feature != n_bins:
        raise ConfigError(
            f"'model.n_feature' ({m.n_feature}) must equal dset.n_fft // 2 + 1 = {n_bins}"
        )
    if m.n_segment not in (0, frames):
        raise ConfigError(
            f"'model.n_segment' ({m.n_segment}) must be 0 or the frames per segment, {frames} "
            f"(dset.segment={d.segment}, n_fft={d.n_fft}, hop={d.hop_length}, center={d.center})"
        )
    f_max = m.f_max or d.sample_rate / 2
    if m.n_mels:
        if not 0 <= m.f_min < f_max <= d.sample_rate / 2:
            raise ConfigError(
                f"mel range must satisfy 0 <= model.f_min ({m.f_min}) < model.f_max ({f_max}) "
                f"<= sample_rate / 2 ({d.sample_rate / 2})"
            )
        if m.n_mels > n_bins:
            raise ConfigError(f"'model.n_mels' ({m.n_mels}) must not exceed the {n_bins} bins")
    return Derived(
        n_bins=n_bins,
        segment_samples=segment_samples,
        frames_per_segment=frames,
        n_units=m.units,
        f_max=float(f_max),
    )


def dump(cfg: Config) -> str:
    """The resolved config as YAML text."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=False)


def config_hash(cfg: Config, sections: tuple[str, ...] = ("dset",)) -> str:
    """Short stable hash of some sections, to tell whether two runs made the same data."""
    plain = to_dict(cfg)
    payload = json.dumps({s: plain[s] for s in sections}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write a text file under a temporary name in the same folder, then rename it into place
    (with the user's umask's mode: mkstemp alone would leave it 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fchmod(fh.fileno(), new_file_mode())
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(cfg: Config, path: str | os.PathLike[str]) -> None:
    """Write the resolved config as YAML, atomically."""
    atomic_write_text(path, dump(cfg))
