"""bench/quality.py: the results table from quality.json files, reference and baseline rows,
and (slow) the whole path from a tiny corpus to quality.json."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from runs import load_bench

from lstm_se import evaluate, metrics

quality = load_bench("quality")


def _scores(base: float) -> dict[str, float]:
    return {k: round(base + i / 10, 3) for i, k in enumerate(metrics.SCORE_KEYS)}


def _quality(name: str, chime: Path, int8: bool = True) -> dict[str, Any]:
    def testset(label: str, path: str, offset: float) -> dict[str, Any]:
        entry = {"name": label, "path": path, "files": 36, "rate": 16000}
        entry["noisy"] = _scores(1.0)
        entry["float"] = _scores(1.5 + offset)
        if int8:
            entry["int8"] = _scores(1.4 + offset)
        return entry

    return {
        "name": name,
        "parameters": 362369,
        "int8_bytes": 405344,
        "macs_per_frame": 361088,
        "train_seconds": 420.0,
        "epochs": 15,
        "testsets": [
            testset(f"{name}_corpus test split", f"/corpora/{name}", 0.0),
            testset("chime2", str(chime), 0.1),
        ],
    }


def _write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_table_collects_every_quality_json(tmp_path, capsys):
    out = tmp_path / "quality"
    chime = tmp_path / "chime2"
    _write(out / "a" / "quality.json", _quality("a", chime))
    _write(out / "b" / "quality.json", _quality("b", chime, int8=False))
    paper = _write(tmp_path / "paper.json", {"name": "TinyLSTM (paper)", "pesq": 2.605})
    assert quality.main(["--table", str(out), "--baseline", f"chime2={paper}"]) == 0
    printed = capsys.readouterr().out
    assert (out / "quality.md").read_text() == printed
    lines = [line for line in printed.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| test set | name | model | params | int8 bytes | MACs/frame |")
    # the noisy input once per test set, the shared chime2 set once for both benchmarks
    noisy = [line for line in lines if "| noisy input |" in line]
    assert len(noisy) == 3 and sum("chime2 (36 files)" in line for line in noisy) == 1
    chime_rows = [line.split(" | ")[1:3] for line in lines if line.startswith("| chime2")]
    assert chime_rows == [
        ["noisy input", ""], ["a", "float"], ["a", "int8"], ["b", "float"],
        ["TinyLSTM (paper)", ""],
    ]  # fmt: skip
    a_int8 = next(line for line in lines if line.startswith("| a_corpus") and "| int8 |" in line)
    assert "| 362,369 | 405,344 | 361,088 | 7.0 | 1.400 | 1.500 | 1.600 | 1.70 |" in a_int8
    paper_row = next(line for line in lines if "| TinyLSTM (paper) |" in line)
    assert "| 2.605 |  |" in paper_row  # a baseline without the other metrics: empty cells
    # test sets in the order they first appear
    assert [line.split(" | ")[0][2:] for line in noisy] == [
        "a_corpus test split (36 files)",
        "chime2 (36 files)",
        "b_corpus test split (36 files)",
    ]


def test_table_without_quality_files_is_an_error(tmp_path):
    with pytest.raises(SystemExit, match=r"no quality\.json"):
        quality.main(["--table", str(tmp_path)])


def test_reference_and_metrics_json_baseline_rows(tmp_path, capsys):
    """A folder of enhanced wavs is scored against the clean files beside it, with evaluate's
    code; an evaluate metrics.json gives a row named after its run, and its noisy row."""
    rng = np.random.default_rng(0)
    chime = tmp_path / "chime2"
    t = np.arange(16000) / 16000
    for i, utt in enumerate(("snr0_a", "snr6_b")):
        clean = 0.3 * np.sin(2 * np.pi * (150 + 40 * i) * t) * (0.6 + 0.4 * np.sin(6 * t))
        noisy = clean + 0.05 * rng.standard_normal(len(t))
        for folder, x in (("clean", clean), ("noisy", noisy), ("ref", 0.5 * (clean + noisy))):
            (chime / folder).mkdir(parents=True, exist_ok=True)
            sf.write(chime / folder / f"{utt}.wav", x, 16000, subtype="FLOAT")
    out = tmp_path / "quality"
    _write(out / "a" / "quality.json", _quality("a", tmp_path / "elsewhere"))
    metrics_json = _write(
        tmp_path / "eval" / "metrics.json",
        {"run": "/r/vb_run", "model": "float", "files": 824,
         "noisy": {"pesq": {"mean": 1.97}}, "enhanced": {"pesq": {"mean": 2.5}}},
    )  # fmt: skip
    args = ["--table", str(out), "--workers", "0", "--reference", f"Ref={chime / 'ref'}"]
    assert quality.main([*args, "--baseline", f"voicebank={metrics_json}"]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = evaluate.score_folder(chime / "ref", chime, workers=0, progress=False)
    ref = next(line for line in lines if "| Ref | reference |" in line)
    assert ref.startswith("| chime2 (2 files) |")
    assert f"| {expected['enhanced']['pesq']['mean']:.3f} |" in ref
    assert f"| {expected['enhanced']['si_sdr']['mean']:.2f} |" in ref
    assert sum(line.startswith("| chime2 (2 files) | noisy input |") for line in lines) == 1
    vb = [line for line in lines if line.startswith("| voicebank (824 files)")]
    assert "| noisy input |" in vb[0] and "| 1.970 |" in vb[0]
    assert "| vb_run | float |" in vb[1] and "| 2.500 |" in vb[1]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["corpus_dir"], "'corpus_dir'"),
        (["model.units=32"], "'model.units=32'"),
        (["--testset", "flat"], "--testset"),
        (["--config", "conf/demo.yaml"], "--config"),
        (["--name", "x"], "--name"),
        (["--no-device"], "--no-device"),
    ],
)
def test_table_with_run_mode_arguments_is_an_error(tmp_path, capsys, extra, named):
    _write(tmp_path / "a" / "quality.json", _quality("a", tmp_path / "chime2"))
    with pytest.raises(SystemExit) as exc:
        quality.main(["--table", str(tmp_path), *extra])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--table" in err and named in err
    assert not (tmp_path / "quality.md").exists()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot be read"),
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "does not hold a JSON object"),
    ],
)
def test_bad_baseline_file_is_a_clear_error(tmp_path, content, problem):
    _write(tmp_path / "out" / "a" / "quality.json", _quality("a", tmp_path / "chime2"))
    baseline = tmp_path / "paper.json"
    if content is not None:
        baseline.write_text(content)
    args = ["--table", str(tmp_path / "out"), "--baseline", f"chime2={baseline}"]
    with pytest.raises(SystemExit, match=rf"^error: --baseline file '{baseline}' {problem}"):
        quality.main(args)


def test_demo_name_carries_the_overrides_hash(tmp_path, monkeypatch):
    """Without CORPUS_DIR or --name the benchmark is `demo`, or `demo-<hash>` with overrides:
    another model never lands in the demo's folder."""

    class Stop(Exception):
        pass

    names = []

    def bench_config(config_path, overrides, corpus, work):
        names.append(work.name)
        raise Stop

    monkeypatch.setattr(quality, "ensure_demo_corpus", lambda out, config_path: out / "corpus")
    monkeypatch.setattr(quality, "bench_config", bench_config)
    for overrides in ([], ["model.units=32"], ["model.units=64"]):
        with pytest.raises(Stop):
            quality.main(["--out", str(tmp_path), *overrides])
    demo_yaml = str(quality.ROOT / "conf" / "demo.yaml")
    assert names == [
        "demo",
        quality.default_name(demo_yaml, ["model.units=32"]),
        quality.default_name(demo_yaml, ["model.units=64"]),
    ]
    assert names[1].startswith("demo-") and names[1] != names[2]


