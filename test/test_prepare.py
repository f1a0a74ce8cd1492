"""prepare.py: create_dataset end to end, doing nothing twice, resuming after SIGKILL, refusing
another config, split runs with merge, bad inputs through the whole stage, undoing the
normalization."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from conftest import TRAIN, make_corpus, write_pair

from lstm_se import audio, config, prepare, records
from lstm_se.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _create_dataset(*overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "create_dataset.py"), *overrides],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def _state(folder: Path) -> dict[str, int]:
    """Every file (hidden work files too) with its modification time."""
    return {
        str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()
    }


def test_create_dataset_writes_records_then_does_nothing(tiny_corpus: Path, tmp_path) -> None:
    out = tmp_path / "rec"
    args = (
        f"dset.wav={tiny_corpus}",
        f"dset.save_path={out}",
        "dset.segment=0.5",
        "dset.split=0.75",
        "dset.shard_mb=0.5",
        "seed=7",
    )
    run = _create_dataset(*args)
    assert run.returncode == 0, run.stderr
    man = records.load_manifest(out)
    shards = [s for split in man["splits"].values() for s in split["shards"]]
    assert len(shards) > 3 and all((out / s["file"]).is_file() for s in shards)
    assert records.verify(out) == sum(man["examples"].values())
    for split in records.SPLITS:
        s = man["splits"][split]
        assert s["examples"] == sum(u["segments"] for sh in s["shards"] for u in sh["utterances"])
    speakers = {k: set(v["speakers"]) for k, v in man["splits"].items()}
    assert speakers["train"] and speakers["valid"] and not speakers["train"] & speakers["valid"]
    assert speakers["test"] == {"p101", "p102"}
    assert (out / "validation.json").is_file() and (out / "files.json").is_file()
    assert "pairs kept" in run.stderr  # the console table

    before = _state(out)
    again = _create_dataset(*args)
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stderr
    assert _state(out) == before


def test_sigkill_then_rerun_gives_the_same_manifest(tmp_path: Path) -> None:
    # One utterance per shard and enough utterances that the run is still going when killed.
    root = make_corpus(
        tmp_path / "vb",
        train_speakers=[f"p{i:02d}" for i in range(8)],
        per_speaker=6,
        seconds=(0.8, 1.2),
        seed=3,
    )
    args = [
        f"dset.wav={root}",
        "dset.segment=0.5",
        "dset.shard_mb=0.01",
        "dset.workers=1",
        "seed=7",
    ]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "create_dataset.py"), *args, f"dset.save_path={killed}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    try:
        while not list((killed / ".work").glob("*.tfrecord.json")):
            assert proc.poll() is None, "prepare ended before writing a shard"
            assert time.monotonic() < deadline, "no shard after 60 s"
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / "manifest.json").exists(), "killed too late to test a resume"
    finished = len(list((killed / ".work").glob("*.tfrecord.json")))

    resumed = _create_dataset(*args, f"dset.save_path={killed}")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming: {finished} of" in resumed.stderr
    whole = tmp_path / "whole"
    prepare.prepare(config.from_dict({}, [*args, f"dset.save_path={whole}"]), progress=False)
    a = json.loads((killed / "manifest.json").read_text())
    b = json.loads((whole / "manifest.json").read_text())
    assert a == b
    assert not list(killed.glob(".*.tmp"))
    assert sorted(p.name for p in killed.glob("*.tfrecord")) == sorted(
        p.name for p in whole.glob("*.tfrecord")
    )


def test_other_config_refused_unless_forced(tiny_corpus: Path, tmp_path: Path, small_cfg) -> None:
    out = tmp_path / "rec"
    prepare.prepare(small_cfg(tiny_corpus, out), progress=False)
    other = small_cfg(tiny_corpus, out, "dset.segment=0.25")
    with pytest.raises(prepare.PrepareError, match=r"segment: 0\.5 -> 0\.25"):
        prepare.prepare(other, progress=False)
    # Where the data is and how many processes make it are not part of the config hash.
    assert prepare.data_hash(small_cfg(tiny_corpus, out, "dset.workers=3")) == prepare.data_hash(
        small_cfg(tiny_corpus, tmp_path / "elsewhere")
    )
    man = prepare.prepare(other, force=True, progress=False)
    assert man["segment_samples"] == 4000 and man["frames"] == 14
    assert records.load_manifest(out)["config_hash"] == prepare.data_hash(other)
    names = {s["file"] for sp in man["splits"].values() for s in sp["shards"]}
    assert {p.name for p in out.glob("*.tfrecord")} == names  # no shard of the old config left


def test_changed_corpus_refused(corpus_copy, tmp_path: Path, small_cfg) -> None:
    root = corpus_copy()
    cfg = small_cfg(root, tmp_path / "rec")
    prepare.prepare(cfg, progress=False)
    write_pair(root, "train", "p001_050", 1.0, np.random.default_rng(0))
    with pytest.raises(prepare.PrepareError, match="changed"):
        prepare.prepare(cfg, progress=False)
    man = prepare.prepare(cfg, force=True, progress=False)
    assert "p001_050" in man["norm"]["stats"]["train"] | man["norm"]["stats"]["valid"]


def test_parts_merge_to_the_single_run_manifest(tiny_corpus, tmp_path, small_cfg) -> None:
    single = prepare.prepare(
        small_cfg(tiny_corpus, tmp_path / "one"), workers=2, progress=False
    )  # also: a process pool gives the same records
    cfg = small_cfg(tiny_corpus, tmp_path / "parts")
    prepare.prepare(cfg, num_shards=2, shard_index=1, progress=False)
    with pytest.raises(prepare.PrepareError, match="parts 0 of 2 are not finished"):
        prepare.merge(cfg)
    part0 = prepare.prepare(cfg, num_shards=2, shard_index=0, progress=False)
    assert part0["results"] and not (tmp_path / "parts" / "manifest.json").exists()
    assert (
        main(
            [
                "prepare",
                f"dset.wav={tiny_corpus}",
                f"dset.save_path={tmp_path / 'parts'}",
                "dset.segment=0.5",
                "dset.split=0.75",
                "dset.shard_mb=0.5",
                "seed=7",
                "--merge",
            ]
        )
        == 0
    )
    assert records.load_manifest(tmp_path / "parts") == single


def test_bad_inputs_through_the_stage(corpus_copy, tmp_path: Path, small_cfg) -> None:
    root = corpus_copy()
    (root / TRAIN[1] / "p001_002.wav").write_bytes(b"RIFF0000WAVEjunk")  # corrupt
    x, rate = sf.read(root / TRAIN[1] / "p003_001.wav", dtype="float32")
    sf.write(root / TRAIN[1] / "p003_001.wav", np.stack([x, x], 1), rate)  # stereo
    for folder in TRAIN:  # 44.1 kHz clean and noisy
        z, _ = sf.read(root / folder / "p004_002.wav", dtype="float32")
        sf.write(root / folder / "p004_002.wav", audio.resample(z, 48000, 44100), 44100)
    write_pair(root, "train", "p002_007", 0.3, np.random.default_rng(1))  # too short: padded

    out = tmp_path / "rec"
    man = prepare.prepare(small_cfg(root, out, "dset.max_skipped=0.1"), progress=False)
    val = man["validation"]
    assert val["counts"]["unreadable"] == 1 and val["skipped"] == 1
    assert val["fixed"]["downmixed"] == 1 and val["fixed"]["padded"] == 1
    assert val["rates"]["44100"] == 2
    assert json.loads((out / "validation.json").read_text())["counts"] == val["counts"]
    kept = {
        u["utt"]: u
        for sp in man["splits"].values()
        for sh in sp["shards"]
        for u in sh["utterances"]
    }
    assert "p001_002" not in kept
    assert {"p003_001", "p004_002", "p002_007"} <= set(kept)
    assert kept["p002_007"]["segments"] == 1
    short = [
        e for e in records.read_examples(out, _split_of(man, "p002_007")) if e["utt"] == "p002_007"
    ]
    assert len(short) == 1 and short[0]["valid"] == round(0.3 * 16000)

    strict = tmp_path / "strict"
    with pytest.raises(prepare.PrepareError, match=r"1 of 19 pairs skipped"):
        prepare.prepare(small_cfg(root, strict, "dset.max_skipped=0.0"), progress=False)
    assert (strict / "validation.json").is_file()
    assert not (strict / "manifest.json").exists() and not list(strict.glob("*.tfrecord"))


def _split_of(man: dict, utt: str) -> str:
    return next(k for k, v in man["norm"]["stats"].items() if utt in v)


@pytest.mark.parametrize("per_segment", [False, True])
def test_normalization_uses_noisy_stats_and_can_be_undone(
    tiny_corpus: Path, tmp_path: Path, small_cfg, per_segment: bool
) -> None:
    cfg = small_cfg(
        tiny_corpus,
        tmp_path / "rec",
        "dset.fft=false",
        f"dset.segment_normalization={str(per_segment).lower()}",
    )
    man = prepare.prepare(cfg, progress=False)
    size = man["segment_samples"]
    for e in records.read_examples(tmp_path / "rec", "valid"):
        stats_entry = man["norm"]["stats"]["valid"][e["utt"]]
        mean, scale = (
            stats_entry["segments"][e["segment"]]
            if per_segment
            else (stats_entry["mean"], stats_entry["scale"])
        )
        assert e["norm"] == pytest.approx((mean, scale), rel=1e-6)
        info = next(
            u
            for sh in man["splits"]["valid"]["shards"]
            for u in sh["utterances"]
            if u["utt"] == e["utt"]
        )
        full, sig = {}, {}
        for side in ("noisy", "clean"):
            wav, rate = audio.read(tiny_corpus / info[side])
            full[side] = audio.resample(wav, rate, 16000)
            sig[side] = full[side][e["segment"] * size :][: e["valid"]]
        stats = audio.NormStats("z-score", mean, scale)
        for side in ("noisy", "clean"):
            np.testing.assert_allclose(
                audio.denormalize(e[side][: e["valid"]], stats), sig[side], atol=1e-5
            )
        # The statistics are the noisy signal's (segment or utterance), not the clean one's.
        ref = sig["noisy"] if per_segment else full["noisy"]
        assert np.isclose(ref.mean(), mean, atol=1e-6)
        assert np.isclose(ref.std(), scale, rtol=1e-4)
        ref_clean = sig["clean"] if per_segment else full["clean"]
        assert not np.isclose(ref_clean.std(), scale, rtol=1e-2)  # noise adds >= 4 % (10 dB)
        assert not np.any(e["noisy"][e["valid"] :])  # padding is zeros


def test_config_preprocess_yaml_loads() -> None:
    path = ROOT / "conf" / "config_preprocess.yaml"
    raw = yaml.safe_load(path.read_text())
    assert set(raw) == {"dset", "seed"}
    cfg = config.load(path)
    assert cfg.dset.sample_rate == 16000 and cfg.dset.center is False


def test_command_reports_errors_with_exit_code(tmp_path: Path) -> None:
    assert (
        main(["prepare", f"dset.wav={tmp_path / 'nowhere'}", f"dset.save_path={tmp_path / 'rec'}"])
        == 1
    )


def test_file_gone_after_validation_names_it(corpus_copy, tmp_path, small_cfg, monkeypatch):
    root = corpus_copy()
    victim = root / TRAIN[1] / "p002_002.wav"
    real_validate = prepare.corpus.validate

    def validate_then_delete(*args, **kwargs):
        report = real_validate(*args, **kwargs)
        victim.unlink()  # the corpus changes between validation and processing
        return report

    monkeypatch.setattr(prepare.corpus, "validate", validate_then_delete)
    out = tmp_path / "rec"
    with pytest.raises(prepare.PrepareError, match=r"p002_002\.wav"):
        prepare.prepare(small_cfg(root, out), progress=False)
    assert not (out / "manifest.json").exists()
    assert not list(out.glob(".*.tmp"))  # the failed shard left no temporary file


def test_non_finite_samples_after_resampling_name_the_utterance(corpus_copy, tmp_path, small_cfg):
    root = corpus_copy()
    path = root / TRAIN[1] / "p002_001.wav"
    x, rate = sf.read(path, dtype="float32")
    sf.write(path, x * 1e37, rate, subtype="FLOAT")  # finite, NaN after resampling to 16 kHz
    out = tmp_path / "rec"
    with pytest.raises(prepare.PrepareError, match=r"^p002_001 \(.*NaN/Inf"):
        prepare.prepare(small_cfg(root, out), progress=False)
    assert not (out / "manifest.json").exists()


def test_verify_finds_a_flipped_bit_and_rebuilds_only_that_shard(
    tiny_corpus, tmp_path, small_cfg, caplog
):
    out = tmp_path / "rec"
    cfg = small_cfg(tiny_corpus, out)
    prepare.prepare(cfg, progress=False)
    man = records.load_manifest(out)
    shards = [s["file"] for sp in man["splits"].values() for s in sp["shards"]]
    victim = out / man["splits"]["train"]["shards"][0]["file"]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x10
    victim.write_bytes(bytes(data))
    mtimes = {name: (out / name).stat().st_mtime_ns for name in shards}
    # same size: the plain check calls it up to date; training would stop at it
    assert prepare.prepare(cfg, progress=False) == man
    with pytest.raises(records.RecordsError) as err:
        records.verify(out)
    assert str(victim) in str(err.value) and "prepare --verify" in str(err.value)
    assert "--force" in str(err.value)
    caplog.set_level("INFO")
    prepare.prepare(cfg, progress=False, verify=True)
    assert records.load_manifest(out) == man
    assert f"{victim}: CRC-32 differs" in caplog.text
    assert records.verify(out) == sum(man["examples"].values())
    rebuilt = {n for n in shards if (out / n).stat().st_mtime_ns != mtimes[n]}
    assert rebuilt == {victim.name}
    caplog.clear()
    prepare.prepare(cfg, progress=False, verify=True)
    assert "CRC-32 of every shard verified" in caplog.text
