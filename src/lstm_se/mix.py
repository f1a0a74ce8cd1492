"""Corpus maker: folders of clean speech and noise -> a corpus in the VoiceBank-DEMAND layout.

`lstm-se mix --speech DIR --noise DIR --out DIR` (and `lstm-se demo-data`, through
:func:`make_corpus`) writes::

    OUT/clean_trainset_28spk_wav/<speaker>_<nnn>.wav   OUT/noisy_trainset_28spk_wav/...
    OUT/clean_testset_wav/<speaker>_<nnn>.wav          OUT/noisy_testset_wav/...
    OUT/log.csv     one row per written clean/noisy pair (see LOG_COLUMNS)
    OUT/info.json   counts, settings, seed, speakers and noise files of each set, SNR statistics

The plan (speaker and noise split, SNRs) is mix_plan.py's, the SNR definition
speech_level.py's, noise segments, reverberation and babble mix_augment.py's, the inputs and
their checks mix_inputs.py's. This module mixes each speech file (a worker process each) and
writes the corpus:

* **Levels.** The speech keeps its own level (gain 1); the noise gain sets the SNR. If the
  mixture's (or the clean speech's) absolute peak would exceed `mix.peak`, clean and noisy are
  scaled down together (same factor, so the SNR holds) and the row says `rescaled=yes`. No
  sample is ever clipped.
* **Reproducible.** The split and the assignment of noise files and SNRs come from one seeded
  generator; each utterance's noise offset comes from its own generator seeded by
  (`mix.seed`, utterance index). The augmentations draw from generators of their own (which
  mixtures, RT60s and talkers from one; impulse responses and babble offsets from one per
  utterance), so with `mix.reverb` and `mix.babble` at 0 nothing is drawn for them and a seed
  gives the same audio as before they existed. The same inputs and seed give identical bytes,
  whatever the number of worker processes. `info.json` holds no timestamps for that reason.
* **Atomic.** Everything is written into a temporary sibling of the output folder, which is
  renamed into place at the end; an existing output folder is refused unless `force` is given.
  Bad input (empty folder, unreadable file, too few speakers or noise files) raises
  `mix_inputs.MixError` naming the folder or file, before or while writing, and leaves no
  output.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import math
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from tqdm import tqdm

from . import __version__, audio, mix_augment, mix_inputs, mix_plan, speech_level
from .config import Config, MixConfig

log = logging.getLogger(__name__)

TRAIN_CLEAN = "clean_trainset_28spk_wav"
TRAIN_NOISY = "noisy_trainset_28spk_wav"
TEST_CLEAN = "clean_testset_wav"
TEST_NOISY = "noisy_testset_wav"
FOLDERS = {"train": (TRAIN_CLEAN, TRAIN_NOISY), "test": (TEST_CLEAN, TEST_NOISY)}


LOG_COLUMNS = (
    "set",
    "utterance",
    "speech_file",
    "noise_file",
    "noise_offset",
    "snr_db",
    "measured_snr_db",
    "speech_gain",
    "noise_gain",
    "rescaled",
    "noise_looped",
    "seconds",
    "rt60_s",
    "drr_db",
    "babble_files",
)
"""Columns of log.csv. `noise_offset` is in samples at the output rate (empty for babble);
`measured_snr_db` is measured back from the written 16-bit files with the definition above; the
gains are the factors applied to the source (or reverberant) speech and noise segment (after any
rescaling); `noise_looped` is yes when the noise file, or any babble talker, was looped;
`rt60_s` and `drr_db` describe the impulse response of a reverberant mixture (empty when dry);
`babble_files` lists the talkers of a babble, separated by `;` (empty otherwise)."""


_MAX_OFFSET_TRIES = 10
_PCM16_MAX = 32767 / 32768


# ---------------------------------------------------------------------------------------------
# one utterance (runs in a worker process)


def _mix_job(job: mix_plan.Job) -> list[dict[str, Any]]:
    """Read, mix and write every mixture of one speech file; return its log rows."""
    rng = np.random.default_rng(np.random.SeedSequence([job.seed, 1, job.index]))
    # Its own generator, so that the noise offsets above stay what they were without them.
    aug_rng = np.random.default_rng(np.random.SeedSequence([job.seed, 3, job.index]))
    rate = job.sample_rate
    try:
        speech = audio.read_mono(job.speech, rate).astype(np.float64)
    except audio.AudioError as exc:
        raise mix_inputs.MixError(f"speech file {exc}") from None
    p_speech = speech_level.active_speech_power(speech, rate)
    if p_speech <= 0.0:
        raise mix_inputs.MixError(f"speech file {job.speech}: is silent (all samples zero)")
    clean_dir, noisy_dir = (Path(job.out_dir) / d for d in FOLDERS[job.set])
    peak_limit = min(job.peak, _PCM16_MAX)
    rows = []
    for mixture in job.mixtures:
        source, p_source, drr_db = speech, p_speech, None
        if mixture.rt60 > 0.0:
            rir, drr_db = mix_augment.room_impulse_response(mixture.rt60, rate, aug_rng)
            source = mix_augment.reverberate(speech, rir)
            p_source = speech_level.active_speech_power(source, rate)
        talkers = [_read_talker(path, rate) for path in mixture.babble]
        if not talkers:
            try:
                noise = audio.read_mono(mixture.noise, rate).astype(np.float64)
            except audio.AudioError as exc:
                raise mix_inputs.MixError(f"noise file {exc}") from None
        offset: int | str = ""
        for _ in range(_MAX_OFFSET_TRIES):
            if talkers:
                segment, looped = mix_augment.babble_noise(talkers, len(speech), rate, aug_rng)
            else:
                segment, offset, looped = mix_augment.noise_segment(noise, len(speech), rng)
            p_noise = speech_level.noise_power(segment)
            if p_noise > 0.0:
                break
        else:
            what = f"babble of {', '.join(mixture.babble)}" if talkers else f"file {mixture.noise}"
            raise mix_inputs.MixError(
                f"noise {what}: {_MAX_OFFSET_TRIES} random segments of "
                f"{len(speech)} samples were all silent"
            )
        noise_gain = math.sqrt(p_source / (p_noise * 10.0 ** (mixture.snr_db / 10.0)))
        speech_gain = 1.0
        noisy = source + noise_gain * segment
        top = max(float(np.abs(noisy).max()), float(np.abs(source).max()))
        rescaled = top > peak_limit
        if rescaled:
            # One factor for both keeps the SNR and the clean/noisy relation exact.
            scale = peak_limit / top
            speech_gain *= scale
            noise_gain *= scale
            noisy = noisy * scale
        clean = source * speech_gain
        clean_path = clean_dir / f"{mixture.utterance}.wav"
        noisy_path = noisy_dir / f"{mixture.utterance}.wav"
        clipped = audio.write(clean_path, clean, rate) + audio.write(noisy_path, noisy, rate)
        if clipped:  # cannot happen with peak_limit <= PCM16 max; guard against a future change
            raise RuntimeError(f"{noisy_path}: {clipped} samples clipped")
        # Measure what was actually written (16-bit), not the float arrays.
        clean_q, _ = sf.read(str(clean_path), dtype="float64")
        noisy_q, _ = sf.read(str(noisy_path), dtype="float64")
        measured = round(speech_level.active_snr(clean_q, noisy_q, rate), 3) + 0.0  # no -0.0
        rows.append(
            {
                "set": job.set,
                "utterance": mixture.utterance,
                "speech_file": job.speech_label,
                "noise_file": mixture.noise_label,
                "noise_offset": offset,
                "snr_db": mixture.snr_db,
                "measured_snr_db": measured,
                "speech_gain": float(f"{speech_gain:.6g}"),
                "noise_gain": float(f"{noise_gain:.6g}"),
                "rescaled": "yes" if rescaled else "no",
                "noise_looped": "yes" if looped else "no",
                "seconds": round(len(speech) / rate, 4),
                "rt60_s": round(mixture.rt60, 4) if mixture.rt60 > 0.0 else "",
                "drr_db": round(drr_db, 3) if drr_db is not None else "",
                "babble_files": ";".join(mixture.babble_labels),
            }
        )
    return rows


def _read_talker(path: str, rate: int) -> np.ndarray:
    try:
        x = audio.read_mono(path, rate).astype(np.float64)
    except audio.AudioError as exc:
        raise mix_inputs.MixError(f"speech file {exc}") from None
    if speech_level.active_speech_power(x, rate) <= 0.0:
        raise mix_inputs.MixError(f"speech file {path}: is silent (all samples zero)")
    return x


# ---------------------------------------------------------------------------------------------
# the corpus


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    a = np.asarray(values, dtype=np.float64)
    return {
        "mean": round(float(a.mean()), 3),
        "min": round(float(a.min()), 3),
        "max": round(float(a.max()), 3),
    }


def _summary(rows: list[dict[str, Any]], jobs: list[mix_plan.Job]) -> dict[str, Any]:
    counts: dict[str, Any] = {}
    measured: dict[str, Any] = {}
    for set_name in FOLDERS:
        set_rows = [r for r in rows if r["set"] == set_name]
        set_jobs = [j for j in jobs if j.set == set_name]
        errors = [abs(r["measured_snr_db"] - r["snr_db"]) for r in set_rows]
        counts[set_name] = {
            "speakers": len({r["utterance"].rsplit("_", 1)[0] for r in set_rows}),
            "source_utterances": len(set_jobs),
            "pairs": len(set_rows),
            "seconds": round(sum(r["seconds"] for r in set_rows), 3),
            "rescaled": sum(r["rescaled"] == "yes" for r in set_rows),
            "noise_looped": sum(r["noise_looped"] == "yes" for r in set_rows),
            "reverberant": sum(r["rt60_s"] != "" for r in set_rows),
            "babble": sum(r["noise_file"].startswith(mix_augment.BABBLE_PREFIX) for r in set_rows),
        }
        measured[set_name] = {
            **_stats([r["measured_snr_db"] for r in set_rows]),
            "max_abs_error": round(max(errors), 3) if errors else 0.0,
        }
    return {"counts": counts, "measured_snr_db": measured}


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LOG_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _check_out(out: Path, force: bool, inputs: Sequence[Path]) -> None:
    if out.exists() and not force:
        raise mix_inputs.MixError(
            f"output folder '{out}' already exists; use --force to replace it"
        )
    if out.exists() and not out.is_dir():
        raise mix_inputs.MixError(f"output '{out}' exists and is not a folder")
    out_r = out.resolve()
    for folder in inputs:
        f = folder.resolve()
        # --force would delete an input inside the output; an output inside an input would be
        # read back as input by the next run.
        if out_r == f or out_r in f.parents or f in out_r.parents:
            raise mix_inputs.MixError(
                f"output folder '{out}' must not be, hold or lie inside input '{folder}'"
            )


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS has no sched_getaffinity
        return os.cpu_count() or 1


def make_corpus(
    speech_files_by_speaker: Mapping[str, Sequence[str | os.PathLike[str]]],
    noise_files: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    cfg: MixConfig,
    *,
    force: bool = False,
    workers: int = 1,
    speech_root: str | os.PathLike[str] | None = None,
    noise_root: str | os.PathLike[str] | None = None,
    extra_info: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Mix speech with noise into a VoiceBank-DEMAND-layout corpus at `out_dir`; return info.json.

    `speech_files_by_speaker` maps speaker name -> speech files; `noise_files` lists noise files.
    `workers` processes mix utterances in parallel (0: all available cores); the result does not
    depend on it. `speech_root`/`noise_root`, when given, make log.csv name files relative to
    them. `extra_info` is merged into info.json. Raises `mix_inputs.MixError` (naming the file
    or folder) on unusable input and ConfigError on unusable `mix.*` settings; nothing is left
    at `out_dir` then (an existing folder is kept as it was).
    """
    mix_inputs.check_config(cfg)
    out = Path(out_dir)
    speech_by_speaker = {
        str(s): [Path(p) for p in files] for s, files in speech_files_by_speaker.items() if files
    }
    noises = [Path(p) for p in noise_files]
    sroot = Path(speech_root) if speech_root is not None else None
    nroot = Path(noise_root) if noise_root is not None else None
    where = f" in '{sroot}'" if sroot is not None else ""
    if not speech_by_speaker:
        raise mix_inputs.MixError(f"no speech files{where}")
    if len(speech_by_speaker) < 2:
        raise mix_inputs.MixError(
            f"too few speakers{where}: found {len(speech_by_speaker)} "
            f"({', '.join(speech_by_speaker)}); a speaker-disjoint train/test split needs at least "
            "2 (one speaker = one subfolder)"
        )
    nwhere = f" in '{nroot}'" if nroot is not None else ""
    if not noises:
        raise mix_inputs.MixError(f"no noise files{nwhere}")
    if len(noises) < 2:
        raise mix_inputs.MixError(
            f"too few noise files{nwhere}: found 1 ({noises[0]}); disjoint train/test noise "
            "needs at least 2"
        )
    _check_out(out, force, [p for p in (sroot, nroot) if p is not None])
    all_speech = [p for files in speech_by_speaker.values() for p in files]
    mix_inputs.check_readable(all_speech, "speech", progress)
    mix_inputs.check_readable(noises, "noise", progress)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        for clean_dir, noisy_dir in FOLDERS.values():
            (tmp / clean_dir).mkdir()
            (tmp / noisy_dir).mkdir()
        jobs, split = mix_plan.plan(speech_by_speaker, noises, cfg, tmp, sroot, nroot)
        n_workers = min(workers if workers > 0 else _available_cores(), len(jobs))
        log.info(
            "mixing %d speech files (%d speakers) with %d noise files into %s, %d worker(s)",
            len(jobs),
            len(speech_by_speaker),
            len(noises),
            out,
            n_workers,
        )
        rows: list[dict[str, Any]] = []
        bar = tqdm(total=len(jobs), desc="mix", unit="file", disable=not progress)
        with bar:
            if n_workers <= 1:
                for job in jobs:
                    rows.extend(_mix_job(job))
                    bar.update()
            else:
                # spawn, not fork: the caller may hold threads (TensorFlow) that fork would copy
                # in a locked state.
                ctx = multiprocessing.get_context("spawn")
                with ctx.Pool(n_workers) as pool:
                    for job_rows in pool.imap(_mix_job, jobs, chunksize=1):
                        rows.extend(job_rows)
                        bar.update()
        _log_details(rows, cfg)
        info: dict[str, Any] = {
            "generator": "lstm-se mix",
            "version": __version__,
            "seed": cfg.seed,
            "sample_rate": cfg.sample_rate,
            "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()},
            "snr_definition": speech_level.SNR_DEFINITION,
            "noise_shorter_than_speech": "looped from a random offset",
            "sources": {
                "speech": str(sroot) if sroot is not None else None,
                "noise": str(nroot) if nroot is not None else None,
            },
            **_summary(rows, jobs),
            **split,
        }
        if extra_info:
            info.update(extra_info)
        (tmp / "log.csv").write_text(_csv_text(rows), encoding="utf-8")
        (tmp / "info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        _replace(tmp, out, force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _log_summary(info, out)
    return info


def _replace(tmp: Path, out: Path, force: bool) -> None:
    """Rename the finished temporary folder to `out` (moving an old `out` aside first)."""
    if out.exists():
        if not force:  # appeared while we were mixing
            raise mix_inputs.MixError(
                f"output folder '{out}' appeared while mixing; use --force to replace"
            )
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / out.name)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def _log_details(rows: list[dict[str, Any]], cfg: MixConfig) -> None:
    """Name the rescaled mixtures (debug) and each noise file that had to be looped (info)."""
    looped: dict[str, list[str]] = {}
    for row in rows:
        if row["rescaled"] == "yes":
            log.debug("%s: scaled down to peak %.3f", row["utterance"], cfg.peak)
        # Babble talkers are utterances about as long as the speech: looping them is expected.
        if row["noise_looped"] == "yes" and not row["babble_files"]:
            looped.setdefault(row["noise_file"], []).append(row["utterance"])
    for noise, utts in looped.items():
        log.info(
            "noise file %s is shorter than the speech of %d mixture(s) (%s%s): looped",
            noise,
            len(utts),
            ", ".join(utts[:3]),
            ", ..." if len(utts) > 3 else "",
        )