class _Model:
    def count_params(self) -> int:
        return 123


def test_train_stage_always_asks_train_and_times_only_sessions_that_trained(tmp_path, monkeypatch):
    """train.run is called for a finished run too (it checks the config and does nothing); a
    session counts when the saved state's epoch advanced."""
    from lstm_se import run_state, train

    states: list[dict[str, Any] | None] = [None]
    calls = []

    def run(cfg, verbose=2):
        calls.append(cfg)
        if cfg == "train":
            states.append({"epoch": len(states)})

    monkeypatch.setattr(run_state, "read_state", lambda run_dir: states[-1])
    monkeypatch.setattr(train, "run", run)
    monkeypatch.setattr(train, "load_run", lambda run_dir: (None, _Model()))
    first = quality.train_stage("train", tmp_path)
    assert first["sessions"] == 1 and first["epochs"] == 1 and first["parameters"] == 123
    finished = quality.train_stage("finished", tmp_path)
    assert calls == ["train", "finished"]
    assert finished["sessions"] == 1 and finished["seconds"] == first["seconds"]
    assert json.loads((tmp_path / "train_time.json").read_text())["sessions"] == 1
    assert quality.train_stage("train", tmp_path)["sessions"] == 2

    def no_model(run_dir):
        raise FileNotFoundError(f"run {run_dir} has no model yet")

    monkeypatch.setattr(train, "load_run", no_model)
    with pytest.raises(SystemExit, match=r"^error: no trained model .* has no model yet"):
        quality.train_stage("finished", tmp_path)


