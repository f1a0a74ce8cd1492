"""Evaluation: test-set layouts, SNR sources, scores and tables, silent references, the CLI,
the int8 model's evaluation and the scoring of already enhanced files."""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from runs import make_run
from test_enhance import ones_model, random_model, tiny_model_cfg
from test_metrics import _hash_uniform, fixed_signals

from lstm_se import eval_report, evaluate, metrics, testsets
from lstm_se.cli import main

RATE = 16000


def _write_pairs(clean_dir: Path, noisy_dir: Path, names: dict[str, float | None]) -> None:
    """One pair per name: gain None makes a silent clean reference."""
    clean_dir.mkdir(parents=True)
    noisy_dir.mkdir(parents=True)
    clean, _, _ = fixed_signals(seconds=1.5)
    for i, (name, noise_gain) in enumerate(names.items()):
        noise = _hash_uniform(len(clean), 100 + i) - 0.5
        ref = np.zeros_like(clean) if noise_gain is None else clean
        noisy = clean + (0.1 if noise_gain is None else noise_gain) * noise
        sf.write(clean_dir / f"{name}.wav", ref, RATE, subtype="FLOAT")
        sf.write(noisy_dir / f"{name}.wav", noisy, RATE, subtype="FLOAT")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    cfg = tiny_model_cfg()
    return {
        "ones": make_run(root, cfg, ones_model(cfg), "ones"),
        "random": make_run(root, cfg, random_model(cfg), "random"),
    }


@pytest.fixture
def flat_set(tmp_path) -> Path:
    root = tmp_path / "chime_like"
    _write_pairs(
        root / "clean",
        root / "noisy",
        {"snr0_a": 0.5, "snr0_silent": None, "snr6_b": 0.2, "snr6_c": 0.15},
    )
    (root / "noisy" / "snr6_lonely.wav").write_bytes((root / "noisy" / "snr6_b.wav").read_bytes())
    return root


def test_layouts_and_snr_sources(flat_set, tmp_path):
    layout, pairs = testsets.testset_pairs(flat_set)
    assert layout == "flat"
    assert [(p.utt, p.snr) for p in pairs] == [
        ("snr0_a", 0.0), ("snr0_silent", 0.0), ("snr6_b", 6.0), ("snr6_c", 6.0)
    ]  # fmt: skip
    vb = tmp_path / "vb"
    _write_pairs(vb / "clean_testset_wav", vb / "noisy_testset_wav", {"p1_001": 0.3, "p1_002": 0.1})
    (vb / "log.csv").write_text(
        "set,utterance,snr_db\ntrain,p1_001,99\ntest,p1_001,2.5\ntest,p1_002,17.5\n"
    )
    layout, pairs = testsets.testset_pairs(vb)
    assert layout == "voicebank"
    assert [(p.utt, p.snr) for p in pairs] == [("p1_001", 2.5), ("p1_002", 17.5)]
    with pytest.raises(evaluate.EvaluateError, match="neither layout"):
        testsets.testset_pairs(tmp_path)


def test_evaluate_identity_run(runs, flat_set, tmp_path, caplog):
    out = tmp_path / "eval"
    result = evaluate.evaluate_run(runs["ones"], flat_set, out, workers=0, examples=2)
    # the metric warnings are logged with the file they belong to
    assert "snr0_silent: PESQ: the reference is silent" in caplog.text
    assert result["files"] == 4 and result["failed"] == []
    # A mask of ones gives back the input: enhanced scores equal the noisy ones.
    for key in metrics.SCORE_KEYS:
        noisy, enh = result["noisy"][key], result["enhanced"][key]
        assert enh["mean"] == pytest.approx(noisy["mean"], abs=0.02), key
    # The silent reference is NaN for PESQ and left out of the mean.
    assert result["enhanced"]["pesq"]["n"] == 3
    rows = list(csv.DictReader((out / "scores.csv").open()))
    silent = next(r for r in rows if r["utt"] == "snr0_silent")
    assert silent["enhanced_pesq"] == "nan"
    pesq_ok = [float(r["enhanced_pesq"]) for r in rows if r["utt"] != "snr0_silent"]
    assert result["enhanced"]["pesq"]["mean"] == pytest.approx(np.mean(pesq_ok), abs=1e-4)
    # Lower input SNR scores lower.
    assert result["by_snr"]["0"]["noisy"]["si_sdr"] < result["by_snr"]["6"]["noisy"]["si_sdr"]
    assert result["by_snr"]["6"]["files"] == 2
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["layout"] == "flat" and saved["files"] == 4
    assert saved["enhanced"]["stoi"]["n"] == 3
    table = (out / "metrics.md").read_text()
    assert "| PESQ-WB |" in table and "By input SNR" in table and "| 6 | 2 |" in table
    assert len(list((out / "plots").glob("*.png"))) == 2
    assert len(list((out / "wav").glob("*.wav"))) == 2


