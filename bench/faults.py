"""Fault injection: the mistakes users make, run through the real commands, one row each.

    python bench/faults.py [--out bench/faults.json] [--keep DIR]

Every fault (issue 17's items: data loss, silently wrong results, unclear errors) is made in a
temporary folder with generated audio and a tiny untrained model, run through `lstm-se` in this
process (and once in a child process, for TensorFlow's start-up lines), and checked against
what the command should do. Prints a table fault / expected / got / ok and writes it as JSON;
exits 1 when any fault is not handled as expected. About a minute on a laptop CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import re
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16000
TRAIN = ("clean_trainset_28spk_wav", "noisy_trainset_28spk_wav")
TEST = ("clean_testset_wav", "noisy_testset_wav")


def tone(seconds: float, rate: int, f0: float = 200.0, seed: int = 0) -> np.ndarray:
    """A harmonic tone in a little noise, peak about 0.5."""
    t = np.arange(round(seconds * rate)) / rate
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 4))
    x = x + 0.05 * np.random.default_rng(seed).standard_normal(len(t))
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


def run_cli(*argv: str) -> tuple[int, str]:
    """(exit status, stderr and stdout) of `lstm-se ARGV` run in this process."""
    from lstm_se.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stderr(buf), contextlib.redirect_stdout(buf):
        status = main(list(argv))
    return status, buf.getvalue()


def make_corpus(root: Path, rate: int = 48000) -> Path:
    """A tiny corpus in the VoiceBank-DEMAND layout (4 + 2 speakers)."""
    for folders, speakers in ((TRAIN, ("p001", "p002", "p003", "p004")), (TEST, ("p101", "p102"))):
        for k, spk in enumerate(speakers):
            for i in range(2):
                clean = tone(1.0, rate, 120.0 + 20 * k, seed=k * 10 + i)
                noisy = clean + 0.1 * tone(1.0, rate, 1500.0, seed=99 + i)
                for folder, x in zip(folders, (clean, noisy), strict=True):
                    (root / folder).mkdir(parents=True, exist_ok=True)
                    sf.write(root / folder / f"{spk}_{i + 1:03d}.wav", x, rate, subtype="FLOAT")
    return root


def prepare_args(corpus: Path, records: Path) -> list[str]:
    return [
        f"dset.wav={corpus}",
        f"dset.save_path={records}",
        "dset.segment=0.5",
        "dset.split=0.75",
        "dset.shard_mb=0.5",
        "dset.workers=1",
    ]


def make_run(root: Path) -> Path:
    """A run folder with a tiny untrained model (the faults do not depend on its weights)."""
    from lstm_se import cli, config

    cli.import_tensorflow_quietly()  # as the commands do
    from lstm_se import model as model_mod

    cfg = config.from_dict({"model": {"layers": 1, "units": 8}})
    run = root / "run"
    run.mkdir(parents=True)
    config.save(cfg, run / "config.yaml")
    model_mod.build_model(cfg).save(run / "model.keras")
    return run


# ---------------------------------------------------------------------------------------------
# the faults: each returns (expected, got, ok)

Result = tuple[str, str, bool]


def nan_after_resampling(tmp: Path) -> Result:
    corpus = make_corpus(tmp / "corpus")
    path = corpus / TRAIN[1] / "p002_001.wav"
    x, rate = sf.read(path, dtype="float32")
    sf.write(path, x * 1e37, rate, subtype="FLOAT")
    status, out = run_cli("prepare", *prepare_args(corpus, tmp / "rec"))
    ok = status == 1 and "p002_001" in out and "NaN/Inf" in out
    return "exit 1 naming p002_001 and NaN/Inf", f"exit {status}; {_error_line(out)}", ok


def flipped_bit_in_a_shard(tmp: Path) -> Result:
    from lstm_se import cli, records

    cli.import_tensorflow_quietly()  # records.verify reads the shards with TensorFlow
    corpus = make_corpus(tmp / "corpus")
    rec = tmp / "rec"
    args = prepare_args(corpus, rec)
    run_cli("prepare", *args)
    man = records.load_manifest(rec)
    victim = rec / man["splits"]["train"]["shards"][0]["file"]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x10
    victim.write_bytes(bytes(data))
    try:
        records.verify(rec)
        train_error = "no error"
    except records.RecordsError as exc:
        train_error = str(exc)
    status, out = run_cli("prepare", *args, "--verify")
    rebuilt = "CRC-32 differs" in out and records.verify(rec) == sum(man["examples"].values())
    ok = victim.name in train_error and "prepare --verify" in train_error and rebuilt
    return (
        "train's check names the shard and `prepare --verify`; --verify rebuilds it",
        f"train: {'names it' if victim.name in train_error else train_error[:60]}; "
        f"prepare --verify: exit {status}, {'rebuilt' if rebuilt else 'not rebuilt'}",
        ok and status == 0,
    )


def enhance_into_the_input_folder(tmp: Path, run: Path) -> Result:
    folder = tmp / "in"
    folder.mkdir()
    for name in ("a.wav", "b.wav"):
        sf.write(folder / name, tone(1.0, RATE), RATE, subtype="FLOAT")
    before = [p.read_bytes() for p in sorted(folder.iterdir())]
    status, out = run_cli("enhance", "--run", str(run), str(folder), "--out", str(folder))
    kept = [p.read_bytes() for p in sorted(folder.iterdir())] == before
    ok = status == 2 and kept and "would overwrite input files" in out
    got = f"exit {status}, inputs {'unchanged' if kept else 'OVERWRITTEN'}"
    return "exit 2, inputs unchanged (--overwrite allows it)", got, ok


def same_names_from_three_folders(tmp: Path, run: Path) -> Result:
    inputs = []
    for sub in "abc":
        (tmp / sub).mkdir()
        sf.write(tmp / sub / "x.wav", tone(1.0, RATE), RATE)
        inputs.append(str(tmp / sub / "x.wav"))
    status, out = run_cli("enhance", "--run", str(run), *inputs, "--out", str(tmp / "out"))
    written = len(list((tmp / "out").glob("*.wav"))) if (tmp / "out").exists() else 0
    ok = status == 2 and written == 0 and all(p in out for p in inputs)
    return "exit 2 listing the 3 clashing inputs", f"exit {status}, {written} written", ok


def missing_input(tmp: Path, run: Path) -> Result:
    missing = tmp / "missing.wav"
    status, out = run_cli("enhance", "--run", str(run), str(missing), "--out", str(tmp / "o"))
    ok = status == 1 and f"{missing}: no such file" in out and "System error" not in out
    return "exit 1: '<file>: no such file'", f"exit {status}; {_error_line(out)}", ok


def other_rate_and_umask(tmp: Path, run: Path) -> Result:
    x = tone(1.0, 44100)
    for name in ("a.wav", "b.wav"):
        sf.write(tmp / name, np.stack([x, x], 1), 44100)
    inputs = [str(tmp / "a.wav"), str(tmp / "b.wav")]
    old = os.umask(0o022)
    try:
        status, out = run_cli("enhance", "--run", str(run), *inputs, "--out", str(tmp / "o"))
        status_k, _ = run_cli(
            "enhance", "--run", str(run), *inputs, "--out", str(tmp / "k"), "--keep-rate"
        )
    finally:
        os.umask(old)
    said = out.count("it is enhanced as 16000 Hz mono")
    kept_rate = sf.info(tmp / "k" / "a.wav").samplerate if status_k == 0 else 0
    mode = stat.S_IMODE((tmp / "o" / "a.wav").stat().st_mode) if status == 0 else 0
    ok = status == status_k == 0 and said == 1 and kept_rate == 44100 and mode == 0o644
    return (
        "conversion said once; --keep-rate writes 44100 Hz; mode 0644 (umask 022)",
        f"said {said}x; --keep-rate {kept_rate} Hz; mode {mode:04o}",
        ok,
    )


def long_file(tmp: Path, run: Path) -> Result:
    seconds = 300.0
    sf.write(tmp / "long.wav", tone(seconds, RATE), RATE, subtype="PCM_16")
    start = time.perf_counter()
    status, out = run_cli("enhance", "--run", str(run), str(tmp / "long.wav"), "--out",
                          str(tmp / "s"), "--streaming")  # fmt: skip
    rtf = (time.perf_counter() - start) / seconds
    status_o, _ = run_cli("enhance", "--run", str(run), str(tmp / "long.wav"), "--out",
                          str(tmp / "o"))  # fmt: skip
    bar = "long.wav:" in out and f"/{seconds:.1f} [" in out  # seconds done of its length
    diff = math.inf
    if status == status_o == 0:
        a, _ = sf.read(tmp / "s" / "long.wav", dtype="int16")
        b, _ = sf.read(tmp / "o" / "long.wav", dtype="int16")
        diff = float(np.max(np.abs(a.astype(int) - b.astype(int))))
    ok = status == status_o == 0 and bar and rtf <= 0.02 and diff <= 1
    return (
        "5-min file: a bar within the file; --streaming RTF <= 0.02; equals offline (1 LSB)",
        f"bar {'yes' if bar else 'no'}; RTF {rtf:.4f} (with model load); max diff {diff:g} LSB",
        ok,
    )


def _pairs(root: Path, n: int, cut: int = 0) -> Path:
    for i in range(n):
        (root / "clean").mkdir(parents=True, exist_ok=True)
        (root / "noisy").mkdir(parents=True, exist_ok=True)
        clean = tone(1.0, RATE, 150.0 + 10 * i, seed=i)
        noisy = clean + 0.1 * tone(1.0, RATE, 2000.0, seed=50 + i)
        sf.write(root / "clean" / f"u{i}.wav", clean[: len(clean) - (cut if i == 0 else 0)], RATE)
        sf.write(root / "noisy" / f"u{i}.wav", noisy, RATE)
    return root


def length_mismatch(tmp: Path, run: Path) -> Result:
    testset = _pairs(tmp / "set", 3, cut=800)
    base = ["evaluate", "--run", str(run), "--testset", str(testset)]
    status, out = run_cli(*base)
    allowed, out_a = run_cli(*base, "--allow-length-mismatch")
    ok = (
        status == 1
        and "Skipped: 1 of 3 pairs (1 length mismatch)" in out
        and allowed == 0
        and "800 samples" in out_a
    )
    return (
        "exit 1, skip in the table; allowed: exit 0, '800 samples cut'",
        f"exit {status}/{allowed}",
        ok,
    )


def interval_from_three_files(tmp: Path, run: Path) -> Result:
    status, out = run_cli("evaluate", "--run", str(run), "--testset", str(_pairs(tmp / "s", 3)))
    rows = [line for line in out.splitlines() if line.startswith("| PESQ-WB")]
    ok = status == 0 and bool(rows) and "±" not in rows[0] and "shown from n >= 10" in out
    return "no ± from n = 3, minimum stated", rows[0] if rows else f"exit {status}", ok


def bad_config_values(tmp: Path) -> Result:
    got = []
    for override in ("epochs=0", "batch_size=0", "steps=-1", "optim.lr=-1", "dset.top_db=-5"):
        status, out = run_cli("config", override)
        got.append(status == 2 and f"override '{override}'" in out)
    status, out = run_cli("prepare", "epochs=0")
    same = status == 2 and "'epochs' must be at least 1" in out
    ok = all(got) and same
    return (
        "config and prepare refuse, naming the override",
        f"{sum(got)} of 5 refused; prepare {'same' if same else 'differs'}",
        ok,
    )


def empty_config(tmp: Path) -> Result:
    path = tmp / "empty.yaml"
    path.write_text("")
    status, out = run_cli("config", "-c", str(path))
    ok = status == 0 and "is empty" in out
    return "a warning: running with the defaults", f"exit {status}; {_first_line(out)}", ok


def tf_startup_lines(tmp: Path) -> Result:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    done = subprocess.run(
        [sys.executable, "-m", "lstm_se.cli", "train", "-c", str(tmp / "none.yaml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    lines = done.stderr.strip().splitlines()
    ok = len(lines) == 1 and "does not exist" in lines[0]
    return "only the error line on stderr", f"{len(lines)} line(s)", ok


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line.split(": ", 1)[-1][:90]


def _error_line(text: str) -> str:
    """The first logged error without its time and logger (progress bars share its line)."""
    m = re.search(r" ERROR [\w.]+: (.*)", text)
    return (m.group(1) if m else _first_line(text))[:90]


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="bench/faults.json", help="JSON output file")
    parser.add_argument("--keep", default=None, help="work in this folder and keep it")
    args = parser.parse_args(argv)
    work = Path(args.keep or tempfile.mkdtemp(prefix="lstm-se-faults-"))
    work.mkdir(parents=True, exist_ok=True)

    # prepare's faults first: its worker pool must start before TensorFlow is loaded
    plain: list[tuple[str, str, Callable[[Path], Result]]] = [
        ("5", "float wav near 1e37: NaN after resampling", nan_after_resampling),
        ("6", "a flipped bit in a shard", flipped_bit_in_a_shard),
        ("7", "epochs=0, batch_size=0, steps=-1, lr=-1, top_db=-5", bad_config_values),
        ("10", "an empty config file", empty_config),
        ("14", "TensorFlow start-up lines", tf_startup_lines),
    ]
    with_run: list[tuple[str, str, Callable[[Path, Path], Result]]] = [
        ("1", "enhance IN_DIR --out IN_DIR", enhance_into_the_input_folder),
        ("2", "enhance a/x.wav b/x.wav c/x.wav", same_names_from_three_folders),
        ("9", "a missing input file", missing_input),
        ("12, 13", "44.1 kHz stereo inputs; the output's mode", other_rate_and_umask),
        ("4", "clean 800 samples shorter than noisy", length_mismatch),
        ("15", "95 % interval from n = 3", interval_from_three_files),
        ("11", "a 5-minute file, offline and --streaming", long_file),
    ]
    rows = []
    for item, fault, fn in plain:
        rows.append((item, fault, *fn(_fresh(work, fault))))
    run = make_run(work / "model")
    for item, fault, fn in with_run:
        rows.append((item, fault, *fn(_fresh(work, fault), run)))

    print("| item | fault | expected | got | ok |")
    print("|---|---|---|---|---|")
    rows = [(i, f, e, g.replace(str(work), "<tmp>"), ok) for i, f, e, g, ok in rows]
    for item, fault, expected, got, ok in rows:
        got = got.replace("|", "/")
        print(f"| {item} | {fault} | {expected} | {got} | {'yes' if ok else 'NO'} |")
    result = [{"item": i, "fault": f, "expected": e, "got": g, "ok": ok} for i, f, e, g, ok in rows]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"\n{sum(r['ok'] for r in result)} of {len(result)} faults handled; wrote {args.out}")
    return 0 if all(r["ok"] for r in result) else 1


def _fresh(work: Path, fault: str) -> Path:
    folder = work / "".join(c if c.isalnum() else "_" for c in fault)[:40]
    folder.mkdir(parents=True)
    return folder


if __name__ == "__main__":
    sys.exit(main())
