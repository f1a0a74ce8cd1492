"""firmware/: the C signal path against `lstm-se enhance --streaming --tflite`.

The library is built with `cc` as a shared object and driven through ctypes; the model call
is answered by the exported int8 model in TFLite Micro's Python interpreter. The Cortex-M7
build and its qemu run (marker `firmware_arm`) skip without the toolchain, unless
LSTM_SE_REQUIRE_ARM=1 (CI, after installing it) makes that a failure.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import speech_like

from lstm_se import audio, cli, config, firmware, runs

RATE = 16000


@pytest.fixture(scope="module")
def export() -> Path:
    return runs.pretrained_dir() / "export"


@pytest.fixture(scope="module")
def cfg() -> config.Config:
    return config.load_run_config(runs.pretrained_dir())


@pytest.fixture(scope="module")
def report(export: Path) -> dict:
    return json.loads((export / "export.json").read_text())


@pytest.fixture(scope="module")
def libs(tmp_path_factory: pytest.TempPathFactory, cfg, report) -> dict[str, Path]:
    """Both host builds from a freshly generated header (not the committed one)."""
    folder = tmp_path_factory.mktemp("firmware")
    (folder / firmware.DSP_HEADER).write_text(firmware.dsp_header(cfg, report))
    standin = [firmware.FIRMWARE_DIR / "test" / "standin_model.c"]
    return {
        p: firmware.build_host(folder / f"liblstm_se_{p}.so", folder, p, standin)
        for p in ("f64", "f32")
    }


def noisy_signal(seconds: float, seed: int) -> np.ndarray:
    """Speech-like harmonics in white noise at 5 dB SNR, 16 kHz float32."""
    rng = np.random.default_rng(seed)
    clean = speech_like(seconds, RATE, 140.0, rng)
    noise = rng.standard_normal(len(clean)).astype(np.float32)
    noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 10**0.5)
    return np.clip(clean + noise, -0.99, 0.99).astype(np.float32)


def read_int16(path: Path) -> np.ndarray:
    return sf.read(path, dtype="int16")[0].astype(np.int32)


def test_committed_header_is_generated_from_the_pretrained_export(export, cfg, report):
    assert (export / firmware.DSP_HEADER).read_text() == firmware.dsp_header(cfg, report)


def test_header_values_are_the_python_path_s(cfg, report):
    text = firmware.dsp_header(cfg, report)
    window = text.split("LSTM_SE_DSP_WINDOW {")[1].split("}")[0]
    values = [float(v) for v in window.replace("\\", " ").replace(",", " ").split()]
    np.testing.assert_array_equal(values, firmware.features.window(512, 512))
    assert "#define LSTM_SE_DSP_FRAME_SCALE 0.0025242287665605545" in text
    assert '#define LSTM_SE_DSP_STATE_NAMES {"h_1", "c_1", "h_2", "c_2"}' in text
    assert "#define LSTM_SE_DSP_STATE_SAME_QUANTIZATION {1, 0, 0, 0}" in text


@pytest.mark.parametrize(
    ("section", "change", "named"),
    [
        ("dset", {"center": True}, "dset.center"),
        ("dset", {"normalize": "z-score"}, "dset.normalize"),
        ("dset", {"n_fft": 400}, "dset.n_fft 400"),
        ("model", {"n_mels": 40}, "model.n_mels"),
    ],
)
def test_unsupported_settings_are_refused_by_name(cfg, report, section, change, named):
    bad = dataclasses.replace(
        cfg, **{section: dataclasses.replace(getattr(cfg, section), **change)}
    )
    with pytest.raises(firmware.FirmwareError, match=named):
        firmware.dsp_header(bad, report)


def test_a_16x8_model_is_refused(cfg, report):
    bad = json.loads(json.dumps(report))
    for t in bad["models"]["int8"]["inputs"]:
        if t["name"] == "frame":
            t["dtype"] = "int16"
    with pytest.raises(firmware.FirmwareError, match="'frame' is int16, not int8"):
        firmware.dsp_header(cfg, bad)


def test_export_call_warns_instead_of_failing(tmp_path, cfg, report, caplog):
    bad = dataclasses.replace(cfg, dset=dataclasses.replace(cfg.dset, center=True))
    (tmp_path / firmware.DSP_HEADER).write_text("/* an earlier export's */")
    assert firmware.export_dsp_header(tmp_path, bad, report) is None
    assert "dset.center" in caplog.text and not (tmp_path / firmware.DSP_HEADER).exists()
    assert firmware.export_dsp_header(tmp_path, cfg, report) == tmp_path / firmware.DSP_HEADER


def test_parity_with_enhance_streaming_tflite_cold_and_after_reset(
    tmp_path, libs, export, cfg, report
):
    """12 s through the C path (double build) equals the CLI's 16-bit output within 1 LSB,
    from a cold start and, on the same stream, after a reset in the middle of other audio."""
    x = noisy_signal(12.0, seed=1)
    cut = 5 * RATE + 37  # not a hop boundary: a reset starts a stream anywhere
    for name, sig in (("full", x), ("tail", x[cut:])):
        audio.write(tmp_path / f"{name}.wav", sig, RATE)
    inputs = [str(tmp_path / "full.wav"), str(tmp_path / "tail.wav")]
    rc = cli.main(["enhance", *inputs, "--out", str(tmp_path / "ref"), "--streaming", "--tflite"])
    assert rc == 0

    fw = firmware.HostFirmware(libs["f64"], cfg, report)
    model = firmware.TflmModel(export, cfg)
    st = fw.stream(model)
    hop, history = cfg.dset.hop_length, cfg.dset.n_fft - cfg.dset.hop_length
    outputs = {"full": firmware.enhance_stream(fw, st, audio.read(inputs[0])[0], hop, history)}
    other = noisy_signal(3.3, seed=2)  # leaves history, overlap-add and LSTM state non-zero
    for t in range(len(other) // hop):
        fw.process(st, other[t * hop : (t + 1) * hop])
    assert fw.lib.lstm_se_reset(st) == 0
    tail = audio.read(inputs[1])[0]
    # The first hop out is the zero history's (dropped below): compared with a cold stream's
    # bit for bit, it shows that the overlap-add memory was cleared too.
    first = fw.process(st, tail[:hop])
    np.testing.assert_array_equal(first, fw.process(fw.stream(model), tail[:hop]))
    assert fw.lib.lstm_se_reset(st) == 0
    outputs["tail"] = firmware.enhance_stream(fw, st, tail, hop, history)

    for name, y in outputs.items():
        audio.write(tmp_path / f"c_{name}.wav", y, RATE)
        ref, got = (
            read_int16(tmp_path / "ref" / f"{name}.wav"),
            read_int16(tmp_path / f"c_{name}.wav"),
        )
        assert len(ref) == len(got) == len(audio.read(tmp_path / f"{name}.wav")[0])
        assert np.max(np.abs(ref)) > 3000  # real audio came out, not silence
        assert np.max(np.abs(ref - got)) <= 1, name


def test_standin_float_build_stays_near_the_double_build(libs):
    """The M7's float path vs the double reference with a fixed mask (no model feedback):
    the difference is float rounding, far under 1 LSB of 16-bit audio."""
    x = noisy_signal(4.0, seed=3)
    out = {}
    for p, lib in libs.items():
        so = ctypes.CDLL(str(lib))
        hops = len(x) // 256
        y = np.zeros(hops * 256, np.float32)
        feats = np.zeros(hops * 257, np.int8)
        rc = so.lstm_se_standin_run(
            ctypes.c_void_p(x.ctypes.data),
            ctypes.c_size_t(hops),
            ctypes.c_void_p(y.ctypes.data),
            ctypes.c_void_p(feats.ctypes.data),
        )
        assert rc == 0
        out[p] = (y, feats)
    assert np.max(np.abs(out["f32"][0] - out["f64"][0])) < 1e-6
    assert np.max(np.abs(out["f64"][0])) > 0.05
    assert np.mean(out["f32"][1] != out["f64"][1]) < 1e-3  # int8 inputs: rare rounding flips


def test_bad_input_returns_error_codes(libs, cfg, report):
    fw = firmware.HostFirmware(libs["f64"], cfg, report)
    lib = fw.lib

    def zeros_model(f, s):
        return np.zeros(257, np.int8), s

    st = fw.stream(zeros_model)
    hop = np.zeros(256, np.float32)
    out = np.zeros(256, np.float32)
    p_in, p_out = hop.ctypes.data, out.ctypes.data
    assert lib.lstm_se_process(None, p_in, 256, p_out) == -1
    assert lib.lstm_se_process(st, None, 256, p_out) == -1
    assert lib.lstm_se_process(st, p_in, 256, None) == -1
    for n in (0, 255, 257, 512):
        assert lib.lstm_se_process(st, p_in, n, p_out) == -2
    assert lib.lstm_se_process(st, p_in, 256, p_out) == 0
    assert lib.lstm_se_reset(None) == -1
    fresh = fw.new_state()  # zeroed memory, never initialized
    assert lib.lstm_se_process(fresh, p_in, 256, p_out) == -4
    assert lib.lstm_se_reset(fresh) == -4
    assert lib.lstm_se_init(fresh, firmware.ModelFn(), None) == -1  # NULL model
    assert lib.lstm_se_init(None, firmware.ModelFn(lambda *a: 0), None) == -1

    def failing_model(f, s):
        raise RuntimeError("no model")

    st2 = fw.stream(failing_model)
    out[:] = 1.0
    assert lib.lstm_se_process(st2, p_in, 256, p_out) == -3
    assert not out.any()  # the lost hop is silence, not stale samples
    assert "NULL" in fw.strerror(-1) and "unknown" in fw.strerror(7)


# ---------------------------------------------------------------------------------------------
# Cortex-M7 build and qemu (marker firmware_arm)


def _need_arm() -> None:
    problem = firmware.arm_toolchain()
    if problem:
        if os.environ.get("LSTM_SE_REQUIRE_ARM") == "1":
            pytest.fail(f"LSTM_SE_REQUIRE_ARM=1 but {problem}")
        pytest.skip(f"Cortex-M7 build and qemu run skipped: {problem}")


@pytest.mark.firmware_arm
def test_m7_build_and_qemu_output_equal_the_host_float_build(tmp_path, libs, export):
    """No warnings at -Wall -Wextra (-Werror), the DSP part's sizes, and the stand-in run on
    qemu's Cortex-M7 equal to the host float build: same IEEE single rounding, no FMA."""
    _need_arm()
    built = firmware.build_m7(tmp_path / "m7", export)
    sizes = built["sizes"]
    assert 4000 < sizes["text"] < 200_000
    assert sizes["bss"] >= 4 * 512 * 4  # lstm_se_t: four float buffers of n_fft
    x = noisy_signal(2.0, seed=4)[: 120 * 256]
    ran = firmware.run_qemu(built["elf"], x, tmp_path / "qemu")
    so = ctypes.CDLL(str(libs["f32"]))
    y = np.zeros_like(x)
    feats = np.zeros(120 * 257, np.int8)
    so.lstm_se_standin_run(
        ctypes.c_void_p(x.ctypes.data),
        ctypes.c_size_t(120),
        ctypes.c_void_p(y.ctypes.data),
        ctypes.c_void_p(feats.ctypes.data),
    )
    np.testing.assert_array_equal(ran["output"], y)
    np.testing.assert_array_equal(ran["features"], feats)
    per_frame = ran["instructions"]
    assert len(per_frame) == 120 and 20_000 < np.median(per_frame) < 3_456_000