def test_parallel_scoring_matches_serial_and_a_mask_changes_scores(runs, flat_set, tmp_path):
    serial = evaluate.evaluate_run(runs["random"], flat_set, tmp_path / "s", workers=0, examples=0)
    parallel = evaluate.evaluate_run(
        runs["random"], flat_set, tmp_path / "p", workers=2, examples=0
    )
    assert (tmp_path / "s" / "scores.csv").read_text() == (
        tmp_path / "p" / "scores.csv"
    ).read_text()
    assert serial["enhanced"]["si_sdr"]["mean"] == parallel["enhanced"]["si_sdr"]["mean"]
    # a random mask is not an identity
    change = [
        abs(serial["enhanced"][k]["mean"] - serial["noisy"][k]["mean"]) for k in metrics.SCORE_KEYS
    ]
    assert max(change) > 0.2


def test_cli_prints_table_and_writes_into_the_run(runs, flat_set, capsys):
    assert main(["evaluate", "--run", str(runs["ones"]), "--testset", str(flat_set)]) == 0
    printed = capsys.readouterr().out
    assert "| metric | noisy | enhanced | change | n |" in printed
    out = runs["ones"] / "eval" / "chime_like"
    assert (out / "metrics.json").is_file() and (out / "scores.csv").is_file()


def test_cli_errors(runs, tmp_path, capfd, monkeypatch):
    # The run's config names a relative records folder: resolve it away from the repository,
    # where the demo may have written one.
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--run", str(runs["ones"]), "--testset", str(tmp_path)]) == 2
    assert "neither layout" in capfd.readouterr().err
    # default test set: the run's dataset manifest, which this run's config points nowhere near
    assert main(["evaluate", "--run", str(runs["ones"])]) == 2
    assert "manifest" in capfd.readouterr().err


def test_summary_interval():
    rows = [
        {"snr": None, **{f"{p}_{k}": v for p in ("noisy", "enhanced") for k in metrics.SCORE_KEYS}}
        for v in (1.0, 2.0, 3.0, math.nan)
    ]
    s = eval_report.summarize(rows)["enhanced"]["pesq"]
    # n 3 is below the stated minimum: a mean, no interval
    assert s["n"] == 3 and s["mean"] == pytest.approx(2.0) and math.isnan(s["ci95"])
    rows = [
        {"snr": None, **{f"{p}_{k}": v for p in ("noisy", "enhanced") for k in metrics.SCORE_KEYS}}
        for v in [*np.arange(1.0, 11.0), math.nan]
    ]
    s = eval_report.summarize(rows)["enhanced"]["pesq"]
    # mean 5.5, sd 3.0277, n 10: t(0.975, 9) = 2.262157
    assert eval_report.MIN_INTERVAL_N == 10 and s["n"] == 10 and s["mean"] == pytest.approx(5.5)
    assert s["ci95"] == pytest.approx(
        2.262157 * np.std(np.arange(1.0, 11.0), ddof=1) / math.sqrt(10)
    )


def test_intervals_are_shown_only_from_the_minimum_n(runs, flat_set, tmp_path):
    result = evaluate.evaluate_run(runs["ones"], flat_set, tmp_path / "e", workers=0, examples=0)
    assert result["enhanced"]["stoi"]["n"] == 3 and math.isnan(result["enhanced"]["stoi"]["ci95"])
    table = result["table"]
    assert "shown from n >= 10" in table and "±" not in table.split("\n", 3)[3]