def test_same_name_with_another_config_is_refused(tiny_corpus, tmp_path, caplog):
    """A finished run under the same --name but other overrides is not reused as if it were
    the new model: train refuses it, and no quality.json is written."""
    from runs import make_run

    from lstm_se import model, prepare

    out = tmp_path / "quality"
    cfg = quality.bench_config(str(quality.ROOT / "conf" / "config.yaml"), TINY, tiny_corpus,
                               out / "tiny")  # fmt: skip
    prepare.prepare(cfg)
    run = make_run(out / "tiny", cfg, model.build_model(cfg))
    _write(run / "backup" / "state.json", {"epoch": 2})  # finished: both epochs done
    args = [str(tiny_corpus), "--out", str(out), "--name", "tiny", "--workers", "0", *TINY]
    assert quality.main([*args, "model.units=8"]) == 1
    assert "different config" in caplog.text and "model.units" in caplog.text
    assert not (out / "tiny" / "quality.json").exists()


def test_positionals_split_into_corpus_and_overrides():
    assert quality.split_positionals(["a.b=1", "corpus", "c=2"]) == ("corpus", ["a.b=1", "c=2"])
    assert quality.split_positionals(["a.b=1"]) == (None, ["a.b=1"])
    with pytest.raises(SystemExit, match="one corpus folder"):
        quality.split_positionals(["one", "two"])
    assert quality.default_name("conf/config.yaml", []) == "config"
    assert quality.default_name("conf/config.yaml", ["a=1"]) != quality.default_name(
        "conf/config.yaml", ["a=2"]
    )


TINY = [
    "model.layers=1", "model.units=16", "dset.segment=0.5", "dset.split=0.75",
    "dset.shard_mb=0.5", "dset.workers=1", "batch_size=4", "steps=4", "epochs=2",
    "train.eval_every=0", "train.audio_every=0", "train.patience=0", "seed=7",
]  # fmt: skip


@pytest.mark.slow
def test_quality_bench_end_to_end(tiny_corpus, tmp_path, capsys):
    """Corpus -> records -> run -> export -> float and device-model scores on the corpus' test
    split and on a flat test set -> quality.json; a second call reuses every stage."""
    flat = tmp_path / "flat"
    for folder, src in (("clean", "clean_testset_wav"), ("noisy", "noisy_testset_wav")):
        shutil.copytree(tiny_corpus / src, flat / folder)
    out = tmp_path / "quality"
    args = [str(tiny_corpus), "--out", str(out), "--name", "tiny", "--testset", str(flat)]
    args += ["--workers", "0", *TINY]
    assert quality.main(args) == 0
    q = json.loads((out / "tiny" / "quality.json").read_text())
    assert q["name"] == "tiny" and q["overrides"] == TINY
    assert q["model"] == {"layers": 1, "units": 16}
    assert 20_000 < q["parameters"] < 25_000  # 1 x 16 LSTM with 257 bins in and out
    assert 10_000 < q["int8_bytes"] < q["float_tflite_bytes"]
    assert q["macs_per_frame"] > 16 * 257 and q["budget_pass"] is True
    assert q["int8_mask_snr_db"] > 20
    device = q["device_kind"]
    assert device in ("int8", "16x8") and q["device_bytes"] > 10_000
    export_report = json.loads((out / "tiny" / "run" / "export" / "export.json").read_text())
    assert device == export_report["device"]["kind"]
    assert q["epochs"] == 2 and q["train_sessions"] == 1 and 0 < q["train_seconds"] < 600
    assert [t["name"] for t in q["testsets"]] == ["vb test split", "flat"]
    for ts in q["testsets"]:
        assert ts["files"] == 6 and ts["rate"] == 16000
        for kind in ("noisy", "float", device):
            assert set(ts[kind]) == set(metrics.SCORE_KEYS)
            assert 1.0 <= ts[kind]["pesq"] <= 4.6 and 0 < ts[kind]["stoi"] <= 1
            assert ts["ci95"][kind].keys() == ts[kind].keys()
        assert ts[device]["pesq"] == pytest.approx(ts["float"]["pesq"], abs=0.2)
    device_metrics = out / "tiny" / "run" / "eval" / f"flat_{device}" / "metrics.json"
    assert json.loads(device_metrics.read_text())["model"] == device
    printed = capsys.readouterr().out
    assert f"| flat (6 files) | tiny | {device} |" in printed

    run = out / "tiny" / "run"
    outputs = [run / "export" / "export.json", *sorted(run.glob("eval/*/metrics.json"))]
    assert len(outputs) == 5  # export, float and device model on both test sets
    mtimes = [p.stat().st_mtime_ns for p in outputs]
    start = time.perf_counter()
    assert quality.main(args) == 0  # every stage reused
    assert time.perf_counter() - start < 60
    again = json.loads((out / "tiny" / "quality.json").read_text())
    assert again["train_seconds"] == q["train_seconds"] and again["train_sessions"] == 1
    assert again["testsets"] == q["testsets"]
    assert [p.stat().st_mtime_ns for p in outputs] == mtimes  # nothing exported or scored again
