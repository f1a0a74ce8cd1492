"""The prepare stage: corpus -> validated, normalized, segmented STFT features in TFRecord shards.

`lstm-se prepare` and `python create_dataset.py` run `command`; `prepare` is the library entry.

Steps: discover and pair the corpus (`corpus.py`), validate every file (report in
`validation.json` and on the console; too many skipped pairs fail the run), split the training
speakers (seeded), plan the shards, then process the shards on all cores and write the manifest.

Per pair (`shards.py`, in the worker processes): read, downmix, resample to
`dset.sample_rate` (soxr HQ), trim both to the shorter, normalize both with the NOISY signal's
statistics (enhancement only has the noisy input; per utterance, or per segment with
`segment_normalization`), cut into `dset.segment`-second segments (a remainder longer than half
a segment is zero-padded into one more), and store either the STFT planes (`fft: true`) or the
samples (`fft: false`).

Resume: shards are fixed groups of utterances (the plan depends only on the corpus headers and
the config), each written under a temporary name and renamed, then recorded in
`.work/<shard>.json`. A rerun with the same config redoes only unfinished shards; with a
finished manifest and an unchanged corpus it does nothing. `--force` rebuilds; another config
into the same folder is refused unless forced. The config hash covers `dset` (less `wav`,
`save_path` and `workers`, which do not change the data) and `seed`; the corpus is identified by
a fingerprint of its file names and sizes.

Several machines: `--num-shards N --shard-index I` makes part I of N (every N-th shard) and
writes `manifest.part-I-of-N.json`; `--merge` checks that all parts are there and writes
`manifest.json`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import multiprocessing
import os
import re
import shutil
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import corpus, records
from .config import Config, config_hash, derive, save
from .shards import WORK, PrepareError, feature_params, plan_shards, process_shard

log = logging.getLogger(__name__)

VALIDATION = "validation.json"
FILES = "files.json"
_SHARD_RE = re.compile(r"^(train|valid|test)-\d{5}-of-\d{5}\.tfrecord$")
_PART_RE = re.compile(r"^manifest\.part-(\d{3})-of-(\d{3})\.json$")


def data_hash(cfg: Config) -> str:
    """Hash of what decides the records' content: `dset` (less wav, save_path, workers), seed."""
    d = dataclasses.replace(cfg.dset, wav="", save_path="", workers=0)
    return config_hash(dataclasses.replace(cfg, dset=d), ("dset", "seed"))


def _dset_record(cfg: Config) -> dict[str, Any]:
    """The dset config as kept in the manifest (where the records are is not part of them)."""
    d = asdict(cfg.dset)
    d.pop("save_path")
    d.pop("workers")
    return json.loads(json.dumps(d))  # as the manifest reads back: tuples are lists


# ---------------------------------------------------------------------------------------------
# folder state


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys) or "unknown keys"


def _check_folder(out: Path, h: str, cfg: Config) -> None:
    """Refuse a folder holding records of another config (manifest, part or unfinished plan)."""
    candidates = [out / records.MANIFEST, out / WORK / "plan.json"]
    candidates += sorted(p for p in out.glob("manifest.part-*.json") if _PART_RE.match(p.name))
    new = {**_dset_record(cfg), "seed": cfg.seed}
    for path in candidates:
        data = _read_json(path) if path.is_file() else None
        if data is None or data.get("config_hash") in (None, h):
            continue
        old = {**data.get("dset", {}), "seed": data.get("seed")}
        raise PrepareError(
            f"{out} holds records made with another config ({path.name}: {_diff(old, new)}); "
            "use --force to rebuild, or another dset.save_path"
        )


def _clean(out: Path, names: set[str] | None = None) -> None:
    """Remove what prepare wrote into `out` (all of it, or only the named shards)."""
    work = out / WORK
    if names is not None:
        for name in names:
            (out / name).unlink(missing_ok=True)
            (out / f".{name}.tmp").unlink(missing_ok=True)
            (work / f"{name}.json").unlink(missing_ok=True)
        (out / records.MANIFEST).unlink(missing_ok=True)
        return
    if not out.is_dir():
        return
    for p in out.iterdir():
        ours = (
            _SHARD_RE.match(p.name)
            or _PART_RE.match(p.name)
            or (p.name.startswith(".") and p.name.endswith(".tfrecord.tmp"))
            or p.name in (records.MANIFEST, VALIDATION, FILES, "config.yaml")
        )
        if ours and p.is_file():
            p.unlink()
    shutil.rmtree(work, ignore_errors=True)