def _log_summary(info: dict[str, Any], out: Path) -> None:
    for set_name, c in info["counts"].items():
        m = info["measured_snr_db"][set_name]
        log.info(
            "%s: %d speakers, %d pairs, %.2f h; measured SNR %.2f..%.2f dB (mean %.2f, max error "
            "%.3f dB); %d rescaled, %d with looped noise",
            set_name,
            c["speakers"],
            c["pairs"],
            c["seconds"] / 3600,
            m.get("min", float("nan")),
            m.get("max", float("nan")),
            m.get("mean", float("nan")),
            m["max_abs_error"],
            c["rescaled"],
            c["noise_looped"],
        )
        if c["reverberant"] or c["babble"]:
            log.info(
                "%s: %d reverberant mixtures, %d with babble",
                set_name,
                c["reverberant"],
                c["babble"],
            )
    total = sum(c["pairs"] for c in info["counts"].values())
    rescaled = sum(c["rescaled"] for c in info["counts"].values())
    if total and rescaled / total > 0.1:
        log.warning(
            "%d of %d mixtures were scaled down to stay under mix.peak=%s (loud speech, or peaky "
            "noise at a low SNR); the rows with rescaled=yes in log.csv name them",
            rescaled,
            total,
            info["settings"]["peak"],
        )
    log.info("corpus written to %s (log.csv, info.json)", out)


def command(args: argparse.Namespace, cfg: Config) -> int:
    """`lstm-se mix`: --speech, --noise, --out, --force; returns the exit status."""
    try:
        speech = mix_inputs.find_speech(args.speech)
        noise = mix_inputs.find_noise(args.noise)
        make_corpus(
            speech,
            noise,
            args.out,
            cfg.mix,
            force=bool(args.force),
            workers=0,
            speech_root=args.speech,
            noise_root=args.noise,
        )
    except (mix_inputs.MixError, audio.AudioError) as exc:
        log.error("%s", exc)
        return 1
    return 0
