"""firmware/: the C signal path against `lstm-se enhance --streaming --tflite`.

The library is built with `cc` as a shared object and driven through ctypes; the model call
is answered by the exported device model (16x8 for the pretrained default, int8 possible) in
TFLite Micro's Python interpreter. The Cortex-M7
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
from lstm_se import firmware_header as header

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
    """Host builds from freshly generated headers (not the committed one): the device model's
    in double ('f64') and float ('f32'), and the int8 candidate's in double ('int8_f64')."""
    standin = [firmware.FIRMWARE_DIR / "test" / "standin_model.c"]
    out = {}
    for name, kind, precision in (
        ("f64", None, "f64"),
        ("f32", None, "f32"),
        ("int8_f64", "int8", "f64"),
    ):
        folder = tmp_path_factory.mktemp(f"firmware_{name}")
        (folder / header.DSP_HEADER).write_text(header.dsp_header(cfg, report, kind))
        out[name] = firmware.build_host(
            folder / f"liblstm_se_{precision}.so", folder, precision, standin
        )
    return out


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
    assert (export / header.DSP_HEADER).read_text() == header.dsp_header(cfg, report)


def test_header_values_are_the_python_path_s(cfg, report):
    text = header.dsp_header(cfg, report)
    window = text.split("LSTM_SE_DSP_WINDOW {")[1].split("}")[0]
    values = [float(v) for v in window.replace("\\", " ").replace(",", " ").split()]
    np.testing.assert_array_equal(values, header.features.window(512, 512))
    assert report["device"]["kind"] == "16x8"  # the shipped default's device model
    frame = next(t for t in report["models"]["16x8"]["inputs"] if t["name"] == "frame")
    assert f"#define LSTM_SE_DSP_FRAME_SCALE {frame['scale']!r}" in text
    assert "#define LSTM_SE_DSP_FRAME_ZERO_POINT (0)" in text  # int16: symmetric
    assert '#define LSTM_SE_DSP_STATE_NAMES {"h_1", "c_1", "h_2", "c_2"}' in text


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
    with pytest.raises(header.FirmwareError, match=named):
        header.dsp_header(bad, report)


def test_the_header_follows_the_device_model_s_tensor_type(cfg, report):
    """int8 and 16x8 device models each get their tensor width and quantization; a model
    whose tensors mix types (or are float) is refused."""
    for kind, bits in (("int8", 8), ("16x8", 16)):
        chosen = json.loads(json.dumps(report))
        chosen["device"]["kind"] = kind
        text = header.dsp_header(cfg, chosen)
        assert f"#define LSTM_SE_DSP_TENSOR_BITS {bits}" in text
        frame = next(t for t in report["models"][kind]["inputs"] if t["name"] == "frame")
        assert f"#define LSTM_SE_DSP_FRAME_SCALE {frame['scale']!r}" in text
        assert report["models"][kind]["sha256"] in text
    bad = json.loads(json.dumps(report))
    kind = bad["device"]["kind"]
    bad["models"][kind]["outputs"][0]["dtype"] = "float32"
    with pytest.raises(header.FirmwareError, match=f"the {kind} model's tensors are float32"):
        header.dsp_header(cfg, bad)


def test_export_call_warns_instead_of_failing(tmp_path, cfg, report, caplog):
    bad = dataclasses.replace(cfg, dset=dataclasses.replace(cfg.dset, center=True))
    (tmp_path / header.DSP_HEADER).write_text("/* an earlier export's */")
    assert header.export_dsp_header(tmp_path, bad, report) is None
    assert "dset.center" in caplog.text and not (tmp_path / header.DSP_HEADER).exists()
    assert header.export_dsp_header(tmp_path, cfg, report) == tmp_path / header.DSP_HEADER


def _c_and_cli(tmp_path, lib, export, cfg, report, kind):
    """12 s through the C path (double build) and through `lstm-se enhance --streaming
    --tflite` (with `--int8` for the int8 candidate), from a cold start and, on the same
    stream, after a reset in the middle of other audio. Returns {name: (cli, c)} as 16-bit
    integers, and the C path's model inputs of the cold run."""
    x = noisy_signal(12.0, seed=1)
    cut = 5 * RATE + 37  # not a hop boundary: a reset starts a stream anywhere
    for name, sig in (("full", x), ("tail", x[cut:])):
        audio.write(tmp_path / f"{name}.wav", sig, RATE)
    inputs = [str(tmp_path / "full.wav"), str(tmp_path / "tail.wav")]
    flag = ["--int8"] if kind == "int8" else []
    args = ["enhance", *inputs, "--out", str(tmp_path / "ref"), "--streaming", "--tflite", *flag]
    assert cli.main(args) == 0

    fw = firmware.HostFirmware(lib, cfg, report, kind)
    model = firmware.TflmModel(export, cfg, kind)
    seen: list[np.ndarray] = []

    def recording(f, s):
        seen.append(f)
        return model(f, s)

    hop, history = cfg.dset.hop_length, cfg.dset.n_fft - cfg.dset.hop_length
    full = audio.read(inputs[0])[0]
    outputs = {"full": firmware.enhance_stream(fw, fw.stream(recording), full, hop, history)}
    st = fw.stream(model)
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
    pairs = {}
    for name, y in outputs.items():
        audio.write(tmp_path / f"c_{name}.wav", y, RATE)
        ref = read_int16(tmp_path / "ref" / f"{name}.wav")
        got = read_int16(tmp_path / f"c_{name}.wav")
        assert len(ref) == len(got) == len(audio.read(tmp_path / f"{name}.wav")[0])
        assert np.max(np.abs(ref)) > 3000  # real audio came out, not silence
        pairs[name] = (ref, got)
    return pairs, np.stack(seen), full


