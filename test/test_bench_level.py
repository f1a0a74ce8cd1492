"""bench/level.py: the level sweep on a tiny run and test set (every level scored, JSON and
table written)."""

from __future__ import annotations

import json
import math

from runs import load_bench, make_run

from lstm_se import config

level = load_bench("level")


def test_level_sweep_scores_every_level_of_every_file(tiny_corpus, tmp_path, capsys):
    import keras

    from lstm_se import model as model_mod

    cfg = config.from_dict({}, ["model.layers=1", "model.units=8", "dset.sample_rate=16000"])
    keras.utils.set_random_seed(0)
    run = make_run(tmp_path, cfg, model_mod.build_model(cfg))
    out = tmp_path / "level.json"
    argv = ["--run", str(run), "--testset", str(tiny_corpus), "--levels", "-35", "-15"]
    assert level.main([*argv, "--max-files", "2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    ((name, ts),) = result["testsets"].items()
    assert name == tiny_corpus.name and ts["files"] == 2
    assert set(ts["means"]) == {"-35.0", "-15.0"}
    for means in ts["means"].values():
        assert all(math.isfinite(v) for v in means.values())
        assert 1.0 <= means["pesq"] <= 4.6
    assert all(v >= 0 for v in ts["spread"].values())
    assert f"| {name} spread |" in capsys.readouterr().out
