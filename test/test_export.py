"""export.py (`lstm-se export`) on a tiny trained run: files, report, the device choice, int8
vs float in TFLite Micro, the C array compiled, determinism, a failed check, enhance/evaluate
--tflite."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
import soundfile as sf
from device_models import compile_c_check
from runs import tiny_trained_run

from lstm_se import cli, config, demo, export, firmware_header, mcu_budget, tflite_masker, verify
from lstm_se import export_files as files

MICRO_OPS = {"FULLY_CONNECTED", "ADD", "MUL", "LOGISTIC", "TANH", "SPLIT", "RESHAPE", "UNPACK"}
EXPORT_FILES = {
    firmware_header.DSP_HEADER,
    files.FLOAT_FILE,
    files.INT8_FILE,
    files.INT16_FILE,
    files.DEVICE_FILE,
    files.C_HEADER_DEVICE_FILE,
    files.C_SOURCE_DEVICE_FILE,
    files.JSON_FILE,
}


@pytest.fixture(scope="module")
def tiny_run(tiny_corpus, tmp_path_factory) -> Path:
    """A run of a 2 x 32 model trained briefly on records of the tiny corpus, with the causal
    input of the default config (what the firmware runs)."""
    overrides = ["model.units=32", "dset.normalize=none", "model.input_norm=per-bin"]
    return tiny_trained_run(tiny_corpus, tmp_path_factory.mktemp("export"), overrides)


@pytest.fixture(scope="module")
def exported(tiny_run) -> export.ExportResult:
    return export.export_run(tiny_run)


def test_export_writes_every_file_and_a_complete_report(exported, tiny_run):
    folder = files.export_dir(tiny_run)
    assert {p.name for p in folder.iterdir()} == EXPORT_FILES  # no temporary files left
    report = json.loads((folder / files.JSON_FILE).read_text())
    assert report == exported.report
    int8 = (folder / files.INT8_FILE).read_bytes()
    assert report["models"]["int8"]["bytes"] == len(int8)
    assert report["models"]["int8"]["sha256"] == files.sha256_bytes(int8)
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
    assert "audio" in ver
    # The whole test set, each candidate in TFLite Micro with LiteRT as the second opinion.
    assert ver["clips"] == len(verify.testset_pairs(config.load_run_config(tiny_run))) > 0
    assert {"int8_tflm_vs_litert_snr_db", "16x8_tflm_vs_litert_snr_db"} <= set(ver)
    # Both candidates are measured; the device model is one of them, byte for byte.
    assert report["models"]["16x8"]["inputs"][0]["dtype"] == "int16"
    assert (
        set(ver["targets"])
        == set(ver["targets_16x8"])
        == {
            "PESQ-WB lost <= 0.03",
            "STOI lost <= 0.005",
            "SI-SDR lost <= 0.3 dB",
        }
    )
    device = report["device"]
    assert device["kind"] in files.DEVICE_KINDS and device["reason"]
    assert set(device["candidates"]) == set(files.DEVICE_KINDS)
    chosen = (folder / files.MODEL_FILES[device["kind"]]).read_bytes()
    assert (folder / files.DEVICE_FILE).read_bytes() == chosen
    assert device["sha256"] == files.sha256_bytes(chosen)
    for kind, cand in device["candidates"].items():
        assert cand["fidelity"] == ver[files.report_key("targets", kind)]
        assert cand["budget_pass"] is True and 0 < cand["frame_share"] < 0.5
    # The firmware's constants are those of the device model.
    cfg = config.load_run_config(tiny_run)
    dsp = (folder / firmware_header.DSP_HEADER).read_text()
    assert dsp == firmware_header.dsp_header(cfg, report)
    assert device["sha256"] in dsp
    bits = 8 if device["kind"] == "int8" else 16
    assert f"#define LSTM_SE_DSP_TENSOR_BITS {bits}" in dsp


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
    mags = verify.clip_magnitudes(_demo_like_clip(), cfg)
    ref = verify.float_masks(trained, mags)
    assert ref.std() > 0.05, "the float masks should vary (a trained model)"
    masker = tflite_masker.int8_masker(tiny_run, cfg, backend="tflm")
    est = verify.run_masker(masker, mags)
    assert verify.mask_snr_db(ref, est) >= 40.0


def test_c_array_compiles_and_a_c_test_checks_its_length(exported, tiny_run, tmp_path):
    folder = files.export_dir(tiny_run)
    device = exported.report["device"]
    header = (folder / files.C_HEADER_DEVICE_FILE).read_text()
    assert f"#define LSTM_SE_MODEL_LEN {device['c_array']['bytes']}u" in header
    arena = exported.report[files.report_key("arena", device["kind"])]["recommended_bytes"]
    assert f"#define LSTM_SE_TENSOR_ARENA_SIZE {arena}u" in header
    ctype = "int8_t" if device["kind"] == "int8" else "int16_t"
    assert f"static inline {ctype} lstm_se_quantize" in header
    compile_c_check(
        folder, tmp_path, [(files.C_HEADER_DEVICE_FILE, files.C_SOURCE_DEVICE_FILE, "lstm_se")]
    )


def test_export_is_deterministic_and_survives_a_failed_check(
    exported, tiny_run, tmp_path, monkeypatch
):
    """The same run exported again gives the same model bytes (seeded representative data,
    byte-stable converter). The second time the TFLite Micro check fails: the models are
    still written, and export.json says why."""
    first = {n: (files.export_dir(tiny_run) / n).read_bytes() for n in EXPORT_FILES}
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy, ignore=shutil.ignore_patterns(files.EXPORT_DIR))

    def failing_check(*_args, **_kwargs):
        raise files.ExportError("TFLite Micro check crashed with SIGSEGV")

    monkeypatch.setattr(export, "_check_in_child", failing_check)
    again = export.export_run(copy)
    for name in (files.FLOAT_FILE, files.INT8_FILE, files.INT16_FILE):
        assert again.files[name].read_bytes() == first[name], name
    assert again.report["representative"] == exported.report["representative"]
    saved = json.loads(again.files[files.JSON_FILE].read_text())
    assert "SIGSEGV" in saved["check_error"] and "budget" not in saved
    # Nothing measured: the int8 model is the device model, and export.json says unverified.
    assert saved["device"]["kind"] == "int8" and "unverified" in saved["device"]["reason"]
    assert again.files[files.DEVICE_FILE].read_bytes() == first[files.INT8_FILE]
    header = again.files[files.C_HEADER_DEVICE_FILE].read_text()
    assert "#define LSTM_SE_TENSOR_ARENA_SIZE" not in header


def test_enhance_tflite_uses_the_device_model(exported, tiny_run, tmp_path):
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
    # It is the device model's output: the same as enhancing with the chosen candidate's
    # masker directly.
    from lstm_se import audio, enhance

    cfg = config.load_run_config(tiny_run)
    noisy, _ = audio.read(tmp_path / "in.wav")
    kind = exported.report["device"]["kind"]
    masker = tflite_masker.exported_masker(tiny_run, cfg, kind=kind)
    assert tflite_masker.device_masker(tiny_run, cfg).kind == masker.kind == kind
    direct, _ = enhance.enhance_waveform(noisy, rate, cfg, masker=masker)
    assert np.max(np.abs(enhanced - direct)) < 2 / 32768  # 16-bit rounding


def test_candidate_flags_need_tflite_and_an_export(exported, tiny_run, tmp_path, capfd):
    sf.write(tmp_path / "in.wav", _demo_like_clip(0.5), 16000, subtype="PCM_16")
    args = ["--run", str(tiny_run), str(tmp_path / "in.wav"), "--out", str(tmp_path / "o")]
    for bad in (["enhance", *args, "--int16"], ["evaluate", "--run", str(tiny_run), "--int8"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(bad)
        assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:  # one candidate at a time
        cli.main(["enhance", *args, "--tflite", "--int8", "--int16"])
    assert exc.value.code == 2
    # A run whose export lacks the model asked for: a clear error naming it and the command.
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    (files.export_dir(copy) / files.INT16_FILE).unlink()
    copy_args = ["--run", str(copy), *args[2:]]
    assert cli.main(["enhance", *copy_args, "--tflite", "--int16"]) == 2
    err = capfd.readouterr().err
    assert files.INT16_FILE in err and f"lstm-se export --run {copy}` first" in err
    assert not (tmp_path / "o" / "in.wav").exists()
    with pytest.raises(files.McuError, match="unknown exported model"):
        tflite_masker.exported_masker(tiny_run, kind="int4")


def test_a_crash_in_the_child_becomes_a_clear_error():
    with pytest.raises(files.ExportError, match=r"crashed with SIGABRT during 'convert int8'"):
        export._run_child(
            ["-c", "print('STAGE convert int8', flush=True); import os; os.abort()"],
            "TFLite conversion",
            60,
            stage_hint=True,
        )


def test_missing_records_is_a_clear_error(tiny_run, tmp_path):
    copy = tmp_path / "norecords"
    shutil.copytree(tiny_run, copy, ignore=shutil.ignore_patterns(files.EXPORT_DIR))
    cfg = config.load_run_config(copy)
    cfg = config.from_dict(config.to_dict(cfg), [f"dset.save_path={tmp_path / 'nothing'}"])
    config.save(cfg, copy / "config.yaml")
    with pytest.raises(files.ExportError, match="lstm-se prepare"):
        export.export_run(copy, check=False)
    assert not list(files.export_dir(copy).glob(".work-*"))  # the work folder is cleaned up


def test_not_a_run_folder(tmp_path):
    assert cli.main(["export", "--run", str(tmp_path / "missing")]) == 2
    with pytest.raises(files.ExportError, match=r"config\.yaml"):
        export.export_run(tmp_path)


@pytest.mark.slow
def test_full_export_twice_gives_identical_files(exported, tiny_run, tmp_path):
    first = {n: (files.export_dir(tiny_run) / n).read_bytes() for n in EXPORT_FILES}
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy, ignore=shutil.ignore_patterns(files.EXPORT_DIR))
    again = export.export_run(copy)
    for name in EXPORT_FILES - {files.JSON_FILE, firmware_header.DSP_HEADER}:
        assert again.files[name].read_bytes() == first[name], name
    # The firmware header names its run; otherwise the same.
    dsp = again.files[firmware_header.DSP_HEADER].read_text().replace("'copy'", "'tiny'")
    assert dsp == first[firmware_header.DSP_HEADER].decode()
    a, b = json.loads(first[files.JSON_FILE]), again.report
    a.pop("run"), b.pop("run")
    a["representative"].pop("source"), b["representative"].pop("source")
    assert a == b


@pytest.mark.slow
def test_all_c_arrays_and_the_16x8_candidate_in_tflite_micro(exported, tiny_run, tmp_path):
    copy = tmp_path / "all"
    shutil.copytree(tiny_run, copy, ignore=shutil.ignore_patterns(files.EXPORT_DIR))
    result = export.export_run(copy, all_c_arrays=True)
    ver = result.report["verification"]
    assert ver["mask_snr_db_by_model"]["16x8_tflm"] >= 40.0
    # Its own audio scores beside the int8 model's.
    assert abs(ver["audio"]["delta_16x8"]["pesq_wb"]) <= 0.03
    assert ver["audio"]["16x8"]["pesq_wb"] > 1.0 and "16x8 - float" in ver["audio"]["table"]
    # Its cycles rest on the 16-bit kernel's rate, the int8 model's on the int8 one's.
    for key, rate in (
        ("budget_16x8", mcu_budget.MACS_PER_CYCLE_16X8),
        ("budget", mcu_budget.MACS_PER_CYCLE),
    ):
        assert result.report[key]["assumptions"]["macs_per_cycle"] == rate
    # Every candidate's C array beside the device model's, each with symbols of its own and
    # its own measured arena, so one firmware can hold all three.
    folder = files.export_dir(copy)
    header = (folder / files.C_HEADER_16X8_FILE).read_text()
    assert "static inline int16_t lstm_se_16x8_quantize" in header
    arena = result.report["arena_16x8"]["recommended_bytes"]
    assert f"#define LSTM_SE_16X8_TENSOR_ARENA_SIZE {arena}u" in header
    compile_c_check(
        folder,
        tmp_path,
        [(h, c, prefix) for h, c, prefix in files.C_ARRAYS.values()],
    )
    # `--tflite --int16` enhances with the 16x8 candidate.
    clip = _demo_like_clip(1.0)
    sf.write(tmp_path / "in.wav", clip, 16000, subtype="PCM_16")
    args = ["enhance", "--run", str(copy), str(tmp_path / "in.wav"), "--out", str(tmp_path / "o")]
    assert cli.main([*args, "--tflite", "--int16"]) == 0
    from lstm_se import audio, enhance

    cfg = config.load_run_config(copy)
    noisy, _ = audio.read(tmp_path / "in.wav")
    masker = tflite_masker.int16_masker(copy, cfg)
    direct, _ = enhance.enhance_waveform(noisy, 16000, cfg, masker=masker)
    enhanced, _ = sf.read(tmp_path / "o" / "in.wav", dtype="float32")
    assert np.max(np.abs(enhanced - direct)) < 2 / 32768
    # `evaluate --tflite --int16` scores it under its own name.
    from lstm_se import evaluate

    scored = evaluate.evaluate_run(
        copy, masker_factory=tflite_masker.int16_masker, workers=0, examples=0
    )
    assert scored["model"] == "16x8"
    assert (evaluate.eval_dir(copy, evaluate.testset_name(None), "16x8") / "metrics.json").is_file()
    # A later export without --all-c-arrays removes the candidates' arrays.
    export.export_run(copy, check=False)
    for name in (files.C_HEADER_16X8_FILE, files.C_SOURCE_16X8_FILE, files.C_SOURCE_FILE):
        assert not (folder / name).exists(), name


def test_target_warnings_name_what_the_device_model_misses():
    good = {"fidelity": {"PESQ-WB lost <= 0.03": True}, "fits": True}
    met = {"device": {"kind": "16x8", "candidates": {"16x8": good}}}
    assert export.target_warnings(met) == []
    bad = {"fidelity": {"PESQ-WB lost <= 0.03": False, "STOI lost <= 0.005": True}, "fits": True}
    missed = {"device": {"kind": "int8", "candidates": {"int8": bad}}}
    (line,) = export.target_warnings(missed)
    assert "device model (int8) misses: PESQ-WB lost <= 0.03." in line
    assert "STOI" not in line and "bench/int8_error.py" in line
    over = {"device": {"kind": "int8", "candidates": {"int8": dict(good, fits=False)}}}
    assert "budget or half the frame" in export.target_warnings(over)[0]
    assert export.target_warnings({}) == []  # no verification (check failed): nothing