def test_parity_with_enhance_streaming_tflite_cold_and_after_reset(
    tmp_path, libs, export, cfg, report
):
    """The C path with the int8 candidate equals the CLI's 16-bit output within 1 LSB: its
    model inputs are the Python path's exactly, so everything after them is too."""
    pairs, _, _ = _c_and_cli(tmp_path, libs["int8_f64"], export, cfg, report, "int8")
    for name, (ref, got) in pairs.items():
        assert np.max(np.abs(ref - got)) <= 1, name


def test_device_model_parity_is_bounded_by_fft_rounding(tmp_path, libs, export, cfg, report):
    """With the 16x8 device model the C path's model inputs are the Python path's but for
    rare one-step flips (CMSIS-DSP's FFT and numpy's round the last bits differently, and the
    int16 grid is 256 times finer than int8's); the int16 LSTM carries them on, so the audio
    is compared by its SNR against the CLI's (measured 71 dB, docs/firmware.md)."""
    assert report["device"]["kind"] == "16x8"
    pairs, seen, full = _c_and_cli(tmp_path, libs["f64"], export, cfg, report, None)
    from lstm_se import model as model_mod
    from lstm_se import tflite_masker, verify

    frame = next(t for t in report["models"]["16x8"]["inputs"] if t["name"] == "frame")
    mags = verify.clip_magnitudes(full, cfg)
    want = tflite_masker.quantize(
        model_mod.compress(mags, cfg), frame["scale"], frame["zero_point"], "int16"
    )
    n = min(len(want), len(seen))
    diff = seen[:n].astype(np.int32) - want[:n]
    assert np.max(np.abs(diff)) <= 1 and np.mean(diff != 0) < 1e-3
    for name, (ref, got) in pairs.items():
        err = (ref - got).astype(np.float64)
        snr = 10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / max(np.sum(err**2), 1.0))
        assert snr >= 60.0, (name, snr)


def test_standin_float_build_stays_near_the_double_build(libs, report):
    """The M7's float path vs the double reference with a fixed mask (no model feedback):
    the difference is float rounding, far under 1 LSB of 16-bit audio."""
    x = noisy_signal(4.0, seed=3)
    out = {}
    for p, lib in libs.items():
        so = ctypes.CDLL(str(lib))
        hops = len(x) // 256
        y = np.zeros(hops * 256, np.float32)
        feats = np.zeros(hops * 257, header.q_dtype(report))
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
    # Quantized inputs: rare rounding flips, of one step.
    assert np.mean(out["f32"][1] != out["f64"][1]) < 1e-3
    diff = out["f32"][1].astype(np.int32) - out["f64"][1]
    assert np.max(np.abs(diff)) <= 1


def test_bad_input_returns_error_codes(libs, cfg, report):
    fw = firmware.HostFirmware(libs["f64"], cfg, report)
    lib = fw.lib

    def zeros_model(f, s):
        return np.zeros(257, fw.dtype), s

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
def test_m7_build_and_qemu_output_equal_the_host_float_build(tmp_path, libs, export, report):
    """No warnings at -Wall -Wextra (-Werror), the DSP part's sizes, and the stand-in run on
    qemu's Cortex-M7 equal to the host float build: same IEEE single rounding, no FMA (the
    model inputs within one step: libm's powf differs)."""
    _need_arm()
    built = firmware.build_m7(tmp_path / "m7", export)
    sizes = built["sizes"]
    assert 4000 < sizes["text"] < 200_000
    assert sizes["bss"] >= 4 * 512 * 4  # lstm_se_t: four float buffers of n_fft
    x = noisy_signal(2.0, seed=4)[: 120 * 256]
    ran = firmware.run_qemu(built["elf"], x, tmp_path / "qemu", header.q_dtype(report))
    so = ctypes.CDLL(str(libs["f32"]))
    y = np.zeros_like(x)
    feats = np.zeros(120 * 257, header.q_dtype(report))
    so.lstm_se_standin_run(
        ctypes.c_void_p(x.ctypes.data),
        ctypes.c_size_t(120),
        ctypes.c_void_p(y.ctypes.data),
        ctypes.c_void_p(feats.ctypes.data),
    )
    np.testing.assert_array_equal(ran["output"], y)
    # The model inputs pass through powf, which newlib (M7) and glibc (host) may round one ULP
    # apart: on the int16 grid that flips an input by one step now and then (2 of 30,840 here).
    flips = ran["features"].astype(np.int32) - feats
    assert np.max(np.abs(flips)) <= 1 and np.mean(flips != 0) < 1e-3
    per_frame = ran["instructions"]
    assert len(per_frame) == 120 and 20_000 < np.median(per_frame) < 3_456_000
