"""tflite_info.py: the flatbuffer's named inputs/outputs, positions, quantization and ops."""

from __future__ import annotations

import pytest
from device_models import BINS, UNITS, random_converted

from lstm_se import export_files, tflite_info


@pytest.fixture(scope="module")
def converted():
    return random_converted()


def test_describe_names_inputs_and_outputs(converted):
    cfg, _, int8, _ = converted
    info = tflite_info.describe(int8, tflite_info.output_names(cfg))
    assert sorted(t.name for t in info.inputs) == sorted(tflite_info.input_names(cfg))
    assert sorted(t.name for t in info.outputs) == sorted(tflite_info.output_names(cfg))
    assert sorted(t.position for t in info.inputs) == list(range(len(info.inputs)))
    assert info.state_names == ["h_1", "c_1", "h_2", "c_2"]
    assert {t.dtype for t in info.inputs + info.outputs} == {"int8"}
    assert info.input("frame").shape == (1, 1, BINS)
    assert info.input("h_2").shape == (1, UNITS)
    # A sigmoid output is quantized to [0, 1) with the fixed 1/256 scale.
    mask = info.output("mask")
    assert mask.scale == pytest.approx(1 / 256) and mask.zero_point == -128
    # The positions are the ones TFLite Micro uses.
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(int8)
    for t in info.inputs:
        details = interp.get_input_details(t.position)
        assert tuple(details["shape"]) == t.shape
        assert float(details["quantization_parameters"]["scales"][0]) == pytest.approx(t.scale)


def test_float_model_and_unknown_names(converted):
    cfg, _, _, flat = converted
    info = tflite_info.describe(flat, tflite_info.output_names(cfg))
    assert {t.dtype for t in info.inputs} == {"float32"}
    assert not info.input("frame").quantized
    assert info.weight_bytes > 0.9 * len(flat) > 0
    with pytest.raises(KeyError, match="no input 'h_9'"):
        info.input("h_9")
    table = tflite_info.quantization_table(info)
    assert {t["name"] for t in table["outputs"]} == {"mask", "h_1", "c_1", "h_2", "c_2"}
    assert all(t["scale"] == 0.0 for t in table["inputs"])


def test_garbage_is_not_a_model():
    # Zeros parse as an empty flatbuffer; truncated bytes do not parse at all.
    with pytest.raises(export_files.ExportError, match="exactly one subgraph"):
        tflite_info.describe(b"\x00" * 64)
    with pytest.raises(export_files.ExportError, match="TFLite model"):
        tflite_info.describe(b"\xff" * 7)
