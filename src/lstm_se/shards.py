"""Making the record shards: one noisy/clean pair to segments of STFT features, one shard of
pairs written by a worker process, and the deterministic plan of shards.

`prepare.py` validates the corpus, plans (`plan_shards`), runs `process_shard` on all cores and
writes the manifest; what each worker computes is here. A worker gets its task as plain values
(`FeatureParams` as a dict), so nothing here needs the config or TensorFlow's state.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import LstmSeError, audio, features, records
from .config import Config, derive

#: Folder of the shard records (`.work/<shard>.json`): which shards are finished.
WORK = ".work"


class PrepareError(LstmSeError, RuntimeError):
    """The prepare stage cannot go on; the message says why and names the file or folder."""


@dataclass(frozen=True)
class FeatureParams:
    """Everything `process_pair` needs, as plain values (workers get it as a dict)."""

    sample_rate: int
    segment_samples: int
    frames: int
    bins: int
    n_fft: int
    hop_length: int
    win_length: int
    center: bool
    fft_normalize: bool
    normalize: str
    per_segment: bool
    fft: bool
    feature: str
    mixing: str = "fixed"

    @property
    def dynamic(self) -> bool:
        """Whole utterances of clean speech and noise (remix.py), not fixed segments."""
        return self.mixing == "dynamic"

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one stored array per signal and segment (-1: an utterance's frames)."""
        if self.dynamic:
            return (2, -1, self.bins)
        return (2, self.frames, self.bins) if self.fft else (self.segment_samples,)


def feature_params(cfg: Config) -> FeatureParams:
    """The config's processing settings as plain values."""
    d, der = cfg.dset, derive(cfg)
    return FeatureParams(
        sample_rate=d.sample_rate,
        segment_samples=der.segment_samples,
        frames=der.frames_per_segment,
        bins=der.n_bins,
        n_fft=d.n_fft,
        hop_length=d.hop_length,
        win_length=d.win_length,
        center=d.center,
        fft_normalize=d.fft_normalize,
        normalize=d.normalize,
        per_segment=d.segment_normalization,
        fft=d.fft,
        feature=d.feature,
        mixing=d.mixing,
    )


# ---------------------------------------------------------------------------------------------
# processing one pair


def _planes(x: np.ndarray, p: FeatureParams) -> np.ndarray:
    """(2, frames, bins) float32 STFT planes of one segment: mag/phase or real/imag."""
    spec = features.stft(
        x, p.n_fft, p.hop_length, p.win_length, center=p.center, normalize=p.fft_normalize
    )
    if p.feature == "mag_phase":
        mag, phase = features.magnitude_phase(spec)
        planes = np.stack([mag, phase])
    else:
        planes = np.stack([spec.real, spec.imag]).astype(np.float32)
    # What is written, checked: finite input can still overflow float32 on the way here.
    if not np.all(np.isfinite(planes)):
        raise ValueError("the STFT features hold NaN/Inf (audio far outside [-1, 1]?)")
    return planes


def process_pair(
    noisy: np.ndarray, clean: np.ndarray, rate_noisy: int, rate_clean: int, p: FeatureParams
) -> dict[str, Any]:
    """Turn one noisy/clean pair into segments.

    Returns noisy and clean arrays (n, *p.shape), `valid` real samples per segment, and `norm`
    (n, 2) [mean, scale] per segment (the noisy signal's statistics, the same for every segment
    unless normalizing per segment).
    """
    n = audio.resample(audio.to_mono(noisy), rate_noisy, p.sample_rate)
    c = audio.resample(audio.to_mono(clean), rate_clean, p.sample_rate)
    length = min(len(n), len(c))  # resampling different rates may differ by a sample
    n, c = n[:length], c[:length]
    if p.dynamic:
        return _utterance(n, c, p)
    size = p.segment_samples
    if not p.per_segment:
        stats = audio.norm_stats(n, p.normalize)
        n, c = audio.normalize(n, stats), audio.normalize(c, stats)
    ns, cs = audio.segments(n, size, pad=True), audio.segments(c, size, pad=True)
    count = len(ns)
    valid = np.minimum(size, length - size * np.arange(count))
    norm = np.zeros((count, 2), dtype=np.float64)
    for i in range(count):
        if p.per_segment:
            stats = audio.norm_stats(ns[i, : valid[i]], p.normalize)
            ns[i], cs[i] = audio.normalize(ns[i], stats), audio.normalize(cs[i], stats)
            # Padding stays exact zeros in the normalized domain, as with per-utterance stats.
            ns[i, valid[i] :] = 0.0
            cs[i, valid[i] :] = 0.0
        norm[i] = (stats.mean, stats.scale)
    if p.fft:
        ns = np.stack([_planes(x, p) for x in ns])
        cs = np.stack([_planes(x, p) for x in cs])
    return {"noisy": ns, "clean": cs, "valid": valid, "norm": norm}


