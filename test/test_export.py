"""export.py on a tiny trained run: files, int8 vs float in TFLite Micro, C array, determinism."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest
import soundfile as sf
from runs import tiny_trained_run

from lstm_se import cli, config, demo, export, mcu

MICRO_OPS = {"FULLY_CONNECTED", "ADD", "MUL", "LOGISTIC", "TANH", "SPLIT", "RESHAPE", "UNPACK"}
EXPORT_FILES = {
    export.FLOAT_FILE,
    export.INT8_FILE,
    export.C_HEADER_FILE,
    export.C_SOURCE_FILE,
    export.JSON_FILE,
}


@pytest.fixture(scope="module")
def tiny_run(tiny_corpus, tmp_path_factory) -> Path:
    """A run of a 2 x 32 model trained briefly on records of the tiny corpus."""
    return tiny_trained_run(tiny_corpus, tmp_path_factory.mktemp("export"), ["model.units=32"])


@pytest.fixture(scope="module")
def exported(tiny_run) -> export.ExportResult:
    return export.export_run(tiny_run)


def test_export_writes_every_file_and_a_complete_report(exported, tiny_run):
    folder = export.export_dir(tiny_run)
    assert {p.name for p in folder.iterdir()} == EXPORT_FILES  # no temporary files left
    report = json.loads((folder / export.JSON_FILE).read_text())
    assert report == exported.report
    int8 = (folder / export.INT8_FILE).read_bytes()
    assert report["models"]["int8"]["bytes"] == len(int8)
    assert report["models"]["int8"]["sha256"] == export.sha256_bytes(int8)
    assert set(report["models"]["int8"]["ops"]) <= MICRO_OPS
    assert set(report["op_list"]) <= MICRO_OPS
    # int8 weights: about a quarter of the float model.
    assert len(int8) < 0.4 * report["models"]["float"]["bytes"]
    q = report["models"]["int8"]
    names = {t["name"] for t in q["inputs"]}
    assert names == {"frame", "h_1", "c_1", "h_2", "c_2"}
    assert all(t["dtype"] == "int8" and t["scale"] > 0 for t in q["inputs"] + q["outputs"])
    assert report["arena"]["min_bytes"] <= report["arena"]["recommended_bytes"]
    u, bins = 32, 257
    assert report["macs_per_frame"] == 4 * u * (bins + u) + 4 * u * (2 * u) + u * bins
    assert report["budget"]["pass"] is True
    assert report["representative"]["frames"] > 0
    ver = report["verification"]
    assert ver["clips"] > 0 and "audio" in ver
    assert all(ver["targets"].values()), ver["targets"]


def _demo_like_clip(seconds: float = 3.0) -> np.ndarray:
    """A demo-corpus utterance in pink noise at 5 dB SNR, 16 kHz."""
    rng = np.random.default_rng(11)
    speech = demo.synth_utterance(demo.make_speaker("s1", 1, rng), seconds, rng)
    noise = demo.make_noise("pink", len(speech) / demo.RATE + 0.1, rng)[: len(speech)]
    noise *= np.sqrt(np.mean(speech**2) / np.mean(noise**2) / 10 ** (5 / 10))
    return (speech + noise).astype(np.float32)


def test_int8_in_tflite_micro_matches_the_float_model_on_a_demo_like_clip(exported, tiny_run):
    cfg = config.load_run_config(tiny_run)
    trained = keras.models.load_model(tiny_run / "model.keras", compile=False)
    mags = mcu.clip_magnitudes(_demo_like_clip(), cfg)
    ref = mcu.float_masks(trained, mags)
    assert ref.std() > 0.05, "the float masks should vary (a trained model)"
    masker = mcu.int8_masker(tiny_run, cfg, backend="tflm")
    est = mcu.run_masker(masker, mags)
    assert mcu.mask_snr_db(ref, est) >= 40.0


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


def _compile_c_check(folder: Path, tmp_path: Path, arrays: list[tuple[str, str, str]]) -> None:
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


def test_c_array_compiles_and_a_c_test_checks_its_length(exported, tiny_run, tmp_path):
    folder = export.export_dir(tiny_run)
    header = (folder / export.C_HEADER_FILE).read_text()
    assert f"#define LSTM_SE_MODEL_LEN {exported.report['c_array']['bytes']}u" in header
    arena = exported.report["arena"]["recommended_bytes"]
    assert f"#define LSTM_SE_TENSOR_ARENA_SIZE {arena}u" in header
    assert "static inline int8_t lstm_se_quantize" in header
    _compile_c_check(folder, tmp_path, [(export.C_HEADER_FILE, export.C_SOURCE_FILE, "lstm_se")])


def test_export_is_deterministic_and_survives_a_failed_check(
    exported, tiny_run, tmp_path, monkeypatch
):
    """The same run exported again gives the same model bytes (seeded representative data,
    byte-stable converter). The second time the TFLite Micro check fails: the models are
    still written, and export.json says why."""
    first = {n: (export.export_dir(tiny_run) / n).read_bytes() for n in EXPORT_FILES}
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy, ignore=shutil.ignore_patterns(export.EXPORT_DIR))

    def failing_check(*_args, **_kwargs):
        raise export.ExportError("TFLite Micro check crashed with SIGSEGV")

    monkeypatch.setattr(export, "_check_in_child", failing_check)
    again = export.export_run(copy)
    for name in (export.FLOAT_FILE, export.INT8_FILE, export.C_SOURCE_FILE):
        assert again.files[name].read_bytes() == first[name], name
    assert again.report["representative"] == exported.report["representative"]
    saved = json.loads(again.files[export.JSON_FILE].read_text())
    assert "SIGSEGV" in saved["check_error"] and "budget" not in saved
    assert "#define LSTM_SE_TENSOR_ARENA_SIZE" not in again.files[export.C_HEADER_FILE].read_text()


def test_enhance_tflite_uses_the_int8_model(exported, tiny_run, tmp_path):
    rate = 16000
    clip = _demo_like_clip(1.5)
    sf.write(tmp_path / "in.wav", clip, rate, subtype="PCM_16")
    out = tmp_path / "out"
    code = cli.main(
        ["enhance", "--run", str(tiny_run), "--tflite", str(tmp_path / "in.wav"), "--out", str(out)]
    )
    assert code == 0
    enhanced, out_rate = sf.read(out / "in.wav", dtype="float32")
    assert out_rate == rate and len(enhanced) == len(clip)
    # It is the int8 model's output: the same as enhancing with the int8 masker directly.
    from lstm_se import audio, enhance

    cfg = config.load_run_config(tiny_run)
    noisy, _ = audio.read(tmp_path / "in.wav")
    direct, _ = enhance.enhance_waveform(noisy, rate, cfg, masker=mcu.int8_masker(tiny_run, cfg))
    assert np.max(np.abs(enhanced - direct)) < 2 / 32768  # 16-bit rounding


def test_int16_flag_needs_tflite_and_a_16x8_export(exported, tiny_run, tmp_path, capfd):
    sf.write(tmp_path / "in.wav", _demo_like_clip(0.5), 16000, subtype="PCM_16")
    args = ["--run", str(tiny_run), str(tmp_path / "in.wav"), "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as exc:
        cli.main(["enhance", *args, "--int16"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["evaluate", "--run", str(tiny_run), "--int16"])
    assert exc.value.code == 2
    # The tiny run was exported without --int16: a clear error naming the missing model.
    assert cli.main(["enhance", *args, "--tflite", "--int16"]) == 2
    err = capfd.readouterr().err
    assert export.INT16_FILE in err and "--int16` first" in err
    assert not (tmp_path / "o" / "in.wav").exists()
    with pytest.raises(mcu.McuError, match="unknown exported model"):
        mcu.exported_masker(tiny_run, kind="int4")


def test_a_crash_in_the_child_becomes_a_clear_error():
    with pytest.raises(export.ExportError, match=r"crashed with SIGABRT during 'convert int8'"):
        export._run_child(
            ["-c", "print('STAGE convert int8', flush=True); import os; os.abort()"],
            "TFLite conversion",
            60,
            stage_hint=True,
        )


def test_missing_records_is_a_clear_error(tiny_run, tmp_path):
    copy = tmp_path / "norecords"
    shutil.copytree(tiny_run, copy, ignore=shutil.ignore_patterns(export.EXPORT_DIR))
    cfg = config.load_run_config(copy)
    cfg = config.from_dict(config.to_dict(cfg), [f"dset.save_path={tmp_path / 'nothing'}"])
    config.save(cfg, copy / "config.yaml")
    with pytest.raises(export.ExportError, match="lstm-se prepare"):
        export.export_run(copy, check=False)
    assert not list(export.export_dir(copy).glob(".work-*"))  # the work folder is cleaned up


def test_not_a_run_folder(tmp_path):
    assert cli.main(["export", "--run", str(tmp_path / "missing")]) == 2
    with pytest.raises(export.ExportError, match=r"config\.yaml"):
        export.export_run(tmp_path)


@pytest.mark.slow
def test_full_export_twice_gives_identical_files(exported, tiny_run, tmp_path):
    first = {n: (export.export_dir(tiny_run) / n).read_bytes() for n in EXPORT_FILES}
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy, ignore=shutil.ignore_patterns(export.EXPORT_DIR))
    again = export.export_run(copy)
    for name in EXPORT_FILES - {export.JSON_FILE}:
        assert again.files[name].read_bytes() == first[name], name
    a, b = json.loads(first[export.JSON_FILE]), again.report
    a.pop("run"), b.pop("run")
    a["representative"].pop("source"), b["representative"].pop("source")
    assert a == b


@pytest.mark.slow
def test_int16_export_runs_in_tflite_micro(tiny_run, tmp_path):
    copy = tmp_path / "int16"
    shutil.copytree(tiny_run, copy, ignore=shutil.ignore_patterns(export.EXPORT_DIR))
    result = export.export_run(copy, int16=True)
    assert export.INT16_FILE in result.files
    assert result.report["models"]["16x8"]["inputs"][0]["dtype"] == "int16"
    ver = result.report["verification"]
    assert ver["mask_snr_db_by_model"]["16x8_tflm"] >= 40.0
    # Its own audio scores and targets beside the int8 model's.
    assert abs(ver["audio"]["delta_16x8"]["pesq_wb"]) <= 0.03
    assert ver["audio"]["16x8"]["pesq_wb"] > 1.0 and "16x8 - float" in ver["audio"]["table"]
    assert ver["targets_16x8"] and all(ver["targets_16x8"].values()), ver["targets_16x8"]
    # Its cycles rest on the 16-bit kernel's rate, the int8 model's on the int8 one's.
    for key, rate in (("budget_16x8", mcu.MACS_PER_CYCLE_16X8), ("budget", mcu.MACS_PER_CYCLE)):
        assert result.report[key]["assumptions"]["macs_per_cycle"] == rate
    # Its C array: int16 I/O helpers, its own measured arena, and symbols of its own, so one
    # firmware can hold both models.
    folder = export.export_dir(copy)
    header = (folder / export.C_HEADER_16X8_FILE).read_text()
    assert "static inline int16_t lstm_se_16x8_quantize" in header
    arena = result.report["arena_16x8"]["recommended_bytes"]
    assert f"#define LSTM_SE_16X8_TENSOR_ARENA_SIZE {arena}u" in header
    assert result.report["c_array_16x8"]["bytes"] == result.files[export.INT16_FILE].stat().st_size
    _compile_c_check(
        folder,
        tmp_path,
        [
            (export.C_HEADER_FILE, export.C_SOURCE_FILE, export.C_PREFIX),
            (export.C_HEADER_16X8_FILE, export.C_SOURCE_16X8_FILE, export.C_PREFIX_16X8),
        ],
    )
    # `--tflite --int16` enhances with the 16x8 model; a later export without --int16 removes
    # the 16x8 files (they would no longer match the int8 model).
    clip = _demo_like_clip(1.0)
    sf.write(tmp_path / "in.wav", clip, 16000, subtype="PCM_16")
    args = ["enhance", "--run", str(copy), str(tmp_path / "in.wav"), "--out", str(tmp_path / "o")]
    assert cli.main([*args, "--tflite", "--int16"]) == 0
    from lstm_se import audio, enhance

    cfg = config.load_run_config(copy)
    noisy, _ = audio.read(tmp_path / "in.wav")
    masker = mcu.int16_masker(copy, cfg)
    direct, _ = enhance.enhance_waveform(noisy, 16000, cfg, masker=masker)
    enhanced, _ = sf.read(tmp_path / "o" / "in.wav", dtype="float32")
    assert np.max(np.abs(enhanced - direct)) < 2 / 32768
    # `evaluate --tflite --int16` scores it under its own name.
    from lstm_se import evaluate

    scored = evaluate.evaluate_run(copy, masker_factory=mcu.int16_masker, workers=0, examples=0)
    assert scored["model"] == "16x8"
    assert (evaluate.eval_dir(copy, evaluate.testset_name(None), "16x8") / "metrics.json").is_file()
    export.export_run(copy, check=False)
    for name in (export.INT16_FILE, export.C_HEADER_16X8_FILE, export.C_SOURCE_16X8_FILE):
        assert not (folder / name).exists(), name


def test_target_warnings_say_what_missed_and_what_to_do():
    snr, pesq = "mask SNR >= 40 dB", "PESQ-WB lost <= 0.03"
    met = {"verification": {"targets": {snr: True, pesq: True}}}
    assert export.target_warnings(met, "r") == []
    missed = {"verification": {"targets": {snr: False, pesq: True}}}
    lines = export.target_warnings(missed, "result/x")
    assert lines[0] == f"verification target missed by the int8 model: {snr}"
    assert "lstm-se export --run result/x --int16" in lines[1]
    assert "bench/int8_error.py --run result/x" in lines[2]
    missed["verification"]["targets_16x8"] = {snr: True, pesq: True}
    lines = export.target_warnings(missed, "result/x")
    assert "16x8 model meets every target" in lines[1] and export.INT16_FILE in lines[1]
    both = {"verification": {"targets": {snr: False}, "targets_16x8": {snr: False}}}
    assert "missed by the 16x8 model" in export.target_warnings(both, "r")[1]
    assert export.target_warnings({}, "r") == []  # no verification (check failed): nothing


@pytest.mark.slow
def test_2x256_is_reported_over_budget():
    cfg = config.from_dict({}, ["model.layers=2", "model.units=256"])
    report = mcu.config_budget(cfg)
    assert report["int8_bytes"] > 1_000_000
    assert report["budget"]["pass"] is False
    failed = {r["name"] for r in report["budget"]["rows"] if not r["pass"]}
    assert "flash" in failed
