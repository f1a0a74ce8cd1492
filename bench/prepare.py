"""Benchmark of the prepare stage against a seed-like baseline, on the same files.

    python bench/prepare.py [--corpus DIR] [--minutes 10] [--workers 0] [--json bench/prepare.json]

Ours: `lstm_se.prepare.prepare` (validation, soxr resampling, numpy STFT, sharded TFRecords,
all cores), timed end to end with `--force`: its worker pool's start and the validation pass
(which reads every file) are inside the clock.

Baseline, written to do what the seed did: one process; `librosa.load(path, sr=...)` (librosa
resamples, soxr_hq by default); z-score with the noisy statistics; the same segments;
`librosa.stft` per segment; magnitude and phase as `tf.train.FloatList`s of a `tf.train.Example`;
one TFRecord file per segment through `tf.io.TFRecordWriter`. TensorFlow is imported before its
clock starts, and librosa is warmed up on one file (its first call compiles). It runs on the
pairs ours kept, so both process the same audio; the number of segments must agree.

Each measured run is a fresh process; ours and the baseline alternate `--repeat` times (on a
shared machine the load drifts) and the medians are compared. Prints both figures (audio
seconds processed per wall-clock second), wall and CPU seconds, the ratio and the disk bytes
per audio second, and writes them to JSON. Without --corpus it makes a demo corpus of
--minutes minutes (`lstm-se demo-data`; a simple tone-and-noise corpus if that command is not
there) under the work folder and reuses it on later runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("bench.prepare")


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _disk(paths: list[Path]) -> tuple[int, int]:
    """(apparent bytes, allocated bytes) of files; many small files waste partial blocks."""
    apparent = allocated = 0
    for p in paths:
        st = p.stat()
        apparent += st.st_size
        allocated += getattr(st, "st_blocks", 0) * 512
    return apparent, allocated


# ---------------------------------------------------------------------------------------------
# corpus


def _simple_corpus(out: Path, minutes: float, seed: int = 0) -> None:
    """Fallback when `lstm-se demo-data` is missing: harmonic tones in white noise, 48 kHz."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    rate, total = 48000, 0.0
    train, test = [f"p{i:03d}" for i in range(10)], ["p100", "p101"]
    k = 0
    while total < minutes * 60:
        subset = "test" if k % 6 == 2 else "train"  # about 1/6 of the audio tests
        spk = test[(k // 6) % 2] if subset == "test" else train[k % 10]
        seconds = float(rng.uniform(2.0, 5.0))
        t = np.arange(round(seconds * rate)) / rate
        f0 = 100 + 10 * (k % 12)
        clean = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 8))
        clean *= 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)
        clean = 0.3 * clean / np.abs(clean).max()
        noisy = np.clip(clean + 0.05 * rng.standard_normal(len(t)), -0.99, 0.99)
        names = (
            ("clean_trainset_28spk_wav", "noisy_trainset_28spk_wav")
            if subset == "train"
            else ("clean_testset_wav", "noisy_testset_wav")
        )
        for folder, x in zip(names, (clean, noisy), strict=True):
            (out / folder).mkdir(parents=True, exist_ok=True)
            sf.write(out / folder / f"{spk}_{k:03d}.wav", x, rate, subtype="PCM_16")
        total += seconds
        k += 1


def ensure_corpus(work: Path, minutes: float) -> Path:
    """The demo corpus under `work` (made once)."""
    corpus = work / f"demo_{minutes:g}min"
    if (corpus / "clean_testset_wav").is_dir():
        return corpus
    shutil.rmtree(corpus, ignore_errors=True)
    import importlib.util

    if importlib.util.find_spec("lstm_se.demo") is not None:
        log.info("generating a %g-minute demo corpus in %s (lstm-se demo-data)", minutes, corpus)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "lstm_se.cli",
                "demo-data",
                "--out",
                str(corpus),
                "--minutes",
                str(minutes),
            ],
            check=True,
        )
    else:
        log.warning("lstm_se.demo not found: generating a simple tone-and-noise corpus")
        _simple_corpus(corpus, minutes)
    return corpus


# ---------------------------------------------------------------------------------------------
# baseline


