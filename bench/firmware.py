"""Firmware figures: the DSP part's size and instructions per frame on the Cortex-M7 (qemu),
and the C path's parity with `lstm-se enhance --streaming --tflite`.

    python bench/firmware.py [--run RUN] [--seconds 12] [--out result/bench/firmware.json]

Builds `firmware/` for the host (double and float) and, when gcc-arm-none-eabi and
qemu-system-arm are installed, for the Cortex-M7; runs a synthetic speech-like signal in 5 dB
white noise through both host builds with the run's device model (int8 or 16x8) in TFLite Micro
and through the reference CLI (`enhance --streaming --tflite`), and the stand-in-mask program on
qemu's mps2-an500 under `-icount shift=0`.
Prints a table and writes JSON. The model's share of the frame comes from the run's
export.json (its cycle estimate), not from a measurement.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from lstm_se import audio, cli, config, firmware, runs
from lstm_se import firmware_header as header
from lstm_se.export_files import report_key

CPU_HZ = 216_000_000
FRAME_S = 0.016


def speech_in_noise(seconds: float, rate: int, seed: int = 1) -> np.ndarray:
    """Harmonic tone (5 partials, 140 Hz, 4 Hz on/off envelope) in white noise at 5 dB SNR."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    x = sum(np.sin(2 * np.pi * 140.0 * k * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 6))
    x = x * (0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t))
    clean = 0.5 * x / np.max(np.abs(x))
    noise = rng.standard_normal(len(t))
    noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 10**0.5)
    return np.clip(clean + noise, -0.99, 0.99).astype(np.float32)


def parity(run: Path, seconds: float, work: Path, kind: str | None = None) -> dict[str, Any]:
    """Max |C - CLI| in 16-bit LSB and the SNR of C against the CLI for the double and the
    float host builds, and how many quantized model inputs the float build computes differently
    from the double one; for the device model, or the candidate `kind` (the CLI then runs
    `--tflite --int8` / `--int16`)."""
    cfg = config.load_run_config(run)
    export = run / "export"
    report = json.loads((export / "export.json").read_text())
    work.mkdir(parents=True, exist_ok=True)
    (work / header.DSP_HEADER).write_text(header.dsp_header(cfg, report, kind))
    rate, hop = cfg.dset.sample_rate, cfg.dset.hop_length
    history = cfg.dset.n_fft - hop
    audio.write(work / "in.wav", speech_in_noise(seconds, rate), rate)
    args = ["--run", str(run), str(work / "in.wav"), "--out", str(work / "ref")]
    flag = {"int8": ["--int8"], "16x8": ["--int16"]}.get(kind or "", [])
    rc = cli.main(["enhance", *args, "--streaming", "--tflite", *flag])
    if rc != 0:
        raise SystemExit(f"reference enhance failed ({rc})")
    ref = sf.read(work / "ref" / "in.wav", dtype="int16")[0].astype(np.int32)
    x = audio.read(work / "in.wav")[0]
    out: dict[str, Any] = {"kind": header.device_kind(report, kind), "seconds": seconds}
    out["samples"] = len(x)
    feats = {}
    for precision in ("f64", "f32"):
        lib = firmware.build_host(work / f"lib_{precision}.so", work, precision)
        fw = firmware.HostFirmware(lib, cfg, report, kind)
        model = firmware.TflmModel(export, cfg, kind)
        seen: list[np.ndarray] = []

        def recording(f: np.ndarray, s: np.ndarray, model: Any = model, seen: list = seen):
            seen.append(f)
            return model(f, s)

        y = firmware.enhance_stream(fw, fw.stream(recording), x, hop, history)
        audio.write(work / f"c_{precision}.wav", y, rate)
        got = sf.read(work / f"c_{precision}.wav", dtype="int16")[0].astype(np.int32)
        diff = np.abs(got - ref)
        err = float(np.sum(diff.astype(np.float64) ** 2))
        snr = 10 * np.log10(float(np.sum(ref.astype(np.float64) ** 2)) / err) if err else None
        out[precision] = {
            "max_lsb": int(diff.max()),
            "samples_over_1_lsb": int((diff > 1).sum()),
            "snr_db_vs_cli": snr,
        }
        feats[precision] = np.stack(seen)
    flips = feats["f32"] != feats["f64"]
    out["f32_model_inputs_differing"] = int(flips.sum())
    out["model_inputs"] = int(flips.size)
    return out


