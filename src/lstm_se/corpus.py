"""VoiceBank-DEMAND discovery, pairing by utterance id, validation and the speaker split.

Layout (the DataShare folder names; `lstm-se mix` and `lstm-se demo-data` write the same):
`clean_trainset_28spk_wav/`, `noisy_trainset_28spk_wav/` (or `_56spk_`, chosen by
`dset.trainset`: the two training sets are never merged), `clean_testset_wav/`,
`noisy_testset_wav/`, each holding `<speaker>_<nnn>.wav` (or .flac) files. Files are paired by
utterance id (the file stem), never by position; the speaker is the stem before its last `_`.
Names starting with `.` (such as macOS `._x.wav` resource files) are ignored.

Validation reads every file once before any feature is computed. Each problem has exactly one
behaviour:

Errors (naming the folder or files): a missing corpus folder, an utterance id twice in one
folder, no pairs at all, and any file with more than one channel when `dset.stereo: error`.

Skipped, counted and listed in the report (reason in brackets):
- clean or noisy file missing (`missing_partner`);
- unreadable file or corrupt header, NaN/Inf samples (`unreadable`);
- data shorter than the header says (`truncated`);
- empty file: 0 bytes or 0 samples (`empty`);
- clean and noisy lengths differ: by any sample at equal rates, by more than one sample of the
  lower rate otherwise (`length_mismatch`);
- clean or noisy peak more than `dset.top_db` dB below full scale (`silent`);
- shorter than one segment when `dset.short: skip` (`too_short`).

Fixed, counted (and listed, but for resampling):
- shorter than one segment when `dset.short: pad`: zero-padded to one segment (`padded`);
- more than one channel when `dset.stereo: downmix`: channels averaged (`downmixed`);
- a sample rate other than `dset.sample_rate`: resampled with soxr HQ (`resampled`).

When the skipped pairs exceed `dset.max_skipped` of all pairs, `check_skipped` raises.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from . import LstmSeError, audio

log = logging.getLogger(__name__)

TRAIN_FOLDERS = {
    "28spk": ("clean_trainset_28spk_wav", "noisy_trainset_28spk_wav"),
    "56spk": ("clean_trainset_56spk_wav", "noisy_trainset_56spk_wav"),
}
TEST_FOLDERS = ("clean_testset_wav", "noisy_testset_wav")

SKIP_REASONS = {
    "missing_partner": "clean or noisy file missing",
    "unreadable": "cannot be read (corrupt header or data, NaN/Inf samples)",
    "truncated": "holds less data than its header says",
    "empty": "no samples",
    "length_mismatch": "clean and noisy durations differ",
    "silent": "peak more than top_db below full scale",
    "too_short": "shorter than one segment (dset.short: skip)",
}
FIXES = {
    "downmixed": "more than one channel: averaged (dset.stereo: downmix)",
    "padded": "shorter than one segment: zero-padded (dset.short: pad)",
    "resampled": "sample rate differs from dset.sample_rate: resampled with soxr HQ",
}


class CorpusError(LstmSeError, ValueError):
    """A corpus that cannot be used as it is; the message names the folder or files."""


@dataclass(frozen=True)
class Utterance:
    """One utterance id with its clean and noisy files (None where the file is missing)."""

    utt: str
    speaker: str
    subset: str
    """'train' (the training folders) or 'test' (the test folders)."""
    clean: Path | None
    noisy: Path | None


def speaker_of(utt: str) -> str:
    """Speaker of an utterance id: the part before the last `_` (the whole id if there is none)."""
    return utt.rsplit("_", 1)[0] if "_" in utt else utt


def find_folders(root: str | os.PathLike[str], trainset: str) -> dict[str, Path]:
    """The four corpus folders under `root`: clean_train, noisy_train, clean_test, noisy_test."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"corpus folder '{root}' does not exist (dset.wav)")
    if trainset not in TRAIN_FOLDERS:
        raise CorpusError(f"dset.trainset must be one of {', '.join(TRAIN_FOLDERS)}")
    names = dict(
        zip(("clean_train", "noisy_train"), TRAIN_FOLDERS[trainset], strict=True),
        clean_test=TEST_FOLDERS[0],
        noisy_test=TEST_FOLDERS[1],
    )
    folders = {key: root / name for key, name in names.items()}
    missing = [str(p) for p in folders.values() if not p.is_dir()]
    if missing:
        other = [
            name
            for key, pair in TRAIN_FOLDERS.items()
            if key != trainset
            for name in pair
            if (root / name).is_dir()
        ]
        hint = f"; found {', '.join(other)}: set dset.trainset accordingly" if other else ""
        present = sorted(p.name for p in root.iterdir() if p.is_dir())
        raise CorpusError(
            f"corpus '{root}' lacks {', '.join(missing)} (VoiceBank-DEMAND layout; folders there: "
            f"{', '.join(present) or 'none'}){hint}"
        )
    return folders


