"""bench/search.py: the ROWS file, the run order (rows x seeds, scored runs skipped), and the
table's means over seeds from run folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runs import load_bench

search = load_bench("search")


def _rows(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rows.txt"
    path.write_text(text)
    return path


def test_rows_file_names_and_overrides(tmp_path):
    path = _rows(tmp_path, "# the loss\nbase\n\npsa model.loss=psa  seed=3\n")
    assert search.read_rows(path) == [("base", []), ("psa", ["model.loss=psa", "seed=3"])]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a model.loss=psa\na epochs=2\n", "used twice"),
        ("a model.loss\n", "key=value"),
        ("model.loss=psa\n", "plain name"),
        ("# nothing\n", "no rows"),
    ],
)
def test_bad_rows_file_is_refused_with_its_line(tmp_path, text, problem):
    with pytest.raises(SystemExit, match=problem):
        search.read_rows(_rows(tmp_path, text))


def _fake_run(run_dir: Path, seconds: float, scores: dict[str, dict[str, float]]) -> None:
    run_dir.mkdir(parents=True)
    summary = {"train_seconds": seconds, "optimizer_steps": 3000, "update_ratio": {"median": 0.4}}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    for testset, enhanced in scores.items():
        suffix = testset.rsplit("_", 1)[-1]
        model = suffix if suffix in ("int8", "16x8") else "float"
        metrics = {
            "model": model,
            "pairs": 36,
            "enhanced": {k: {"mean": v} for k, v in enhanced.items()},
            "noisy": {k: {"mean": 1.0} for k in enhanced},
        }
        (run_dir / "eval" / testset).mkdir(parents=True)
        (run_dir / "eval" / testset / "metrics.json").write_text(json.dumps(metrics))


def test_table_means_over_seeds_and_ignores_device_scores(tmp_path, capsys):
    out = tmp_path / "search"
    _fake_run(out / "psa_s1", 600, {"test": {"pesq": 1.5, "stoi": 0.8, "si_sdr": 9.0}})
    _fake_run(
        out / "psa_s2",
        660,
        {
            "test": {"pesq": 1.7, "stoi": 0.9, "si_sdr": 11.0},
            "test_int8": {"pesq": 0.1, "stoi": 0.1, "si_sdr": 0.1},
        },
    )
    (out / "untrained_s1").mkdir()  # no summary: not a row yet
    assert search.main(["table", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| psa | 2 | 1.600 | 0.850 | 10.00 | 1.500, 1.700 | 10.0, 11.0 |" in printed
    assert "untrained" not in printed
    saved = json.loads((out / "search.json").read_text())
    assert set(saved) == {"psa"}
    assert set(saved["psa"]["mean"]) == {"test"}
    assert saved["psa"]["mean"]["test"]["pesq"] == pytest.approx(1.6)


def test_run_trains_and_scores_each_row_and_seed_once(tmp_path, monkeypatch):
    calls: list[list[str]] = []

    def fake_subprocess_run(cmd, **kwargs):
        calls.append(cmd[3:])  # after python -m lstm_se.cli
        if cmd[3] == "train":
            name = next(a for a in cmd if a.startswith("train.name=")).split("=", 1)[1]
            (tmp_path / "out" / name).mkdir(parents=True, exist_ok=True)

    monkeypatch.setattr(search.subprocess, "run", fake_subprocess_run)
    rows = _rows(tmp_path, "base\nfloor model.mask_floor=0.1\n")
    argv = ["run", str(rows), "epochs=6", "--out", str(tmp_path / "out"), "--seeds", "1", "2"]
    assert search.main([*argv, "--testset", "/sets/chime2"]) == 0
    trained = [c for c in calls if c[0] == "train"]
    assert [next(a for a in c if a.startswith("train.name=")) for c in trained] == [
        "train.name=base_s1", "train.name=base_s2", "train.name=floor_s1", "train.name=floor_s2",
    ]  # fmt: skip
    assert all("epochs=6" in c for c in trained)
    assert "model.mask_floor=0.1" in trained[2] and "seed=1" in trained[2]
    assert sum(c[0] == "evaluate" for c in calls) == 8  # split + test set, 4 runs
    calls.clear()
    assert search.main(argv) == 0
    assert calls == []  # every run scored already


def test_table_shows_the_chosen_device_model_only(tmp_path, capsys):
    out = tmp_path / "search"
    scores = {
        "test": {"pesq": 1.6, "stoi": 0.8, "si_sdr": 9.0},
        "test_int8": {"pesq": 1.5, "stoi": 0.8, "si_sdr": 8.0},
        "test_16x8": {"pesq": 1.59, "stoi": 0.8, "si_sdr": 8.9},
    }
    _fake_run(out / "base_s1", 600, scores)
    (out / "base_s1" / "export").mkdir()
    export = {"device": {"kind": "16x8"}}
    (out / "base_s1" / "export" / "export.json").write_text(json.dumps(export))
    assert search.main(["table", str(out)]) == 0
    assert "| 10.0 | 16x8 (1 seed) | 1.590 | 8.90 |" in capsys.readouterr().out


def test_device_exports_and_scores_each_scored_run_once(tmp_path, monkeypatch):
    calls: list[list[str]] = []
    monkeypatch.setattr(search.subprocess, "run", lambda cmd, **kw: calls.append(cmd[3:]))
    out = tmp_path / "out"
    for name in ("a_s1", "b_s1"):
        (out / name).mkdir(parents=True)
        (out / name / search.DONE).write_text("{}")
    (out / "untrained_s1").mkdir()
    argv = ["device", str(out), "--max-clips", "5", "--testset", "/sets/chime2"]
    assert search.main(argv) == 0
    assert calls[:3] == [
        ["export", "--run", str(out / "a_s1"), "--max-clips", "5"],
        ["evaluate", "--run", str(out / "a_s1"), "--tflite"],
        ["evaluate", "--run", str(out / "a_s1"), "--tflite", "--testset", "/sets/chime2"],
    ]
    assert len(calls) == 6 and not any(str(out / "untrained_s1") in c for c in calls)
    calls.clear()
    assert search.main(argv) == 0
    assert calls == []
    (out / "a_s2").mkdir()
    (out / "a_s2" / search.DONE).write_text("{}")
    assert search.main([*argv, "--seeds", "1"]) == 0
    assert calls == []  # a_s2 is not of seed 1
