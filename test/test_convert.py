"""convert.py: conversion modes, the representative samples and the child process' entry."""

from __future__ import annotations

import numpy as np
import pytest
from device_models import mags, small_cfg

from lstm_se import config, convert, export_files


@pytest.fixture(scope="module")
def stream():
    import keras

    from lstm_se import model as M

    cfg = small_cfg()
    keras.utils.set_random_seed(5)
    return cfg, M.build_streaming_model(cfg, M.build_model(cfg), frontend=False)


def test_representative_samples_carry_the_float_state(stream):
    cfg, model = stream
    segs = [mags(6, 1), mags(4, 2)]
    samples = convert.representative_samples(cfg, model, segs)
    assert len(samples) == 10
    assert set(samples[0]) == {"frame", "h_1", "c_1", "h_2", "c_2"}
    # Each segment starts from zero state; later frames see the float model's own state.
    assert not np.any(samples[0]["h_1"]) and not np.any(samples[6]["c_2"])
    assert np.any(samples[1]["h_1"]) and np.any(samples[5]["c_2"])
    digest = convert.samples_digest(samples)
    assert digest == convert.samples_digest(convert.representative_samples(cfg, model, segs))
    assert digest != convert.samples_digest(samples[:-1])


def test_conversion_modes(stream):
    _, model = stream
    with pytest.raises(ValueError, match="unknown conversion mode"):
        convert.convert(model, "int4", [{}])
    with pytest.raises(ValueError, match="needs representative samples"):
        convert.convert(model, "int8")


def test_training_segments_need_the_records(tmp_path):
    cfg = config.from_dict({}, [f"dset.save_path={tmp_path / 'none'}"])
    with pytest.raises(export_files.ExportError, match="lstm-se prepare"):
        convert.training_segments(cfg, 4, 0)


def test_child_entry_usage(capsys):
    assert convert._main([]) == 2
    assert "python -m lstm_se.convert SPEC.json" in capsys.readouterr().err
