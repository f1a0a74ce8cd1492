"""Waveforms: read and write audio files, resample, normalize (and undo it), cut into segments.

Plain arrays in, plain arrays out: nothing here knows about the config object.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from . import LstmSeError, new_file_mode

AUDIO_SUFFIXES = (".wav", ".flac")


class AudioError(LstmSeError, ValueError):
    """An audio file that cannot be used; the message names the file."""


def read(path: str | os.PathLike[str], always_2d: bool = False) -> tuple[np.ndarray, int]:
    """Read a wav or flac file as float32 in [-1, 1]: (samples,) or (samples, channels), rate.

    Raises AudioError naming the file when it cannot be read or holds no samples.
    """
    path = Path(path)
    # libsndfile says only "System error." for a missing or unreadable file: ask the OS first.
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise AudioError(f"{path}: cannot open ({exc.strerror})") from exc
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises several types for corrupt headers/data
        raise AudioError(f"{path}: cannot read audio ({exc})") from exc
    if data.shape[0] == 0:
        raise AudioError(f"{path}: file holds no samples")
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{path}: audio holds NaN or Inf samples")
    if not always_2d and data.shape[1] == 1:
        data = data[:, 0]
    return data, int(rate)


def info(path: str | os.PathLike[str]) -> sf._SoundFileInfo:
    """Header of an audio file (rate, channels, frames) without reading the samples."""
    try:
        return sf.info(str(path))
    except Exception as exc:
        raise AudioError(f"{path}: cannot read audio header ({exc})") from exc


def to_mono(data: np.ndarray) -> np.ndarray:
    """Average the channels of a (samples, channels) array; pass 1-D arrays through."""
    return data if data.ndim == 1 else data.mean(axis=1).astype(np.float32)


def read_mono(path: str | os.PathLike[str], sample_rate: int | None = None) -> np.ndarray:
    """Read a file as mono float32, resampled to `sample_rate` when given."""
    data, rate = read(path)
    data = to_mono(data)
    if sample_rate is not None and rate != sample_rate:
        data = resample(data, rate, sample_rate)
    return data


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample with soxr (high quality); a no-op when the rates are equal.

    Raises AudioError when the result holds NaN or Inf: float input near the float32 limit
    (e.g. 1e37) is finite but overflows in the filter, and must not reach features or records.
    """
    if rate_in == rate_out:
        return np.asarray(x, dtype=np.float32)
    y = soxr.resample(np.asarray(x, dtype=np.float32), rate_in, rate_out, quality="HQ")
    y = y.astype(np.float32)
    if not np.all(np.isfinite(y)):
        peak = float(np.max(np.abs(x), initial=0.0))
        raise AudioError(
            f"resampling {rate_in} -> {rate_out} Hz gave NaN/Inf samples (input peak {peak:.3g}; "
            "audio should lie in [-1, 1])"
        )
    return y


def write(path: str | os.PathLike[str], x: np.ndarray, sample_rate: int) -> int:
    """Write 16-bit PCM wav atomically (temporary name, then rename), with the mode of the
    user's umask like any other new file (mkstemp alone makes it 0600).

    Samples beyond [-1, 1) are clipped; returns how many were.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    x = np.asarray(x, dtype=np.float32)
    limit = 32767 / 32768
    clipped = int(np.count_nonzero((x > limit) | (x < -1.0)))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".wav", dir=path.parent)
    os.close(fd)
    try:
        sf.write(tmp, np.clip(x, -1.0, limit), sample_rate, subtype="PCM_16", format="WAV")
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return clipped


@dataclass(frozen=True)
class NormStats:
    """What `normalize` did, so that `denormalize` can undo it."""

    method: str
    """'z-score', 'linear' or 'none'."""
    mean: float
    """Subtracted mean (z-score only, else 0)."""
    scale: float
    """Divisor: standard deviation (z-score), peak (linear) or 1."""

    def to_dict(self) -> dict[str, float | str]:
        return asdict(self)


_EPS = 1e-8


def norm_stats(x: np.ndarray, method: str) -> NormStats:
    """Statistics of `x` for one of the normalization methods."""
    if method == "none":
        return NormStats(method, 0.0, 1.0)
    x = np.asarray(x, dtype=np.float64)
    if method == "z-score":
        return NormStats(method, float(x.mean()), float(max(x.std(), _EPS)))
    if method == "linear":
        return NormStats(method, 0.0, float(max(np.abs(x).max(initial=0.0), _EPS)))
    raise ValueError(f"unknown normalization '{method}' (z-score, linear, none)")


def normalize(x: np.ndarray, stats: NormStats) -> np.ndarray:
    """Apply statistics (usually the noisy input's, to both noisy and clean)."""
    if stats.mean == 0.0 and stats.scale == 1.0:  # exact identity: no float64 copy of a long x
        return np.asarray(x, dtype=np.float32)
    return ((np.asarray(x, dtype=np.float64) - stats.mean) / stats.scale).astype(np.float32)


def denormalize(x: np.ndarray, stats: NormStats) -> np.ndarray:
    """Undo `normalize`."""
    if stats.mean == 0.0 and stats.scale == 1.0:
        return np.asarray(x, dtype=np.float32)
    return (np.asarray(x, dtype=np.float64) * stats.scale + stats.mean).astype(np.float32)


def segments(x: np.ndarray, length: int, pad: bool = True) -> np.ndarray:
    """Cut into non-overlapping segments of `length` samples: (n, length).

    A remainder longer than half a segment becomes a last, zero-padded segment when `pad` is
    true; a signal shorter than one segment gives one padded segment (or none if `pad` is false).
    """
    x = np.asarray(x, dtype=np.float32)
    n_full = len(x) // length
    rest = len(x) - n_full * length
    out = [x[i * length : (i + 1) * length] for i in range(n_full)]
    if pad and rest and (n_full == 0 or rest > length // 2):
        out.append(np.pad(x[n_full * length :], (0, length - rest)))
    if not out:
        return np.zeros((0, length), dtype=np.float32)
    return np.stack(out)


def list_audio(folder: str | os.PathLike[str]) -> list[Path]:
    """Every wav/flac file under `folder`, recursively, sorted by path."""
    folder = Path(folder)
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
    )


def dbfs(x: np.ndarray) -> float:
    """RMS level in dB relative to full scale (-inf for silence)."""
    rms = float(np.sqrt(np.mean(np.square(np.asarray(x, dtype=np.float64))))) if len(x) else 0.0
    return 20 * np.log10(rms) if rms > 0 else float("-inf")