def m7(run: Path, work: Path) -> dict[str, Any]:
    """Sizes of the DSP part and qemu's instructions per frame (stand-in mask)."""
    built = firmware.build_m7(work / "m7", run / "export")
    cfg = config.load_run_config(run)
    report = json.loads((run / "export" / "export.json").read_text())
    x = speech_in_noise(4.0, cfg.dset.sample_rate, seed=2)
    x = x[: len(x) // cfg.dset.hop_length * cfg.dset.hop_length]
    ran = firmware.run_qemu(built["elf"], x, work / "qemu", header.q_dtype(report))
    ins = ran["instructions"][2:]  # the first frames warm nothing on qemu, but skip them anyway
    return {
        "sizes": built["sizes"],
        "lstm_se_t_bytes": ran["state_bytes"],
        "frames": len(ran["instructions"]),
        "instructions_per_frame": {
            "median": float(np.median(ins)),
            "max": float(np.max(ins)),
            "mean": float(np.mean(ins)),
        },
        "method": "qemu-system-arm -M mps2-an500 -icount shift=0, SysTick around each "
        "lstm_se_process, calibrated by a loop of known length",
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", default=None, help="run folder (default: the pretrained model)")
    p.add_argument("--seconds", type=float, default=12.0)
    p.add_argument("--out", default="result/bench/firmware.json")
    args = p.parse_args(argv)
    run = runs.resolve(args.run)
    report = json.loads((run / "export" / "export.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        result: dict[str, Any] = {
            "run": str(run),
            "parity": parity(run, args.seconds, Path(tmp) / "device"),
            "parity_int8": parity(run, args.seconds, Path(tmp) / "int8", "int8"),
        }
        problem = firmware.arm_toolchain()
        result["m7"] = {"skipped": problem} if problem else m7(run, Path(tmp))
    budget_key = report_key("budget", header.device_kind(report))
    model_cycles = float(report[budget_key]["cycles_per_frame"])
    result["model_cycles_per_frame_estimate"] = model_cycles
    budget = CPU_HZ * FRAME_S
    for key in ("parity", "parity_int8"):
        par = result[key]
        print(f"parity vs lstm-se enhance --streaming --tflite, {par['kind']} model, "
              f"{par['seconds']:.0f} s:")  # fmt: skip
        for prec in ("f64", "f32"):
            snr = par[prec]["snr_db_vs_cli"]
            print(f"  {prec} build: max {par[prec]['max_lsb']} LSB, "
                  f"{par[prec]['samples_over_1_lsb']} samples over 1 LSB, SNR vs CLI "
                  f"{'identical' if snr is None else f'{snr:.1f} dB'}")  # fmt: skip
        print(f"  f32 model inputs differing from f64: "
              f"{par['f32_model_inputs_differing']:,} of {par['model_inputs']:,}")  # fmt: skip
    if "sizes" in result["m7"]:
        m = result["m7"]
        dsp = m["instructions_per_frame"]["max"]
        print(f"M7 DSP part: text {m['sizes']['text']:,} B, data {m['sizes']['data']:,} B, "
              f"bss {m['sizes']['bss']:,} B (lstm_se_t {m['lstm_se_t_bytes']:,} B)")  # fmt: skip
        print(f"instructions/frame (qemu): median {m['instructions_per_frame']['median']:,.0f},"
              f" max {dsp:,.0f}")  # fmt: skip
        total = dsp + model_cycles
        print(f"frame: DSP {dsp:,.0f} + model est. {model_cycles:,.0f} = {total:,.0f} of "
              f"{budget:,.0f} cycles ({100 * total / budget:.1f} %)")  # fmt: skip
        result["frame_cycles_bound"] = total
    else:
        print(f"M7 build skipped: {result['m7']['skipped']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
