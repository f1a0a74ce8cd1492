"""tflm_arena.py: the smallest tensor arena TFLite Micro runs the model with."""

from __future__ import annotations

import pytest
from device_models import random_converted

from lstm_se import tflm_arena


@pytest.fixture(scope="module")
def int8() -> bytes:
    return random_converted()[2]


def test_arena_search_finds_the_smallest_working_arena(int8, tmp_path):
    arena = tflm_arena.measure_arena(int8)
    path = tmp_path / "m.tflite"
    path.write_bytes(int8)
    assert tflm_arena._probe(path, arena.min_bytes, 60)[0] == "ok"
    assert tflm_arena._probe(path, arena.min_bytes - arena.granularity, 60)[0] != "ok"
    assert arena.recommended_bytes >= arena.min_bytes * tflm_arena.ARENA_MARGIN
    assert arena.recommended_bytes % 1024 == 0
    # A far too small arena fails or crashes the child, never this process.
    assert tflm_arena._probe(path, 64, 60)[0] in ("fail", "crash")