def _utterance(noisy: np.ndarray, clean: np.ndarray, p: FeatureParams) -> dict[str, Any]:
    """Dynamic mixing: the whole utterance as one example, clean speech and noise = noisy -
    clean, at the corpus' level (at least one frame: a shorter file is zero-padded)."""
    length = len(clean)
    pad = max(0, p.n_fft - length)
    c = np.pad(clean.astype(np.float64), (0, pad))
    n = np.pad(noisy.astype(np.float64), (0, pad)) - c
    return {
        "noisy": _planes(n, p)[None],
        "clean": _planes(c, p)[None],
        "valid": np.array([length]),
        "norm": np.array([[0.0, 1.0]]),
    }


def _task_id(task: dict[str, Any]) -> str:
    """Hash of a shard task's content: a stale `.work` record of another plan never matches."""
    payload = {k: task[k] for k in ("name", "split", "utts", "params")}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def process_shard(task: dict[str, Any]) -> dict[str, Any]:
    """Write one shard (runs in a worker process) and record it in `.work/<shard>.json`.

    `task`: name, split, out (folder), root (corpus), utts (pair infos), params, id.
    Returns the shard's result: file, examples, bytes, crc32 and one entry per utterance.
    """
    p = FeatureParams(**task["params"])
    out, root = Path(task["out"]), Path(task["root"])
    entries = []
    with records.ShardWriter(out / task["name"]) as writer:
        for info in task["utts"]:
            try:
                noisy, rate_n = audio.read(root / info["noisy"])
                clean, rate_c = audio.read(root / info["clean"])
                res = process_pair(noisy, clean, rate_n, rate_c, p)
            except Exception as exc:  # name the pair; the file may have changed since validation
                raise PrepareError(
                    f"{info['utt']} ({root / info['noisy']}, {root / info['clean']}): "
                    f"processing failed: {exc}"
                ) from exc
            for i in range(len(res["valid"])):
                writer.write(
                    records.segment_example(
                        info["utt"],
                        i,
                        int(res["valid"][i]),
                        tuple(res["norm"][i]),
                        res["noisy"][i],
                        res["clean"][i],
                        noisy_key="noise" if p.dynamic else "noisy",
                    )
                )
            norm = res["norm"]
            entries.append(
                {
                    "utt": info["utt"],
                    "speaker": info["speaker"],
                    "clean": info["clean"],
                    "noisy": info["noisy"],
                    "seconds": info["seconds"],
                    "segments": len(res["valid"]),
                    "norm": (
                        {"segments": [[float(m), float(s)] for m, s in norm]}
                        if p.per_segment
                        else {"mean": float(norm[0, 0]), "scale": float(norm[0, 1])}
                    ),
                }
            )
    result = {
        "id": task["id"],
        "file": task["name"],
        "split": task["split"],
        "examples": writer.examples,
        "bytes": writer.bytes,
        "crc32": writer.crc32,
        "utterances": entries,
    }
    records.atomic_write_json(out / WORK / f"{task['name']}.json", result)
    return result


# ---------------------------------------------------------------------------------------------
# planning


def _estimated_segments(samples: int, size: int) -> int:
    """Segments `audio.segments(pad=True)` makes of `samples` samples."""
    full, rest = divmod(samples, size)
    return full + (1 if rest and (full == 0 or rest > size // 2) else 0)


def plan_shards(
    lists: dict[str, list[dict[str, Any]]], p: FeatureParams, shard_mb: float, seed: int
) -> list[dict[str, Any]]:
    """Deterministic shard tasks: each split's utterances in a seeded order, grouped greedily
    until a shard's estimated size reaches `shard_mb` (from header lengths, before processing).

    The seeded order mixes speakers across shards, so that interleaving a few shards gives
    varied batches.
    """
    example_bytes = 2 * 4 * abs(int(np.prod(p.shape))) + 200  # two float32 arrays + metadata
    limit = shard_mb * 1e6
    tasks: list[dict[str, Any]] = []
    for k, split in enumerate(records.SPLITS):
        items = lists[split]
        order = np.random.default_rng([seed, k]).permutation(len(items))
        groups: list[list[dict[str, Any]]] = []
        size = 0.0
        for i in order:
            info = items[int(i)]
            samples = round(info["seconds"] * p.sample_rate)
            if p.dynamic:
                est = 2 * 4 * 2 * p.bins * (1 + samples // p.hop_length) + 200
            else:
                est = example_bytes * _estimated_segments(samples, p.segment_samples)
            if groups and size + est <= limit:
                groups[-1].append(info)
                size += est
            else:
                groups.append([info])
                size = est
        for j, group in enumerate(groups):
            task = {
                "name": f"{split}-{j:05d}-of-{len(groups):05d}.tfrecord",
                "split": split,
                "utts": group,
                "params": asdict(p),
            }
            task["id"] = _task_id(task)
            tasks.append(task)
    return tasks