def _file_crc32(path: Path) -> int:
    """zlib CRC-32 of a whole file, as `records.ShardWriter` keeps it in the manifest."""
    crc = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def _damaged_shards(out: Path, man: dict[str, Any]) -> list[str]:
    """Shards of a finished manifest whose CRC-32 is not the manifest's (a flipped bit keeps
    the size, so only the checksum finds it)."""
    return [
        shard["file"]
        for split in man.get("splits", {}).values()
        for shard in split["shards"]
        if _file_crc32(out / shard["file"]) != shard.get("crc32")
    ]


def _up_to_date(out: Path, man: dict[str, Any], fp: str) -> bool:
    """A finished manifest of this corpus whose shards are all there with the right sizes."""
    if man.get("corpus", {}).get("fingerprint") != fp:
        return False
    for split in man.get("splits", {}).values():
        for shard in split["shards"]:
            path = out / shard["file"]
            if not path.is_file() or path.stat().st_size != shard["bytes"]:
                return False
    return True


# ---------------------------------------------------------------------------------------------
# manifest


def build_manifest(header: dict[str, Any], results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The manifest from the run header (everything known before processing) and shard results."""
    splits: dict[str, Any] = {}
    stats: dict[str, dict[str, Any]] = {}
    total_bytes = 0
    for split in records.SPLITS:
        shards = [results[name] for name in header["plan"][split]]
        utts = [u for s in shards for u in s["utterances"]]
        stats[split] = {u["utt"]: u["norm"] for u in utts}
        splits[split] = {
            "examples": sum(s["examples"] for s in shards),
            "utterances": len(utts),
            "seconds": round(sum(u["seconds"] for u in utts), 3),
            "speakers": header["speakers"][split],
            "shards": [
                {
                    "file": s["file"],
                    "examples": s["examples"],
                    "bytes": s["bytes"],
                    "crc32": s["crc32"],
                    "utterances": [
                        {
                            k: u[k]
                            for k in ("utt", "speaker", "clean", "noisy", "seconds", "segments")
                        }
                        for u in s["utterances"]
                    ],
                }
                for s in shards
            ],
        }
        total_bytes += sum(s["bytes"] for s in shards)
    man = {k: v for k, v in header.items() if k not in ("plan", "speakers")}
    seconds = sum(s["seconds"] for s in splits.values())
    man.update(
        examples={split: splits[split]["examples"] for split in records.SPLITS},
        splits=splits,
        norm={
            "method": header["dset"]["normalize"],
            "per_segment": header["dset"]["segment_normalization"],
            "source": "noisy",
            "stats": stats,
        },
        bytes=total_bytes,
        audio_seconds=round(seconds, 3),
        bytes_per_audio_second=round(total_bytes / seconds, 1) if seconds else 0.0,
    )
    return man


# ---------------------------------------------------------------------------------------------
# the stage


def _workers(requested: int | None, cfg: Config) -> int:
    n = cfg.dset.workers if requested is None else requested
    if n < 0:
        raise PrepareError(f"workers must be 0 (all cores) or more, got {n}")
    if n == 0:
        n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, int(n or 1))


def _start_method() -> str:
    """'fork' on Linux when TensorFlow is not loaded, else 'spawn'.

    Forking is instant and the children share the parent's imports (spawned workers import
    numpy, scipy and soxr again, about a second each). A parent that has loaded TensorFlow (a
    test session, a notebook) runs native threads that a fork could catch holding a lock, so
    it gets clean spawned workers instead; so does every other platform.
    """
    return "fork" if sys.platform == "linux" and "tensorflow" not in sys.modules else "spawn"


class _Runner:
    """In-process map when one worker is asked for, else a process pool."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool = None

    def __enter__(self) -> _Runner:
        if self.workers > 1:
            self.pool = multiprocessing.get_context(_start_method()).Pool(self.workers)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.terminate()  # on success all work is done; on error stop at once
            self.pool.join()

    def imap(self, fn: Callable, items: list, chunksize: int = 1) -> Iterator:
        if self.pool is None:
            return map(fn, items)
        return self.pool.imap(fn, items, chunksize=chunksize)

    def imap_unordered(self, fn: Callable, items: list) -> Iterator:
        if self.pool is None:
            return map(fn, items)
        return self.pool.imap_unordered(fn, items)