def test_default_testset_is_the_runs_dataset(tiny_corpus, small_cfg, tmp_path):
    from lstm_se import prepare, records

    cfg = small_cfg(tiny_corpus, tmp_path / "records", "model.layers=1", "model.units=8")
    prepare.prepare(cfg, progress=False)
    run = make_run(tmp_path, cfg, ones_model(cfg))
    pairs = testsets.manifest_pairs(cfg)
    man = records.load_manifest(tmp_path / "records")
    assert len(pairs) == man["splits"]["test"]["utterances"] > 0
    assert all(p.clean.parent.name == "clean_testset_wav" for p in pairs)
    result = evaluate.evaluate_run(run, workers=0, examples=1)
    assert result["layout"] == "manifest" and result["files"] == len(pairs)
    assert (run / "eval" / "test" / "metrics.json").is_file()
    assert result["enhanced"]["pesq"]["mean"] == pytest.approx(
        result["noisy"]["pesq"]["mean"], abs=0.02
    )


@pytest.fixture(scope="module")
def exported_run(tiny_corpus, tmp_path_factory) -> Path:
    """A 1 x 16 run trained briefly on the tiny corpus and exported (without the TFLite Micro
    checks, which this module does not need)."""
    from runs import tiny_trained_run

    from lstm_se import export

    root = tmp_path_factory.mktemp("int8")
    run = tiny_trained_run(tiny_corpus, root, ["model.layers=1", "model.units=16"], steps=30)
    export.export_run(run, segments=8, check=False)
    return run


def test_int8_evaluation_sits_beside_the_float_one(exported_run, capsys):
    flt = evaluate.evaluate_run(exported_run, workers=0, examples=0, progress=False)
    assert main(["evaluate", "--run", str(exported_run), "--tflite"]) == 0
    assert "(int8 model)" in capsys.readouterr().out
    float_dir, int8_dir = evaluate.eval_dir(exported_run, "test"), exported_run / "eval/test_int8"
    assert evaluate.eval_dir(exported_run, "test", "int8") == int8_dir
    assert json.loads((float_dir / "metrics.json").read_text())["model"] == "float"
    int8 = json.loads((int8_dir / "metrics.json").read_text())
    assert int8["model"] == "int8" and int8["files"] == flt["files"] > 0
    assert (int8_dir / "scores.csv").is_file() and list((int8_dir / "wav").glob("*.wav"))
    for key in metrics.SCORE_KEYS:  # the same inputs
        assert int8["noisy"][key]["mean"] == pytest.approx(flt["noisy"][key]["mean"], abs=1e-9)
    # Quantized, frame by frame: close to the float model, but not the same numbers.
    assert int8["enhanced"]["pesq"]["mean"] == pytest.approx(
        flt["enhanced"]["pesq"]["mean"], abs=0.2
    )
    assert int8["enhanced"]["stoi"]["mean"] == pytest.approx(
        flt["enhanced"]["stoi"]["mean"], abs=0.03
    )
    assert any(
        int8["enhanced"][k]["mean"] != flt["enhanced"][k]["mean"] for k in metrics.SCORE_KEYS
    )


def test_device_evaluation_without_an_export_names_the_file(runs, flat_set, capfd):
    from lstm_se import tflite_masker

    with pytest.raises(evaluate.EvaluateError, match=r"model_int8\.tflite does not exist"):
        evaluate.evaluate_run(runs["ones"], flat_set, masker_factory=tflite_masker.int8_masker)
    assert (
        main(["evaluate", "--run", str(runs["ones"]), "--testset", str(flat_set), "--tflite"]) == 2
    )
    err = capfd.readouterr().err
    assert "model_device.tflite" in err and f"lstm-se export --run {runs['ones']}" in err
    assert not list((runs["ones"] / "eval").glob("chime_like_*"))


