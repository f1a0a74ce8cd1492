"""convert_lstm.py: the fused int8 LSTM candidate (Keras 2 child process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from device_models import mags, small_cfg

from lstm_se import convert_lstm


def test_supported_names_what_the_fused_model_leaves_out():
    assert convert_lstm.supported(small_cfg()) is None
    assert "n_mels" in convert_lstm.supported(small_cfg("model.n_mels=40"))
    assert "batch norm" in convert_lstm.supported(small_cfg("model.batch_norm=true"))


def test_child_refuses_to_run_without_legacy_keras(monkeypatch, capsys):
    monkeypatch.delenv("TF_USE_LEGACY_KERAS", raising=False)
    assert convert_lstm._main(["spec.json"]) == 2
    assert "TF_USE_LEGACY_KERAS=1" in capsys.readouterr().err
    assert convert_lstm._main([]) == 2


@pytest.mark.slow
@pytest.mark.skipif(
    not convert_lstm.available(), reason="tf-keras is not installed (the `fused` extra)"
)
def test_fused_lstm_keeps_its_state_in_tflite_micro(tmp_path):
    import keras

    from lstm_se import model as M
    from lstm_se import tflite_info, verify
    from lstm_se.tflite_masker import TFLiteMasker

    cfg = small_cfg()
    keras.utils.set_random_seed(2)
    trained = M.build_model(cfg)
    stream = M.build_streaming_model(cfg, trained, frontend=False)
    frames = M.compress(np.concatenate([mags(40, s) for s in range(4)]), cfg)
    npz = tmp_path / convert_lstm.WEIGHTS_FILE
    convert_lstm.weights_npz(stream, cfg, frames, npz)
    spec = tmp_path / "spec.json"
    out = tmp_path / convert_lstm.LSTM_FILE
    spec.write_text(json.dumps({"npz": str(npz), "out": str(out)}))
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "lstm_se.convert_lstm", str(spec)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = tflite_info.describe(out.read_bytes())
    assert info.op_counts.get("UNIDIRECTIONAL_SEQUENCE_LSTM") == 2
    assert [t.name for t in info.inputs] == ["frame"] and len(info.outputs) == 1
    masker = TFLiteMasker(out.read_bytes(), cfg, "tflm")
    x = mags(1, 9)[0]
    first, second = masker(x), masker(x)
    assert not np.array_equal(first, second)  # the state persists across invoke
    masker.reset()
    assert np.array_equal(masker(x), first)  # and reset() restores it
    test = mags(50, 11)
    ref = verify.float_masks(trained, test)
    assert verify.mask_snr_db(ref, verify.run_masker(masker, test)) > 25