def _validate(
    cfg: Config,
    utterances: list[corpus.Utterance],
    root: Path,
    out: Path,
    h: str,
    fp: str,
    runner: _Runner,
    progress: bool,
) -> dict[str, Any]:
    """The validation report: cached in `.work/validation.json` for this config and corpus."""
    cache = out / WORK / "validation.json"
    cached = _read_json(cache) if cache.is_file() else None
    if cached and cached.get("config_hash") == h and cached.get("fingerprint") == fp:
        log.info("validation: reusing %s (same config and corpus)", cache)
        return cached["report"]
    d = cfg.dset
    report = corpus.validate(
        utterances,
        root,
        sample_rate=d.sample_rate,
        segment_samples=derive(cfg).segment_samples,
        top_db=d.top_db,
        stereo=d.stereo,
        short=d.short,
        mapper=lambda fn, items: runner.imap(fn, items, chunksize=8),
        progress=progress,
    )
    summary = {k: v for k, v in report.items() if k != "pairs_info"}
    records.atomic_write_json(
        out / VALIDATION,
        {
            "config_hash": h,
            "fingerprint": fp,
            "root": str(root),
            "max_skipped": d.max_skipped,
            **summary,
        },
    )
    records.atomic_write_json(cache, {"config_hash": h, "fingerprint": fp, "report": report})
    return report


