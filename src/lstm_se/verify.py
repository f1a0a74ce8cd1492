"""The device models against the float Keras model: mask SNR and audio scores over test clips.

Each device model runs frame by frame in TFLite Micro (and in LiteRT, the
second opinion) over the run's test set; its mask is compared with the float Keras model's
(mask SNR, and the SNR of the masked spectrum, which is what reaches the audio), and PESQ-WB,
STOI and SI-SDR of device-enhanced audio with those of float-enhanced audio.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import config as config_mod
from .device_choice import fidelity_targets
from .export_files import DEVICE_KINDS, McuError, report_key
from .tflite_masker import TFLiteMasker

DEFAULT_MAX_CLIPS = 0
"""Test clips scored by the verification: 0 is the whole test set; N > 0 caps it at N clips
evenly spread over the sorted set (`lstm-se export --max-clips N`, for a quicker look)."""


def mask_snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """10 log10(sum ref^2 / sum (ref - est)^2); inf when identical."""
    ref = np.asarray(reference, dtype=np.float64)
    err = ref - np.asarray(estimate, dtype=np.float64)
    noise = float(np.sum(err**2))
    return math.inf if noise == 0 else 10 * math.log10(float(np.sum(ref**2)) / noise)


def clip_magnitudes(noisy: np.ndarray, cfg: config_mod.Config) -> np.ndarray:
    """|STFT| frames `(frames, bins)` of a waveform, as enhance computes them (normalized
    with the clip's own statistics, causal framing with the streaming padding)."""
    from . import audio, features

    d = cfg.dset
    x = np.asarray(noisy, dtype=np.float32)
    xn = audio.normalize(x, audio.norm_stats(x, d.normalize))
    if d.center:
        spec = features.stft(xn, d.n_fft, d.hop_length, d.win_length, True, d.fft_normalize)
    else:
        front, back = features.streaming_pad(len(xn), d.n_fft, d.hop_length)
        spec = features.stft(
            np.pad(xn, (front, back)), d.n_fft, d.hop_length, d.win_length, False, d.fft_normalize
        )
    return np.abs(spec).astype(np.float32)


def run_masker(masker: Any, mags: np.ndarray) -> np.ndarray:
    """Masks `(frames, bins)` of a masker run frame by frame from reset state."""
    masker.reset()
    return np.stack([np.asarray(masker(m), dtype=np.float32) for m in mags])


def float_masks(trained: Any, mags: np.ndarray) -> np.ndarray:
    """Masks of the float Keras sequence model over a whole clip `(frames, bins)`."""
    return np.asarray(trained(mags[np.newaxis].astype(np.float32), training=False))[0]


def testset_pairs(cfg: config_mod.Config) -> list[tuple[Path, Path]]:
    """(noisy, clean) test files of the run's corpus (VoiceBank-DEMAND layout), sorted."""
    root = Path(cfg.dset.wav)
    noisy_dir, clean_dir = root / "noisy_testset_wav", root / "clean_testset_wav"
    if not noisy_dir.is_dir() or not clean_dir.is_dir():
        return []
    from . import audio

    clean = {p.stem: p for p in audio.list_audio(clean_dir)}
    return [(p, clean[p.stem]) for p in audio.list_audio(noisy_dir) if p.stem in clean]


def evenly_spread(items: Sequence[Any], n: int) -> list[Any]:
    """At most `n` items, evenly spaced over `items` (all when there are no more): the test
    clips the export verifies on, deterministic and covering every speaker and SNR of a
    sorted list."""
    if len(items) <= n:
        return list(items)
    idx = np.linspace(0, len(items) - 1, n).round().astype(int)
    return [items[i] for i in idx]


def verify(
    cfg: config_mod.Config,
    trained: Any,
    int8_bytes: bytes,
    float_bytes: bytes | None = None,
    int16_bytes: bytes | None = None,
    max_clips: int = DEFAULT_MAX_CLIPS,
    clips: Sequence[tuple[np.ndarray, np.ndarray | None]] | None = None,
) -> dict[str, Any]:
    """The device candidates (TFLite Micro) against float Keras: mask SNR, audio scores.

    `clips` are (noisy, clean or None) waveforms at cfg.dset.sample_rate; by default the
    run's test set (all of it, or `max_clips` evenly spread). The mask SNR pools all frames of
    all clips. With clean references, PESQ-WB, STOI and SI-SDR of each device model's audio
    and of float-enhanced audio are compared (mean over clips).
    """
    from . import audio

    source = "given clips"
    if clips is None:
        pairs = testset_pairs(cfg)
        pairs = evenly_spread(pairs, max_clips) if max_clips > 0 else pairs
        if not pairs:
            raise McuError(
                f"no test set under '{cfg.dset.wav}' (noisy_testset_wav/clean_testset_wav)"
            )
        source = f"{cfg.dset.wav} test set: {len(pairs)} of {len(testset_pairs(cfg))} clips"
        clips = [
            (audio.read_mono(n, cfg.dset.sample_rate), audio.read_mono(c, cfg.dset.sample_rate))
            for n, c in pairs
        ]
    maskers: dict[str, TFLiteMasker] = {"int8_tflm": TFLiteMasker(int8_bytes, cfg, "tflm")}
    maskers["int8_litert"] = TFLiteMasker(int8_bytes, cfg, "litert")
    if float_bytes is not None:
        maskers["float_litert"] = TFLiteMasker(float_bytes, cfg, "litert")
    if int16_bytes is not None:
        maskers["16x8_tflm"] = TFLiteMasker(int16_bytes, cfg, "tflm")
        maskers["16x8_litert"] = TFLiteMasker(int16_bytes, cfg, "litert")
    ref_all, mag_all, est_all = [], [], {k: [] for k in maskers}
    per_clip_snr = []
    for noisy, _clean in clips:
        mags = clip_magnitudes(noisy, cfg)
        ref = float_masks(trained, mags)
        ref_all.append(ref)
        mag_all.append(mags)
        for key, masker in maskers.items():
            est_all[key].append(run_masker(masker, mags))
        per_clip_snr.append(mask_snr_db(ref, est_all["int8_tflm"][-1]))
    ref_cat = np.concatenate(ref_all)
    snr = {k: round(mask_snr_db(ref_cat, np.concatenate(v)), 2) for k, v in est_all.items()}
    # The same error weighted by the noisy magnitude: the SNR of the masked spectrum |M X|,
    # which is what reaches the audio (a mask error where |X| is small is inaudible).
    mag_cat = np.concatenate(mag_all)
    spec_snr = {
        k: round(mask_snr_db(ref_cat * mag_cat, np.concatenate(v) * mag_cat), 2)
        for k, v in est_all.items()
    }
    # LiteRT is the second opinion on each device model: how far TFLite Micro's masks are from
    # its masks ('identical' when bit for bit).
    second = {}
    for kind in DEVICE_KINDS:
        if f"{kind}_litert" in est_all:
            snr_k = mask_snr_db(
                np.concatenate(est_all[f"{kind}_tflm"]), np.concatenate(est_all[f"{kind}_litert"])
            )
            second[f"{kind}_tflm_vs_litert_snr_db"] = (
                round(snr_k, 2) if math.isfinite(snr_k) else "identical"
            )
    out: dict[str, Any] = {
        "source": source,
        "clips": len(clips),
        "frames": int(ref_cat.shape[0]),
        "mask_snr_db": snr["int8_tflm"],
        "mask_snr_db_by_model": snr,
        "mask_snr_db_worst_clip": round(min(per_clip_snr), 2),
        "masked_spectrum_snr_db_by_model": spec_snr,
        "mask_mean": round(float(ref_cat.mean()), 4),
        **second,
    }
    kinds = [k for k in DEVICE_KINDS if f"{k}_tflm" in maskers]
    device = {kind: maskers[f"{kind}_tflm"] for kind in kinds}
    audio = None
    if any(c is not None for _, c in clips):
        audio = out["audio"] = _audio_scores(cfg, trained, device, clips)
    if audio is not None:
        # What the user hears decides (device_choice): the mask SNR is reported, not targeted.
        for kind in device:
            out[report_key("targets", kind)] = fidelity_targets(audio[report_key("delta", kind)])
    return out


def _audio_scores(
    cfg: config_mod.Config,
    trained: Any,
    maskers: Mapping[str, TFLiteMasker],
    clips: Sequence[tuple[np.ndarray, np.ndarray | None]],
) -> dict[str, Any]:
    """Scores of float-enhanced (offline Keras) and device-enhanced (streaming TFLite Micro,
    one per masker: 'int8', optionally '16x8') audio against the clean references.

    Keys: 'float', and per masker kind k: k (its means), 'delta' (int8 - float) or
    'delta_<k>', '<k>_vs_float_si_sdr_db'; 'table' shows them all."""
    from . import enhance, metrics

    rate = cfg.dset.sample_rate
    rows: dict[str, list[dict[str, float]]] = {"float": [], **{k: [] for k in maskers}}
    sdr_vs_float: dict[str, list[float]] = {k: [] for k in maskers}
    for noisy, clean in clips:
        if clean is None:
            continue
        enhanced = {"float": enhance.enhance_waveform(noisy, rate, cfg, model=trained)[0]}
        for key, masker in maskers.items():
            enhanced[key] = enhance.enhance_waveform(noisy, rate, cfg, masker=masker)[0]
        n = min(len(clean), *(len(e) for e in enhanced.values()))
        for key, enh in enhanced.items():
            rows[key].append(
                {
                    "pesq_wb": metrics.pesq_wb(clean[:n], enh[:n], rate),
                    "stoi": metrics.stoi(clean[:n], enh[:n], rate),
                    "si_sdr": metrics.si_sdr(clean[:n], enh[:n]),
                }
            )
            if key != "float":
                sdr_vs_float[key].append(metrics.si_sdr(enhanced["float"][:n], enh[:n]))
    mean = {
        k: {m: float(np.nanmean([r[m] for r in v])) for m in ("pesq_wb", "stoi", "si_sdr")}
        for k, v in rows.items()
    }
    lines = [
        "| audio (vs clean) | PESQ-WB | STOI | SI-SDR (dB) |",
        "|---|---:|---:|---:|",
        "| float Keras | {pesq_wb:.3f} | {stoi:.4f} | {si_sdr:.2f} |".format(**mean["float"]),
    ]
    out: dict[str, Any] = {"clips": len(rows["float"]), "float": mean["float"]}
    for key in maskers:
        delta = {m: mean[key][m] - mean["float"][m] for m in mean["float"]}
        out[key] = mean[key]
        out[report_key("delta", key)] = delta
        out[f"{key}_vs_float_si_sdr_db"] = float(np.nanmean(sdr_vs_float[key]))
        lines += [
            f"| {key} TFLite Micro | {mean[key]['pesq_wb']:.3f} | {mean[key]['stoi']:.4f} | "
            f"{mean[key]['si_sdr']:.2f} |",
            f"| {key} - float | {delta['pesq_wb']:+.3f} | {delta['stoi']:+.4f} | "
            f"{delta['si_sdr']:+.2f} |",
        ]
    out["table"] = "\n".join(lines)
    out["note"] = "PESQ-WB (pesq 0.0.4), STOI (pystoi), SI-SDR zero-mean (Le Roux et al. 2019)"
    return out


def verify_on_magnitudes(
    cfg: config_mod.Config,
    trained: Any,
    int8_bytes: bytes,
    mags: Sequence[np.ndarray],
    int16_bytes: bytes | None = None,
) -> dict[str, Any]:
    """Mask SNR of int8 (and 16x8) in TFLite Micro against float Keras on magnitude segments
    (no audio, so no fidelity targets: the device choice then goes by mask SNR)."""
    ref = np.concatenate([float_masks(trained, m) for m in mags])
    out: dict[str, Any] = {
        "source": f"{len(mags)} training-record segments (no test set)",
        "clips": len(mags),
        "frames": int(ref.shape[0]),
    }
    models = {"int8": int8_bytes, "16x8": int16_bytes}
    for kind, data in models.items():
        if data is None:
            continue
        masker = TFLiteMasker(data, cfg, "tflm")
        snr = mask_snr_db(ref, np.concatenate([run_masker(masker, m) for m in mags]))
        out[report_key("mask_snr_db", kind)] = round(snr, 2)
    return out
