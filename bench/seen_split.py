"""A test set of the training mixtures: how the model scores on speakers and noise it has met.

    python bench/seen_split.py CORPUS --out DIR [--snr 0 5]
    lstm-se evaluate --run RUN --testset DIR

CORPUS is a corpus made by `lstm-se mix` (its `log.csv` gives each training pair's SNR). DIR
gets the flat layout `lstm-se evaluate --testset` reads, `clean/` + `noisy/`, holding links to
the training pairs whose SNR is one of `--snr` (default: the mixed test split's 0 and 5 dB),
named `snr<dB>_<utt>.wav` so the evaluation reports them by SNR. Scored beside the test split
at the same SNRs, the difference is what the model loses on unseen speakers and noise files: a
generalization gap, which more data closes, where a gap on both says the model or the recipe
falls short. (With dynamic mixing the training mixtures themselves were never seen as such:
every epoch remixed their sources.)
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

from lstm_se.mix import TRAIN_CLEAN, TRAIN_NOISY


def link_training_pairs(corpus: Path, out: Path, snrs: list[float]) -> int:
    """Link the training pairs at `snrs` into `out/{clean,noisy}`; returns how many. Every
    source is checked before the first link, so a bad corpus leaves no folder behind."""
    log_path = corpus / "log.csv"
    if not log_path.is_file():
        raise SystemExit(f"error: {log_path} not found: CORPUS must be made by `lstm-se mix`")
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"error: {out} exists and is not empty")
    links = []
    with log_path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["set"] != "train" or float(row["snr_db"]) not in snrs:
                continue
            name = f"snr{float(row['snr_db']):g}_{row['utterance']}.wav"
            for kind, folder in (("clean", TRAIN_CLEAN), ("noisy", TRAIN_NOISY)):
                source = (corpus / folder / f"{row['utterance']}.wav").resolve()
                if not source.is_file():
                    raise SystemExit(f"error: {source} is listed in {log_path} but missing")
                links.append((source, out / kind / name))
    if not links:
        raise SystemExit(f"error: no training pair of {corpus} has an SNR in {snrs}")
    for kind in ("clean", "noisy"):
        (out / kind).mkdir(parents=True, exist_ok=True)
    for source, link in links:
        os.symlink(source, link)
    return len(links) // 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="a corpus made by `lstm-se mix`")
    parser.add_argument("--out", type=Path, required=True, help="the test-set folder to make")
    parser.add_argument("--snr", type=float, nargs="+", default=[0.0, 5.0])
    args = parser.parse_args(argv)
    count = link_training_pairs(args.corpus, args.out, args.snr)
    print(f"{count} training pairs linked into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