def prepare(
    cfg: Config,
    workers: int | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    force: bool = False,
    progress: bool = True,
    verify: bool = False,
) -> dict[str, Any]:
    """Run the stage; returns the manifest (or, for one part of a split run, the part manifest).

    `workers`: processes (None: dset.workers; 0: all cores). `num_shards`/`shard_index`: make
    only every `num_shards`-th shard, starting at `shard_index` (one machine's part). `force`:
    rebuild what is there (for a part: only that part's shards), even from another config.
    `verify`: check the CRC-32 of every shard already written against the manifest (the "up to
    date" check otherwise compares sizes) and rebuild the damaged ones.
    """
    if num_shards < 1 or not 0 <= shard_index < num_shards:
        raise PrepareError(
            f"--shard-index must be in 0..{num_shards - 1} and --num-shards >= 1, "
            f"got {shard_index} of {num_shards}"
        )
    started = time.perf_counter()
    d = cfg.dset
    out, root = Path(d.save_path), Path(d.wav)
    h = data_hash(cfg)
    split_run = num_shards > 1
    if force and not split_run:
        _clean(out)
    elif not force:
        _check_folder(out, h, cfg)

    utterances = corpus.discover(root, d.trainset)
    fp = corpus.fingerprint(utterances, root)
    done = _read_json(out / records.MANIFEST) if (out / records.MANIFEST).is_file() else None
    if done and not force and done.get("config_hash") == h:
        damaged = _damaged_shards(out, done) if verify and _up_to_date(out, done, fp) else []
        if damaged:
            for name in damaged:
                log.error("%s: CRC-32 differs from the manifest's: rebuilding it", out / name)
            _clean(out, set(damaged))  # the other shards are kept and resumed
        elif _up_to_date(out, done, fp):
            checked = " (CRC-32 of every shard verified)" if verify else ""
            log.info("%s is up to date (same config and corpus)%s: nothing to do", out, checked)
            return done
        if not damaged and done.get("corpus", {}).get("fingerprint") != fp:
            raise PrepareError(
                f"the corpus at {root} changed since {out / records.MANIFEST} was written "
                "(files added, removed or resized); use --force to rebuild"
            )
    out.mkdir(parents=True, exist_ok=True)
    n_workers = _workers(workers, cfg)
    params = feature_params(cfg)

    with _Runner(n_workers) as runner:
        report = _validate(cfg, utterances, root, out, h, fp, runner, progress)
        log.info("validation of %s:\n%s", root, corpus.format_report(report))
        for s in report["skipped_pairs"][:20]:
            log.warning("skipped %s (%s): %s", s["utt"], s["reason"], s["detail"])
        if report["skipped"] > 20:
            log.warning("... %d more skipped pairs in %s", report["skipped"] - 20, out / VALIDATION)
        try:
            corpus.check_skipped(report, d.max_skipped, str(out / VALIDATION))
        except corpus.CorpusError as exc:
            raise PrepareError(str(exc)) from None

        train_spk = sorted({u.speaker for u in utterances if u.subset == "train"})
        train_spk, valid_spk = corpus.split_speakers(train_spk, d.split, cfg.seed)
        lists = corpus.file_lists(report, train_spk, valid_spk)
        tasks = plan_shards(lists, params, d.shard_mb, cfg.seed)
        header = {
            "format": records.FORMAT,
            "version": records.VERSION,
            "config_hash": h,
            "corpus": {"root": str(root), "trainset": d.trainset, "fingerprint": fp},
            "dset": _dset_record(cfg),
            "seed": cfg.seed,
            "sample_rate": params.sample_rate,
            "segment_samples": params.segment_samples,
            "frames": params.frames,
            "bins": params.bins,
            "feature_spec": {
                "fft": params.fft,
                "feature": params.feature if params.fft else "samples",
                "dtype": "float32",
                "byte_order": "little",
                "shape": list(params.shape),
                "content": "clean+noise" if params.dynamic else "noisy+clean",
                "keys": [
                    "utt",
                    "segment",
                    "valid",
                    "norm",
                    "noise" if params.dynamic else "noisy",
                    "clean",
                ],
            },
            "validation": {k: v for k, v in report.items() if k != "pairs_info"},
            "speakers": {
                split: sorted({u["speaker"] for u in lists[split]}) for split in records.SPLITS
            },
            "plan": {s: [t["name"] for t in tasks if t["split"] == s] for s in records.SPLITS},
        }
        mine = [t for i, t in enumerate(tasks) if i % num_shards == shard_index]
        if split_run and force:
            _clean(out, {t["name"] for t in mine})
        records.atomic_write_json(
            out / WORK / "plan.json",
            {
                "config_hash": h,
                "fingerprint": fp,
                "dset": header["dset"],
                "seed": cfg.seed,
                "tasks": [{"name": t["name"], "id": t["id"]} for t in tasks],
            },
        )
        records.atomic_write_json(
            out / FILES,
            {
                "root": str(root),
                "trainset": d.trainset,
                "fingerprint": fp,
                "train_speakers": train_spk,
                "valid_speakers": valid_spk,
                "splits": lists,
            },
        )
        save(cfg, out / "config.yaml")

        results: dict[str, dict[str, Any]] = {}
        todo = []
        for t in mine:
            t.update(out=str(out), root=str(root))
            prev = _read_json(out / WORK / f"{t['name']}.json")
            shard = out / t["name"]
            if (
                prev is not None
                and prev.get("id") == t["id"]
                and shard.is_file()
                and shard.stat().st_size == prev.get("bytes")
                and (not verify or _file_crc32(shard) == prev.get("crc32"))
            ):
                results[t["name"]] = prev
            else:
                todo.append(t)
        if results:
            log.info("resuming: %d of %d shards already written", len(results), len(mine))
        # Largest first keeps all workers busy until the end.
        todo.sort(key=lambda t: -sum(u["seconds"] for u in t["utts"]))
        from tqdm import tqdm

        with tqdm(
            total=sum(len(t["utts"]) for t in todo),
            desc="prepare",
            unit="utt",
            disable=not progress,
        ) as bar:
            for res in runner.imap_unordered(process_shard, todo):
                results[res["file"]] = res
                bar.update(len(res["utterances"]))

    elapsed = time.perf_counter() - started
    if split_run:
        part = {
            "config_hash": h,
            "dset": header["dset"],
            "seed": cfg.seed,
            "part": {"index": shard_index, "of": num_shards},
            "header": header,
            "results": {t["name"]: results[t["name"]] for t in mine},
        }
        path = out / f"manifest.part-{shard_index:03d}-of-{num_shards:03d}.json"
        records.atomic_write_json(path, part)
        log.info(
            "part %d of %d: %d shards in %.1f s; run --merge when all parts are done (%s)",
            shard_index,
            num_shards,
            len(mine),
            elapsed,
            path,
        )
        return part
    man = build_manifest(header, results)
    records.atomic_write_json(out / records.MANIFEST, man)  # last: the records are complete
    _log_summary(man, out, elapsed, todo)
    return man


