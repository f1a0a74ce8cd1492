"""Test helpers for the device models: a small random-weight model converted in this process,
magnitude frames that vary like speech, and the compile-and-run check of a generated C array.

TensorFlow and Keras are imported only inside the helpers (as in `runs.py`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstm_se import config

UNITS = 16
BINS = 257


def small_cfg(*overrides: str) -> config.Config:
    """The default config with `UNITS` units per layer."""
    return config.from_dict({}, [f"model.units={UNITS}", *overrides])


def random_converted(seed: int = 3) -> tuple[config.Config, Any, bytes, bytes]:
    """A small random-weight model converted in this process: (cfg, keras model, int8, float)."""
    import keras

    from lstm_se import convert
    from lstm_se import model as M

    cfg = small_cfg()
    keras.utils.set_random_seed(seed)
    trained = M.build_model(cfg)
    stream = M.build_streaming_model(cfg, trained, frontend=False)
    rng = np.random.default_rng(0)
    segs = [np.abs(rng.normal(0, 0.05, (40, BINS))).astype(np.float32) for _ in range(4)]
    samples = convert.representative_samples(cfg, stream, segs)
    return cfg, trained, convert.convert(stream, "int8", samples), convert.convert(stream, "float")


def mags(frames: int, seed: int = 1) -> np.ndarray:
    """Magnitudes `(frames, BINS)` with a slow envelope, so that consecutive frames are related
    as in speech."""
    rng = np.random.default_rng(seed)
    env = 0.05 * (1.2 + np.sin(np.linspace(0, 6, frames)))[:, None]
    return np.abs(rng.normal(0, 1, (frames, BINS)) * env).astype(np.float32)


_C_CHECK = """
/* the checks of one generated header, as a function of the prefix */
static int check_PFX(void) {
  int frame_shape[] = PFX_UP_INPUT_FRAME_SHAPE;
  int state_inputs[] = PFX_UP_STATE_INPUTS;
  float half;
  if (PFX_model_len != PFX_UP_MODEL_LEN) return 1;
  if (((uintptr_t)PFX_model) % 16 != 0) return 2;
  if (memcmp(PFX_model + 4, "TFL3", 4) != 0) return 3;  /* flatbuffer identifier */
  if (frame_shape[PFX_UP_INPUT_FRAME_RANK - 1] != PFX_UP_N_BINS) return 4;
  if (sizeof(state_inputs) / sizeof(state_inputs[0]) != PFX_UP_N_STATES) return 5;
  /* a mask of 0.5 survives quantization to within half a step */
  half = PFX_dequantize(
      PFX_quantize(0.5f, PFX_UP_OUTPUT_MASK_SCALE, PFX_UP_OUTPUT_MASK_ZERO_POINT),
      PFX_UP_OUTPUT_MASK_SCALE, PFX_UP_OUTPUT_MASK_ZERO_POINT);
  if (fabsf(half - 0.5f) > 0.5f * PFX_UP_OUTPUT_MASK_SCALE) return 6;
  /* 0.0 is exactly the zero point (a zero-point sign error would pass the round trip) */
  if (PFX_quantize(0.0f, PFX_UP_OUTPUT_MASK_SCALE, PFX_UP_OUTPUT_MASK_ZERO_POINT)
      != PFX_UP_OUTPUT_MASK_ZERO_POINT) return 7;
  return 0;
}
"""


def compile_c_check(folder: Path, tmp_path: Path, arrays: list[tuple[str, str, str]]) -> None:
    """Compile the generated (header, source, prefix) `arrays` with gcc, as C and C++, into one
    C program that checks each array's length, alignment and constants; run it."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    lines = ["#include <math.h>", "#include <stdint.h>", "#include <string.h>"]
    lines += [f'#include "{header}"' for header, _, _ in arrays]
    for _, _, prefix in arrays:
        lines.append(_C_CHECK.replace("PFX_UP", prefix.upper()).replace("PFX", prefix))
    calls = " || ".join(f"check_{prefix}()" for _, _, prefix in arrays)
    lines.append(f"int main(void) {{ return {calls}; }}")
    (tmp_path / "check.c").write_text("\n".join(lines) + "\n")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=300)

    flags = ["-Wall", "-Wextra", "-Werror"]
    objects = []
    for header, source, prefix in arrays:
        shutil.copy(folder / header, tmp_path / header)
        shutil.copy(folder / source, tmp_path / source)
        objects.append(f"{prefix}.o")
        for cmd in (
            [gcc, *flags, "-c", source, "-o", objects[-1]],  # as C++ (.cc)
            [gcc, *flags, "-x", "c", "-std=c11", "-c", source, "-o", f"{prefix}_c.o"],
        ):
            proc = run(*cmd)
            assert proc.returncode == 0, proc.stderr
    for cmd in (
        [gcc, *flags, "-std=c11", "-c", "check.c", "-o", "check.o"],
        [gcc, "check.o", *objects, "-o", "check", "-lm"],
    ):
        proc = run(*cmd)
        assert proc.returncode == 0, proc.stderr
    assert run("./check").returncode == 0
