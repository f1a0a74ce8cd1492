"""c_array.py: the C header and source of a device model, compiled and checked by a C program."""

from __future__ import annotations

import pytest
from device_models import compile_c_check, random_converted

from lstm_se import c_array, export_files, tflite_info


@pytest.fixture(scope="module")
def converted():
    return random_converted()


def test_c_array_of_a_model_compiles_and_checks(converted, tmp_path):
    cfg, _, int8, _ = converted
    info = tflite_info.describe(int8, tflite_info.output_names(cfg))
    sha = export_files.sha256_bytes(int8)
    names = c_array.write_c_array(tmp_path, info, int8, cfg, 12_288, sha, "m.h", "m.cc", "my_model")
    assert names == ["m.h", "m.cc"]
    header = (tmp_path / "m.h").read_text()
    assert f"#define MY_MODEL_MODEL_LEN {len(int8)}u" in header
    assert "#define MY_MODEL_TENSOR_ARENA_SIZE 12288u" in header
    assert "#define MY_MODEL_N_STATES 4" in header
    assert "static inline int8_t my_model_quantize" in header and sha in header
    source = (tmp_path / "m.cc").read_text()
    assert '#include "m.h"' in source and source.count("0x") == len(int8)
    out = tmp_path / "build"
    out.mkdir()
    compile_c_check(tmp_path, out, [("m.h", "m.cc", "my_model")])


def test_without_a_measured_arena_the_size_is_left_undefined(converted):
    cfg, _, int8, _ = converted
    info = tflite_info.describe(int8, tflite_info.output_names(cfg))
    header = c_array.c_header(info, cfg, None, "0" * 64)
    assert "#define LSTM_SE_TENSOR_ARENA_SIZE" not in header
    assert "LSTM_SE_TENSOR_ARENA_SIZE: not measured" in header


def test_a_float_model_has_no_c_header(converted):
    cfg, _, _, flat = converted
    info = tflite_info.describe(flat, tflite_info.output_names(cfg))
    with pytest.raises(export_files.ExportError, match="int8 or 16x8 model"):
        c_array.c_header(info, cfg, None, "")
