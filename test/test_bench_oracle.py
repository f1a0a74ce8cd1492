"""bench/oracle.py: the oracle masks are what they claim (identity on clean input, the best
real gain in squared error, inside the mask range) and the bench scores a tiny test set."""

from __future__ import annotations

import json
import math

import numpy as np
from runs import load_bench, make_run

from lstm_se import config, features

oracle = load_bench("oracle")


def _pair(seed: int = 0, n: int = 16000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    clean = 0.2 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    return clean, clean + 0.05 * rng.standard_normal(n)


def test_oracles_pass_clean_input_through():
    clean, _ = _pair()
    for y in oracle.apply_oracles(clean, clean, 512, 256, 512, 0.0).values():
        assert len(y) == len(clean)
        assert np.max(np.abs(y - clean)) < 1e-5


def test_psm_is_the_best_clipped_real_gain_and_masks_stay_in_range():
    clean, noisy = _pair()
    s, x = features.stft(clean, 512, 256), features.stft(noisy, 512, 256)
    masks = oracle.oracle_masks(s, x, 0.1)
    for m in masks.values():
        assert m.min() >= 0.1 - 1e-7 and m.max() <= 1.0 + 1e-7
    err = {name: float(np.sum(np.abs(m * x - s) ** 2)) for name, m in masks.items()}
    assert err["psm"] < err["irm"]
    rng = np.random.default_rng(1)
    jittered = np.clip(masks["psm"] + 0.05 * rng.standard_normal(x.shape), 0.1, 1.0)
    assert err["psm"] < float(np.sum(np.abs(jittered * x - s) ** 2))


def test_oracle_bench_scores_a_test_set(tiny_corpus, tmp_path, capsys):
    import keras

    from lstm_se import model as model_mod

    cfg = config.from_dict({}, ["model.layers=1", "model.units=8", "dset.sample_rate=16000"])
    keras.utils.set_random_seed(0)
    run = make_run(tmp_path, cfg, model_mod.build_model(cfg))
    out = tmp_path / "oracle.json"
    argv = ["--run", str(run), "--testset", str(tiny_corpus), "--max-files", "2"]
    assert oracle.main([*argv, "--workers", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    ((name, ts),) = result["testsets"].items()
    assert name == tiny_corpus.name and ts["files"] == 2
    assert set(ts["means"]) == {"noisy", "irm", "psm"}
    for means in ts["means"].values():
        assert all(math.isfinite(v) for v in means.values())
    assert ts["means"]["psm"]["si_sdr"] > ts["means"]["noisy"]["si_sdr"]
    assert f"| {name} (2 files) | psm |" in capsys.readouterr().out