def _audio_files(folder: Path) -> dict[str, Path]:
    """Utterance id -> file for the wav/flac files directly in `folder` (hidden names ignored)."""
    found: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or not p.is_file():
            continue
        if p.suffix.lower() not in audio.AUDIO_SUFFIXES:
            continue
        if p.stem in found:
            raise CorpusError(
                f"utterance id '{p.stem}' appears twice in {folder}: {found[p.stem].name} and "
                f"{p.name}"
            )
        found[p.stem] = p
    return found


def discover(root: str | os.PathLike[str], trainset: str) -> list[Utterance]:
    """Every utterance id of the training and test folders, paired by id, sorted by (subset, id).

    Ids found on one side only are returned with the other side None (validation skips them).
    """
    folders = find_folders(root, trainset)
    out: list[Utterance] = []
    for subset in ("train", "test"):
        clean = _audio_files(folders[f"clean_{subset}"])
        noisy = _audio_files(folders[f"noisy_{subset}"])
        for utt in sorted(set(clean) | set(noisy)):
            out.append(Utterance(utt, speaker_of(utt), subset, clean.get(utt), noisy.get(utt)))
    if not any(u.clean and u.noisy for u in out):
        raise CorpusError(f"corpus '{root}' holds no clean/noisy pairs ({trainset})")
    return out


def fingerprint(utterances: Iterable[Utterance], root: str | os.PathLike[str]) -> str:
    """Hash of every file's path (relative to root) and size: tells whether a corpus changed."""
    h = hashlib.sha256()
    root = Path(root)
    for u in utterances:
        for p in (u.clean, u.noisy):
            if p is not None:
                h.update(f"{p.relative_to(root).as_posix()}\t{p.stat().st_size}\n".encode())
    return h.hexdigest()[:16]


def split_speakers(speakers: Iterable[str], share: float, seed: int) -> tuple[list[str], list[str]]:
    """Seeded, speaker-disjoint (train, valid) split: `share` of the speakers train.

    With share < 1 and at least two speakers, each side gets at least one speaker.
    """
    speakers = sorted(set(speakers))
    order = [speakers[i] for i in np.random.default_rng(seed).permutation(len(speakers))]
    n_train = round(share * len(speakers))
    if share < 1.0 and len(speakers) >= 2:
        n_train = min(max(n_train, 1), len(speakers) - 1)
    return sorted(order[:n_train]), sorted(order[n_train:])


# ---------------------------------------------------------------------------------------------
# validation


def _wav_truncation(path: Path, size: int) -> str | None:
    """For RIFF/WAVE files: a message when the data chunk declares more bytes than the file has.

    libsndfile reads such files quietly up to the end, so this is checked on the header itself.
    Streaming writers leave the size 0 or 0xFFFFFFFF: those are not checked.
    """
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return None
        endian = "<" if head[:4] == b"RIFF" else ">"
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk = fh.read(8)
            cid, clen = chunk[:4], struct.unpack(endian + "I", chunk[4:])[0]
            if cid == b"data":
                avail = size - pos - 8
                if clen not in (0, 0xFFFFFFFF) and clen > avail:
                    return f"data chunk declares {clen} bytes, the file holds {avail}"
                return None
            pos += 8 + clen + (clen & 1)
    return None