def _log_summary(
    man: dict[str, Any], out: Path, elapsed: float, written: list[dict[str, Any]]
) -> None:
    for split in records.SPLITS:
        s = man["splits"][split]
        log.info(
            "%-5s %6d examples  %5d utterances  %8.1f s audio  %3d shards  %d speakers",
            split,
            s["examples"],
            s["utterances"],
            s["seconds"],
            len(s["shards"]),
            len(s["speakers"]),
        )
    seconds = sum(u["seconds"] for t in written for u in t["utts"])
    log.info(
        "wrote %d shards (%.1f s of audio) to %s in %.1f s, %.1f audio s per s; records: "
        "%.1f MB, %.0f bytes per audio s",
        len(written),
        seconds,
        out,
        elapsed,
        seconds / elapsed if elapsed else 0.0,
        man["bytes"] / 1e6,
        man["bytes_per_audio_second"],
    )


def merge(cfg: Config) -> dict[str, Any]:
    """Combine the part manifests of a split run in `dset.save_path` into `manifest.json`."""
    out = Path(cfg.dset.save_path)
    h = data_hash(cfg)
    parts = sorted(p for p in out.glob("manifest.part-*.json") if _PART_RE.match(p.name))
    if not parts:
        raise PrepareError(f"{out}: no manifest.part-III-of-NNN.json files to merge")
    loaded = []
    for p in parts:
        data = _read_json(p)
        if data is None:
            raise PrepareError(f"{p}: cannot read this part manifest")
        if data.get("config_hash") != h:
            raise PrepareError(f"{p}: made with another config than this one (config hash)")
        loaded.append((p, data))
    counts = {data["part"]["of"] for _, data in loaded}
    if len(counts) != 1:
        raise PrepareError(f"{out}: part manifests of different splits ({sorted(counts)} parts)")
    n = counts.pop()
    have = {data["part"]["index"] for _, data in loaded}
    missing = sorted(set(range(n)) - have)
    if missing:
        raise PrepareError(
            f"{out}: parts {', '.join(str(i) for i in missing)} of {n} are not finished "
            f"(no manifest.part-III-of-{n:03d}.json)"
        )
    header = loaded[0][1]["header"]
    for p, data in loaded[1:]:
        if data["header"] != header:
            raise PrepareError(f"{p}: made from another corpus or plan than {loaded[0][0].name}")
    results: dict[str, dict[str, Any]] = {}
    for _, data in loaded:
        results.update(data["results"])
    for split in records.SPLITS:
        for name in header["plan"][split]:
            res = results.get(name)
            path = out / name
            if res is None:
                raise PrepareError(f"{out}: no part made shard {name}")
            if not path.is_file() or path.stat().st_size != res["bytes"]:
                raise PrepareError(f"{path}: shard missing or of the wrong size; copy it here")
    man = build_manifest(header, results)
    records.atomic_write_json(out / records.MANIFEST, man)
    log.info("merged %d parts into %s", n, out / records.MANIFEST)
    return man


def command(args: argparse.Namespace, cfg: Config) -> int:
    """`lstm-se prepare`: errors in the corpus or the folder are logged and give exit code 1."""
    try:
        if args.merge:
            merge(cfg)
        else:
            prepare(
                cfg,
                workers=args.workers,
                num_shards=args.num_shards,
                shard_index=args.shard_index,
                force=args.force,
                verify=bool(getattr(args, "verify", False)),
            )
    except (corpus.CorpusError, PrepareError, records.RecordsError) as exc:
        log.error("%s", exc)
        return 1
    return 0