def baseline(man: dict[str, Any], root: Path, out: Path) -> dict[str, Any]:
    """The seed-like pipeline over the pairs in `man`; returns its timing and output size."""
    import librosa
    import tensorflow as tf

    d = man["dset"]
    rate, n_fft, hop, win = d["sample_rate"], d["n_fft"], d["hop_length"], d["win_length"]
    size = man["segment_samples"]
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)

    def floats(x: np.ndarray) -> tf.train.Feature:
        return tf.train.Feature(float_list=tf.train.FloatList(value=x.reshape(-1)))

    # Warm-up outside the clock: librosa's first calls import and compile (numba) lazily, a
    # one-off cost the seed also paid, but that would dominate a small corpus.
    warm = next(iter(man["splits"]["train"]["shards"]))["utterances"][0]
    librosa.stft(
        librosa.load(root / warm["noisy"], sr=rate)[0][:size],
        n_fft=n_fft,
        hop_length=hop,
        win_length=win,
        center=d["center"],
    )

    files, segments, first = [], 0, None
    cpu, start = _cpu(), time.perf_counter()
    for split in ("train", "valid", "test"):  # the manifest's order, as ours writes them
        entry = man["splits"][split]
        (out / split).mkdir()
        for shard in entry["shards"]:
            for u in shard["utterances"]:
                noisy, _ = librosa.load(root / u["noisy"], sr=rate)
                clean, _ = librosa.load(root / u["clean"], sr=rate)
                n = min(len(noisy), len(clean))
                mean, std = float(noisy[:n].mean()), max(float(noisy[:n].std()), 1e-8)
                noisy, clean = (noisy[:n] - mean) / std, (clean[:n] - mean) / std
                full, rest = divmod(n, size)
                count = full + (1 if rest and (full == 0 or rest > size // 2) else 0)
                for i in range(count):
                    feats = {}
                    for name, x in (("noisy", noisy), ("clean", clean)):
                        seg = np.zeros(size, np.float32)
                        part = x[i * size : (i + 1) * size]
                        seg[: len(part)] = part
                        spec = (
                            librosa.stft(
                                seg,
                                n_fft=n_fft,
                                hop_length=hop,
                                win_length=win,
                                window="hann",
                                center=d["center"],
                            ).T
                            / n_fft
                        )
                        feats[f"{name}_mag"] = floats(np.abs(spec))
                        feats[f"{name}_phase"] = floats(np.angle(spec))
                        if first is None and name == "noisy":
                            first = np.abs(spec)
                    ex = tf.train.Example(features=tf.train.Features(feature=feats))
                    path = out / split / f"{u['utt']}_{i:03d}.tfrecord"
                    with tf.io.TFRecordWriter(str(path)) as w:
                        w.write(ex.SerializeToString())
                    files.append(path)
                    segments += 1
    elapsed, cpu = time.perf_counter() - start, _cpu() - cpu
    apparent, allocated = _disk(files)
    return {
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "segments": segments,
        "files": len(files),
        "bytes": apparent,
        "bytes_allocated": allocated,
        "first_noisy_mag": first,
    }


# ---------------------------------------------------------------------------------------------


def _cpu() -> float:
    """CPU seconds (user + system) of this process and its finished children."""
    import resource

    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _one_run(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """One timed run in this (fresh) process: imports are done before the clock starts."""
    from lstm_se import config, prepare, records

    ours_dir = args.work / "ours"
    if kind == "ours":
        cfg = config.load(
            args.config,
            [
                f"dset.wav={args.corpus}",
                f"dset.save_path={ours_dir}",
                f"dset.shard_mb={args.shard_mb}",
            ],
        )
        cpu, start = _cpu(), time.perf_counter()
        man = prepare.prepare(cfg, workers=args.workers, force=True, progress=False)
        wall, cpu = time.perf_counter() - start, _cpu() - cpu
        shards = [ours_dir / s["file"] for sp in man["splits"].values() for s in sp["shards"]]
        apparent, allocated = _disk(shards)
        return {
            "seconds": wall,
            "cpu_seconds": cpu,
            "examples": sum(man["examples"].values()),
            "files": len(shards),
            "bytes": apparent,
            "bytes_allocated": allocated,
            "audio_seconds": man["audio_seconds"],
            "pairs": man["validation"]["kept"],
            "workers": args.workers or _cores(),
            "start_method": prepare._start_method(),
        }
    import librosa  # noqa: F401  (imported before the clock, as TensorFlow below)
    import tensorflow  # noqa: F401

    man = records.load_manifest(ours_dir)
    base = baseline(man, args.corpus, args.work / "baseline")
    spec = man["feature_spec"]
    # Same features? (comparable as stored only when ours keeps magnitude and phase)
    diff = (
        float(
            np.abs(
                _first_ours_mag(ours_dir, man["splits"]["train"]["shards"][0]["file"], man)
                - base["first_noisy_mag"]
            ).max()
        )
        if spec["fft"] and spec["feature"] == "mag_phase"
        else None
    )
    return {
        "seconds": base["seconds"],
        "cpu_seconds": base["cpu_seconds"],
        "examples": base["segments"],
        "files": base["files"],
        "bytes": base["bytes"],
        "bytes_allocated": base["bytes_allocated"],
        "max_abs_diff_first_noisy_mag": diff,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, help="corpus in the VoiceBank-DEMAND layout")
    ap.add_argument("--minutes", type=float, default=10.0, help="demo corpus size (no --corpus)")
    ap.add_argument("--workers", type=int, default=0, help="processes for ours (0: all cores)")
    ap.add_argument("--shard-mb", type=float, default=16.0, help="dset.shard_mb for ours")
    ap.add_argument(
        "--repeat", type=int, default=3, help="alternating runs of each; the medians are compared"
    )
    ap.add_argument("--work", type=Path, default=ROOT / "result" / "bench" / "prepare")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "prepare.json")
    ap.add_argument("--config", default=str(ROOT / "conf" / "config.yaml"))
    ap.add_argument("--no-baseline", action="store_true", help="time ours only")
    ap.add_argument("--one-run", choices=("ours", "baseline"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.one_run else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.one_run:
        print("RESULT " + json.dumps(_one_run(args.one_run, args)), flush=True)
        return 0

    args.work.mkdir(parents=True, exist_ok=True)
    args.corpus = args.corpus or ensure_corpus(args.work, args.minutes)
    load = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "baseline": []}
    kinds = ["ours"] if args.no_baseline else ["ours", "baseline"]
    for i in range(args.repeat):
        for kind in kinds:  # alternating, so a change in machine load hits both
            # Each run in a fresh process: no state (imports, caches, a loaded TensorFlow that
            # would change ours' worker start method) carries from one run to the next.
            cmd = [
                sys.executable,
                __file__,
                "--one-run",
                kind,
                "--corpus",
                str(args.corpus),
                "--work",
                str(args.work),
                "--workers",
                str(args.workers),
                "--shard-mb",
                str(args.shard_mb),
                "--config",
                args.config,
            ]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            res = json.loads(
                next(line for line in out.splitlines() if line.startswith("RESULT "))[7:]
            )
            runs[kind].append(res)
            log.info(
                "run %d %-8s %.2f s wall, %.2f s CPU",
                i + 1,
                kind,
                res["seconds"],
                res["cpu_seconds"],
            )

    ours = runs["ours"][-1]
    audio_s = ours["audio_seconds"]
    result: dict[str, Any] = {
        "corpus": str(args.corpus),
        "host": {
            "machine": platform.machine(),
            "python": platform.python_version(),
            "cores": _cores(),
            "loadavg_at_start": [round(x, 2) for x in load],
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "settings": {
            "workers": ours["workers"],
            "start_method": ours["start_method"],
            "shard_mb": args.shard_mb,
            "repeat": args.repeat,
            "config": args.config,
        },
        "audio_seconds": audio_s,
        "pairs": ours["pairs"],
    }
    for kind in kinds:
        walls = [r["seconds"] for r in runs[kind]]
        last = runs[kind][-1]
        med = float(np.median(walls))
        result[kind] = {
            "seconds_median": round(med, 3),
            "seconds_runs": [round(w, 3) for w in walls],
            "cpu_seconds_median": round(
                float(np.median([r["cpu_seconds"] for r in runs[kind]])), 3
            ),
            "audio_s_per_s": round(audio_s / med, 2),
            "examples": last["examples"],
            "files": last["files"],
            "bytes": last["bytes"],
            "bytes_allocated": last["bytes_allocated"],
            "bytes_per_audio_second": round(last["bytes"] / audio_s, 1),
        }
    if not args.no_baseline:
        if result["baseline"]["examples"] != result["ours"]["examples"]:
            raise SystemExit("baseline and ours made different numbers of segments")
        result["baseline"]["max_abs_diff_first_noisy_mag"] = runs["baseline"][-1][
            "max_abs_diff_first_noisy_mag"
        ]
        result["speedup"] = round(
            result["baseline"]["seconds_median"] / result["ours"]["seconds_median"], 2
        )

    print(
        f"\nprepare benchmark: {audio_s:.1f} s of audio in {result['pairs']} pairs "
        f"({args.corpus}), {result['host']['cores']} cores, load {load[0]:.2f} at start, "
        f"median of {args.repeat} runs"
    )
    print(
        f"{'':10} {'wall s':>8} {'CPU s':>7} {'audio s/s':>10} {'files':>7} {'MB':>8} "
        f"{'bytes/audio s':>14}"
    )
    for kind in kinds:
        r = result[kind]
        print(
            f"{kind:10} {r['seconds_median']:8.2f} {r['cpu_seconds_median']:7.2f} "
            f"{r['audio_s_per_s']:10.2f} {r['files']:7d} {r['bytes'] / 1e6:8.1f} "
            f"{r['bytes_per_audio_second']:14.0f}"
        )
    if "speedup" in result:
        print(f"speed-up: {result['speedup']:.2f}x (target >= 3x on 2 cores)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.json}")
    return 0


def _first_ours_mag(folder: Path, shard: str, man: dict[str, Any]) -> np.ndarray:
    """Noisy magnitude of the first example of the first train shard's first utterance, as the
    baseline's first segment is (both walk the manifest in the same order)."""
    import tensorflow as tf

    raw = next(iter(tf.data.TFRecordDataset(str(folder / shard))))
    ex = tf.io.parse_single_example(raw, {"noisy": tf.io.FixedLenFeature([], tf.string)})
    arr = np.frombuffer(ex["noisy"].numpy(), "<f4").reshape(man["feature_spec"]["shape"])
    return arr[0]


if __name__ == "__main__":
    sys.exit(main())