def check_file(path: str) -> dict[str, Any]:
    """Read one file and describe it: rate, channels, frames, peak, and a problem if any.

    Returns a JSON-ready dict; `reason` is None, 'unreadable', 'truncated' or 'empty'. Runs in
    worker processes, so it takes and returns plain data.
    """
    p = Path(path)
    out: dict[str, Any] = {
        "path": path,
        "reason": None,
        "detail": "",
        "rate": 0,
        "channels": 0,
        "frames": 0,
        "peak": 0.0,
    }
    try:
        size = p.stat().st_size
    except OSError as exc:
        return {**out, "reason": "unreadable", "detail": str(exc)}
    if size == 0:
        return {**out, "reason": "empty", "detail": "0 bytes"}
    try:
        head = sf.info(path)
    except Exception as exc:  # libsndfile raises several types for a bad header
        return {**out, "reason": "unreadable", "detail": f"cannot read header ({exc})"}
    out.update(rate=int(head.samplerate), channels=int(head.channels), frames=int(head.frames))
    if head.frames == 0:
        return {**out, "reason": "empty", "detail": "header says 0 samples"}
    trunc = _wav_truncation(p, size) if p.suffix.lower() == ".wav" else None
    if trunc:
        return {**out, "reason": "truncated", "detail": trunc}
    try:
        data, _ = audio.read(path, always_2d=True)
    except audio.AudioError as exc:
        return {**out, "reason": "unreadable", "detail": str(exc).removeprefix(f"{path}: ")}
    if data.shape[0] < head.frames:
        return {
            **out,
            "reason": "truncated",
            "detail": f"header says {head.frames} samples, the data holds {data.shape[0]}",
        }
    out["peak"] = float(np.abs(data).max())
    return out


Mapper = Callable[[Callable[[str], dict[str, Any]], Sequence[str]], Iterator[dict[str, Any]]]