def test_a_masker_is_scored_under_the_model_it_runs(runs, flat_set):
    """The results folder comes from the masker's own kind: one that runs a float model, or
    does not say, is refused before anything is written."""

    class Masker:
        def __init__(self, kind: str | None) -> None:
            if kind is not None:
                self.kind = kind

        def reset(self) -> None: ...

        def __call__(self, frame):
            return frame * 0 + 1

    eval_root = runs["ones"] / "eval"
    before = sorted(eval_root.rglob("*")) if eval_root.exists() else []
    for kind in ("float", None):
        with pytest.raises(evaluate.EvaluateError, match=f"runs a '{kind}' model"):
            evaluate.evaluate_run(
                runs["ones"], flat_set, masker_factory=lambda r, c, k=kind: Masker(k)
            )
    after = sorted(eval_root.rglob("*")) if eval_root.exists() else []
    assert after == before


def test_score_folder_scores_enhanced_files_like_evaluate(runs, flat_set, tmp_path):
    """Enhanced wavs written by one evaluation and scored from their files give its scores."""
    evaluate.evaluate_run(runs["random"], flat_set, tmp_path / "e", workers=0, examples=4)
    enhanced = tmp_path / "e" / "wav"
    (enhanced / "snr6_c.wav").unlink()  # a missing file is left out, and listed
    scored = evaluate.score_folder(enhanced, flat_set, workers=0, progress=False)
    assert scored["files"] == 3 and scored["missing"] == ["snr6_c"]
    rows = {r["utt"]: r for r in csv.DictReader((tmp_path / "e" / "scores.csv").open())}
    # 16-bit wavs: scores within rounding of the float arrays'
    expected = np.nanmean(
        [float(rows[u]["enhanced_si_sdr"]) for u in ("snr0_a", "snr0_silent", "snr6_b")]
    )
    assert scored["enhanced"]["si_sdr"]["mean"] == pytest.approx(expected, abs=0.05)
    assert scored["noisy"]["pesq"]["n"] == 2  # the silent reference has no PESQ
    with pytest.raises(evaluate.EvaluateError, match="does not exist"):
        evaluate.score_folder(tmp_path / "nowhere", flat_set)


def test_pairs_of_different_lengths_are_skipped_or_counted(runs, flat_set, tmp_path, capfd):
    clean, _ = sf.read(flat_set / "clean" / "snr6_b.wav")
    sf.write(flat_set / "clean" / "snr6_b.wav", clean[:-800], RATE, subtype="FLOAT")
    result = evaluate.evaluate_run(runs["ones"], flat_set, tmp_path / "s", workers=0, examples=0)
    assert result["files"] == 3 and result["pairs"] == 4
    assert [(f["utt"], f["reason"]) for f in result["failed"]] == [("snr6_b", "length_mismatch")]
    assert "Skipped: 1 of 4 pairs (1 length mismatch), not in the means: snr6_b" in result["table"]
    # allowed: scored on the common length, and the cut is said
    result = evaluate.evaluate_run(
        runs["ones"], flat_set, tmp_path / "a", workers=0, examples=0, allow_length_mismatch=True
    )
    assert result["files"] == 4 and result["failed"] == []
    assert result["length_mismatch"]["samples_cut"] == 800
    assert "1 pair(s) scored on their common length, 800 samples (0.05 s) cut" in result["table"]
    # the command: non-zero above --max-skipped (default 0: any pair), and the flag
    base = ["evaluate", "--run", str(runs["ones"]), "--testset", str(flat_set)]
    assert main(base) == 1
    assert "1 of 4 pair(s) skipped" in capfd.readouterr().err

    def command(**flags) -> int:
        args = argparse.Namespace(run=runs["ones"], testset=flat_set, tflite=False, **flags)
        return evaluate.command(args)

    assert command(max_skipped=0.3) == 0
    assert command(allow_length_mismatch=True) == 0
    # pairs at other rates: a sample of rounding is no mismatch
    pair = testsets.Pair("x", tmp_path / "c.wav", tmp_path / "n.wav")
    sf.write(pair.clean, np.zeros(48001), 48000)
    sf.write(pair.noisy, np.zeros(16000), 16000)
    assert testsets.length_mismatch(pair, RATE) == (0, "")
    sf.write(pair.noisy, np.zeros(16002), 16000)
    assert testsets.length_mismatch(pair, RATE)[0] == 2
