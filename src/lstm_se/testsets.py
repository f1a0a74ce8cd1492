"""Test sets: the clean/noisy pairs a run is scored on.

A test-set folder is recognized by its layout (`LAYOUTS`): VoiceBank-DEMAND's
`clean_testset_wav/` + `noisy_testset_wav/`, or flat `clean/` + `noisy/` (as devtest/chime2).
Files are paired by name (stem; wav or flac, any rate). A pair's input SNR comes from a
`snr<value>_` file-name prefix or from the `snr_db` column of a `log.csv` beside the folders.
Without a folder, the run's own test split is read from its dataset manifest
(`manifest_pairs`). `length_mismatch` tells a pair whose clean and noisy files differ in length.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import LstmSeError, audio
from .config import Config

log = logging.getLogger(__name__)

LAYOUTS: dict[str, tuple[str, str]] = {
    "voicebank": ("clean_testset_wav", "noisy_testset_wav"),
    "flat": ("clean", "noisy"),
}
"""Recognized test-set layouts: (clean folder, noisy folder) under the test-set folder."""

_SNR_PREFIX = re.compile(r"^snr(-?\d+(?:\.\d+)?)_", re.IGNORECASE)


class EvaluateError(LstmSeError, ValueError):
    """A test set or run that cannot be evaluated; the message names the folder or file."""


@dataclass(frozen=True)
class Pair:
    """One clean/noisy test pair."""

    utt: str
    clean: Path
    noisy: Path
    snr: float | None = None


def audio_by_stem(folder: Path) -> dict[str, Path]:
    """The audio files of a folder by file stem (hidden files and other suffixes left out)."""
    found: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in audio.AUDIO_SUFFIXES:
            if p.stem in found:
                raise EvaluateError(f"{folder}: '{p.stem}' appears twice ({found[p.stem].name})")
            found[p.stem] = p
    return found


def detect_layout(folder: str | os.PathLike[str]) -> tuple[str, Path, Path]:
    """(layout name, clean folder, noisy folder) of a test-set folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise EvaluateError(f"test set folder '{folder}' does not exist")
    for name, (clean, noisy) in LAYOUTS.items():
        if (folder / clean).is_dir() and (folder / noisy).is_dir():
            return name, folder / clean, folder / noisy
    expected = "; ".join(f"{c}/ + {n}/" for c, n in LAYOUTS.values())
    present = sorted(p.name for p in folder.iterdir() if p.is_dir())
    raise EvaluateError(
        f"test set '{folder}' has neither layout ({expected}); folders there: "
        f"{', '.join(present) or 'none'}"
    )


def snr_from_log(path: str | os.PathLike[str]) -> dict[str, float]:
    """utterance -> snr_db from a corpus `log.csv` (test rows win over train rows)."""
    out: dict[str, float] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in sorted(rows, key=lambda r: r.get("set") == "test"):
        try:
            out[row["utterance"]] = float(row["snr_db"])
        except (KeyError, TypeError, ValueError):
            continue
    return out


def snr_of(utt: str, log_snrs: Mapping[str, float]) -> float | None:
    """Input SNR of an utterance: its `snr<value>_` name prefix, else log.csv, else None."""
    m = _SNR_PREFIX.match(utt)
    if m:
        return float(m.group(1))
    return log_snrs.get(utt)


def _pairs_from_folders(
    clean_dir: Path, noisy_dir: Path, log_snrs: Mapping[str, float]
) -> list[Pair]:
    clean, noisy = audio_by_stem(clean_dir), audio_by_stem(noisy_dir)
    lonely = sorted(set(clean) ^ set(noisy))
    if lonely:
        log.warning(
            "%d file(s) without a partner skipped (in %s / %s): %s",
            len(lonely),
            clean_dir,
            noisy_dir,
            ", ".join(lonely[:5]) + (" ..." if len(lonely) > 5 else ""),
        )
    common = sorted(set(clean) & set(noisy))
    pairs = [Pair(u, clean[u], noisy[u], snr_of(u, log_snrs)) for u in common]
    if not pairs:
        raise EvaluateError(f"no clean/noisy pairs in {clean_dir} and {noisy_dir}")
    return pairs


def _log_snrs(folder: Path) -> dict[str, float]:
    path = folder / "log.csv"
    if not path.is_file():
        return {}
    try:
        return snr_from_log(path)
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        log.warning("%s: cannot read SNRs (%s)", path, exc)
        return {}


def testset_pairs(folder: str | os.PathLike[str]) -> tuple[str, list[Pair]]:
    """(layout, pairs) of a test-set folder in the VoiceBank-DEMAND or the flat layout."""
    layout, clean_dir, noisy_dir = detect_layout(folder)
    return layout, _pairs_from_folders(clean_dir, noisy_dir, _log_snrs(Path(folder)))


def manifest_pairs(cfg: Config) -> list[Pair]:
    """The test pairs of the run's dataset, from `dset.save_path/manifest.json`.

    prepare.py lists every utterance of a split under its shards (`utt`, `clean`, `noisy`,
    the files relative to the corpus root `corpus.root`).
    """
    from . import records

    try:
        man = records.load_manifest(cfg.dset.save_path)
    except records.RecordsError as exc:
        raise EvaluateError(
            f"{exc} (the default test set is the run's dataset; or pass --testset DIR)"
        ) from exc
    root = Path(str(man.get("corpus", {}).get("root") or man["dset"].get("wav") or cfg.dset.wav))
    split = man["splits"].get("test") or {}
    entries: dict[str, Mapping[str, Any]] = {}
    for shard in split.get("shards", []):
        for entry in shard.get("utterances", []):
            entries.setdefault(str(entry["utt"]), entry)
    if not entries:
        raise EvaluateError(
            f"{Path(cfg.dset.save_path) / records.MANIFEST}: the dataset has no test pairs; "
            "pass --testset DIR"
        )
    log_snrs = _log_snrs(root)
    pairs = []
    for utt, entry in sorted(entries.items()):
        clean, noisy = root / entry["clean"], root / entry["noisy"]
        for path in (clean, noisy):
            if not path.is_file():
                raise EvaluateError(
                    f"{path}: test file listed in {cfg.dset.save_path}/manifest.json is missing"
                )
        pairs.append(Pair(utt, clean, noisy, snr_of(utt, log_snrs)))
    return pairs


def length_mismatch(pair: Pair, rate: int) -> tuple[int, str]:
    """(samples at `rate` that scoring on the common length would cut, description) when the
    pair's clean and noisy files differ in length, else (0, ''). Equal rates: any sample
    counts; other rates: more than one sample of the lower rate (resampling rounds). A file
    whose header cannot be read gives (0, ''): reading it fails later, naming it."""
    try:
        c, n = audio.info(pair.clean), audio.info(pair.noisy)
    except audio.AudioError:
        return 0, ""
    if c.samplerate == n.samplerate:
        differ = c.frames != n.frames
    else:
        low = min(c.samplerate, n.samplerate)
        differ = abs(c.frames * low / c.samplerate - n.frames * low / n.samplerate) > 1
    if not differ:
        return 0, ""
    cut = abs(round(c.frames * rate / c.samplerate) - round(n.frames * rate / n.samplerate))
    what = (
        f"clean {pair.clean} has {c.frames} samples at {c.samplerate} Hz, noisy {pair.noisy} "
        f"{n.frames} at {n.samplerate} Hz"
    )
    return max(cut, 1), what
