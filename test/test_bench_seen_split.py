"""bench/seen_split.py: the training pairs at the chosen SNRs, linked as a flat test set that
`lstm-se evaluate --testset` reads with their SNRs."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile as sf
from runs import load_bench

from lstm_se import testsets
from lstm_se.mix import TRAIN_CLEAN, TRAIN_NOISY

seen_split = load_bench("seen_split")


def _corpus(root):
    rows = [("train", "a_001", 0.0), ("train", "b_001", 5.0), ("train", "c_001", 10.0),
            ("test", "d_001", 0.0)]  # fmt: skip
    for folder in (TRAIN_CLEAN, TRAIN_NOISY, "clean_testset_wav", "noisy_testset_wav"):
        (root / folder).mkdir(parents=True)
    for split, utt, _ in rows:
        folders = (
            (TRAIN_CLEAN, TRAIN_NOISY)
            if split == "train"
            else ("clean_testset_wav", "noisy_testset_wav")
        )
        for folder in folders:
            sf.write(root / folder / f"{utt}.wav", np.zeros(1600, np.float32), 16000)
    with (root / "log.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["set", "utterance", "snr_db"])
        writer.writerows(rows)
    return root


def test_training_pairs_at_the_chosen_snrs_become_a_flat_test_set(tmp_path, capsys):
    corpus = _corpus(tmp_path / "mix")
    out = tmp_path / "seen"
    assert seen_split.main([str(corpus), "--out", str(out)]) == 0
    assert "2 training pairs" in capsys.readouterr().out
    layout, pairs = testsets.testset_pairs(out)
    assert layout == "flat"
    assert {(p.utt, p.snr) for p in pairs} == {("snr0_a_001", 0.0), ("snr5_b_001", 5.0)}
    assert (out / "noisy" / "snr0_a_001.wav").resolve() == (corpus / TRAIN_NOISY / "a_001.wav")
    with pytest.raises(SystemExit, match="not empty"):
        seen_split.main([str(corpus), "--out", str(out)])
    with pytest.raises(SystemExit, match="no training pair"):
        seen_split.main([str(corpus), "--out", str(tmp_path / "none"), "--snr", "-5"])
    assert not (tmp_path / "none").exists()