def validate(
    utterances: Sequence[Utterance],
    root: str | os.PathLike[str],
    *,
    sample_rate: int,
    segment_samples: int,
    top_db: float,
    stereo: str,
    short: str,
    mapper: Mapper | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Check every pair (reading each file once) and return the validation report.

    `mapper(fn, paths)` runs `check_file` over the paths, e.g. a multiprocessing pool's `imap`;
    default: in this process. Report keys: pairs, kept, skipped, skipped_share, counts (per skip
    reason), fixed (files downmixed or resampled, pairs padded), rates (kept files per sample
    rate), skipped_pairs (utt, subset, reason, detail, files), fixes (utt, fix, detail: each
    downmixed file and padded pair) and `pairs_info` (per kept utterance: subset, speaker,
    files relative to root, rates, channels, frames, seconds). Raises CorpusError for
    `stereo: error` with stereo files.
    """
    from tqdm import tqdm

    root = Path(root)
    paths = [str(p) for u in utterances for p in (u.clean, u.noisy) if p is not None]
    run = mapper or (lambda fn, items: map(fn, items))
    checks: dict[str, dict[str, Any]] = {}
    for res in tqdm(
        run(check_file, paths),
        total=len(paths),
        desc="validate",
        unit="file",
        disable=not progress,
        leave=False,
    ):
        checks[res["path"]] = res

    silent_peak = 10.0 ** (-top_db / 20.0)
    skipped, fixes, kept = [], [], {}
    rates: Counter[int] = Counter()
    resampled = 0
    stereo_files = []

    def rel(p: Path) -> str:
        return p.relative_to(root).as_posix()

    for u in utterances:
        files = [rel(p) for p in (u.clean, u.noisy) if p is not None]

        def skip(reason: str, detail: str, u: Utterance = u, files: list[str] = files) -> None:
            skipped.append(
                {
                    "utt": u.utt,
                    "subset": u.subset,
                    "reason": reason,
                    "detail": detail,
                    "files": files,
                }
            )

        if u.clean is None or u.noisy is None:
            have = "noisy" if u.clean is None else "clean"
            skip("missing_partner", f"only the {have} file exists")
            continue
        c, n = checks[str(u.clean)], checks[str(u.noisy)]
        bad = [(side, r) for side, r in (("clean", c), ("noisy", n)) if r["reason"]]
        if bad:
            side, r = bad[0]
            skip(r["reason"], f"{side} {rel(Path(r['path']))}: {r['detail']}")
            continue
        dur_c, dur_n = c["frames"] / c["rate"], n["frames"] / n["rate"]
        mismatch = (
            c["frames"] != n["frames"]
            if c["rate"] == n["rate"]
            else abs(dur_c - dur_n) > 1.0 / min(c["rate"], n["rate"])
        )
        if mismatch:
            skip(
                "length_mismatch",
                f"clean {c['frames']} samples at {c['rate']} Hz ({dur_c:.4f} s), noisy "
                f"{n['frames']} at {n['rate']} Hz ({dur_n:.4f} s)",
            )
            continue
        quiet = [side for side, r in (("clean", c), ("noisy", n)) if r["peak"] < silent_peak]
        if quiet:
            r = c if quiet[0] == "clean" else n
            level = 20 * np.log10(r["peak"]) if r["peak"] > 0 else float("-inf")
            skip("silent", f"{quiet[0]} peak {level:.1f} dBFS < -{top_db:g} dBFS")
            continue
        samples = round(min(dur_c, dur_n) * sample_rate)
        if samples < segment_samples:
            detail = f"{samples} samples at {sample_rate} Hz < one segment of {segment_samples}"
            if short == "skip":
                skip("too_short", detail)
                continue
            fixes.append({"utt": u.utt, "fix": "padded", "detail": detail})
        for side, r in (("clean", c), ("noisy", n)):
            rates[r["rate"]] += 1
            # Counted, not listed: with VoiceBank (48 kHz) every file is resampled.
            resampled += r["rate"] != sample_rate
            if r["channels"] > 1:
                stereo_files.append(rel(Path(r["path"])))
                fixes.append(
                    {"utt": u.utt, "fix": "downmixed", "detail": f"{side} {r['channels']} channels"}
                )
        kept[u.utt + "@" + u.subset] = {
            "utt": u.utt,
            "subset": u.subset,
            "speaker": u.speaker,
            "clean": rel(u.clean),
            "noisy": rel(u.noisy),
            "rate_clean": c["rate"],
            "rate_noisy": n["rate"],
            "channels_clean": c["channels"],
            "channels_noisy": n["channels"],
            "frames": min(c["frames"], n["frames"]),
            "seconds": round(min(dur_c, dur_n), 6),
        }
    if stereo == "error" and stereo_files:
        shown = ", ".join(stereo_files[:10]) + (" ..." if len(stereo_files) > 10 else "")
        raise CorpusError(
            f"{len(stereo_files)} file(s) with more than one channel and dset.stereo is 'error': "
            f"{shown} (root {root})"
        )
    total = len(utterances)
    fix_counts = Counter(f["fix"] for f in fixes)
    fix_counts["resampled"] = resampled
    return {
        "pairs": total,
        "kept": len(kept),
        "skipped": len(skipped),
        "skipped_share": len(skipped) / total if total else 0.0,
        "counts": {reason: sum(s["reason"] == reason for s in skipped) for reason in SKIP_REASONS},
        "fixed": {fix: fix_counts.get(fix, 0) for fix in FIXES},  # files (resampled) or pairs
        "rates": {str(r): n for r, n in sorted(rates.items())},
        "skipped_pairs": skipped,
        "fixes": fixes,
        "pairs_info": list(kept.values()),
    }


def check_skipped(report: dict[str, Any], max_skipped: float, where: str = "") -> None:
    """Raise CorpusError when the skipped share of pairs exceeds `max_skipped`."""
    if report["skipped_share"] > max_skipped:
        first = "; ".join(f"{s['utt']} ({s['reason']})" for s in report["skipped_pairs"][:5])
        raise CorpusError(
            f"{report['skipped']} of {report['pairs']} pairs skipped "
            f"({100 * report['skipped_share']:.1f}% > dset.max_skipped "
            f"{100 * max_skipped:.1f}%), e.g. {first}; see {where or 'the validation report'}"
        )


def format_report(report: dict[str, Any]) -> str:
    """A short console table of the validation report."""
    rows = [("pairs found", str(report["pairs"]), ""), ("pairs kept", str(report["kept"]), "")]
    rows += [
        (reason, str(report["counts"][reason]), "skipped: " + SKIP_REASONS[reason])
        for reason in SKIP_REASONS
        if report["counts"][reason]
    ]
    rows += [(fix, str(report["fixed"][fix]), FIXES[fix]) for fix in FIXES if report["fixed"][fix]]
    rows.append(
        ("sample rates", ", ".join(f"{r} Hz: {n}" for r, n in report["rates"].items()), "files")
    )
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    lines = [f"{'check':<{w0}}  {'count':>{w1}}  note", "-" * (w0 + w1 + 30)]
    lines += [f"{a:<{w0}}  {b:>{w1}}  {c}".rstrip() for a, b, c in rows]
    return "\n".join(lines)


def file_lists(
    report: dict[str, Any], train_speakers: Sequence[str], valid_speakers: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Kept pairs by split ('train', 'valid', 'test'), sorted by utterance id."""
    train, valid = set(train_speakers), set(valid_speakers)
    out: dict[str, list[dict[str, Any]]] = {"train": [], "valid": [], "test": []}
    for info in report["pairs_info"]:
        if info["subset"] == "test":
            out["test"].append(info)
        elif info["speaker"] in train:
            out["train"].append(info)
        elif info["speaker"] in valid:
            out["valid"].append(info)
    for items in out.values():
        items.sort(key=lambda i: i["utt"])
    return out
