"""Recipe search: train every row of a search with every seed, score each run, tabulate.

    python bench/search.py run ROWS [key=value ...] --out OUT [--config FILE] [--seeds 1 2]
                               [--testset DIR]
    python bench/search.py device OUT [--max-clips N] [--testset DIR] [--seeds 1]
    python bench/search.py table OUT [--json FILE]

ROWS is a text file, one row per line: a name, then the config overrides that make the row
(`psa model.loss=psa`; a row with no overrides is the config as it is). Blank lines and lines
starting with `#` are skipped. The `key=value` arguments after ROWS apply to every row (the
common budget: records, epochs, ...).

Run mode trains `OUT/<name>_s<seed>/` for each row and seed with `lstm-se train` (seed=<seed>,
folder=OUT), then scores its float model with `lstm-se evaluate` on the records' own test split
and on `--testset` if given. Each run is a subprocess of its own (one TensorFlow per run). A run
whose scores are there is skipped, an unfinished one resumes (train's own resume), so the
search can be stopped and started again. Rows run in file order, seed by seed.

Device mode exports every scored run of OUT (`lstm-se export --max-clips N`: both candidates
verified on N test clips, the device model chosen) and scores the device model frame by frame
in TFLite Micro (`lstm-se evaluate --tflite`) on the same test sets; a run whose device scores
are there is skipped. It is a separate step because it costs about as much as the scoring.

Table mode reads every `OUT/<name>_s<seed>/` (its `summary.json` and `eval/*/metrics.json`)
and prints, per test set, one markdown row per search row: the mean over seeds of PESQ-WB,
STOI and SI-SDR with each seed's value, the training minutes, and where scored the device
model's PESQ-WB and SI-SDR (its kind: int8 or 16x8); it writes the same as JSON (default
`OUT/search.json`).

Seeds: a difference between rows under about 0.03 PESQ-WB is within what another seed changes
(docs/results.md), so every row that decides a choice runs with two seeds, and the table shows
both.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("pesq", "stoi", "si_sdr")
DONE = "search_done.json"
DEVICE_DONE = "device_done.json"


def read_rows(path: Path) -> list[tuple[str, list[str]]]:
    """(name, overrides) for every row of a ROWS file; names must be unique and plain."""
    rows: list[tuple[str, list[str]]] = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, *overrides = line.split()
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name) or "=" in name:
            raise SystemExit(f"{path}:{number}: a row starts with a plain name, got {name!r}")
        bad = [o for o in overrides if "=" not in o]
        if bad:
            raise SystemExit(f"{path}:{number}: overrides are key=value, got {' '.join(bad)}")
        if name in (r[0] for r in rows):
            raise SystemExit(f"{path}:{number}: row name {name!r} used twice")
        rows.append((name, overrides))
    if not rows:
        raise SystemExit(f"{path}: no rows")
    return rows


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "lstm_se.cli", *args]


def run_search(args: argparse.Namespace) -> None:
    rows = read_rows(Path(args.rows))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, overrides in rows:
        for seed in args.seeds:
            run_name = f"{name}_s{seed}"
            run_dir = out / run_name
            if (run_dir / DONE).is_file():
                print(f"{run_name}: scored already, skipped", flush=True)
                continue
            log = out / f"{run_name}.log"
            start = time.perf_counter()
            with log.open("a") as f:
                train = [
                    "train", "-c", args.config, *args.common, *overrides,
                    f"seed={seed}", f"folder={out}", f"train.name={run_name}",
                ]  # fmt: skip
                subprocess.run(_cli(*train), stdout=f, stderr=subprocess.STDOUT, check=True)
                subprocess.run(
                    _cli("evaluate", "--run", str(run_dir)),
                    stdout=f, stderr=subprocess.STDOUT, check=True,
                )  # fmt: skip
                if args.testset:
                    subprocess.run(
                        _cli("evaluate", "--run", str(run_dir), "--testset", args.testset),
                        stdout=f, stderr=subprocess.STDOUT, check=True,
                    )  # fmt: skip
            done = {"row": name, "seed": seed, "overrides": overrides, "common": args.common}
            (run_dir / DONE).write_text(json.dumps(done, indent=2) + "\n")
            print(f"{run_name}: done in {time.perf_counter() - start:.0f} s", flush=True)


def score_devices(args: argparse.Namespace) -> None:
    out = Path(args.out)
    for run_dir in sorted(p for p in out.iterdir() if (p / DONE).is_file()):
        seed = re.fullmatch(r".+_s(\d+)", run_dir.name)
        if args.seeds and not (seed and int(seed.group(1)) in args.seeds):
            continue
        if (run_dir / DEVICE_DONE).is_file():
            print(f"{run_dir.name}: device model scored already, skipped", flush=True)
            continue
        start = time.perf_counter()
        with (out / f"{run_dir.name}.log").open("a") as f:

            def cli(*cmd: str, f=f) -> None:
                subprocess.run(_cli(*cmd), stdout=f, stderr=subprocess.STDOUT, check=True)

            cli("export", "--run", str(run_dir), "--max-clips", str(args.max_clips))
            cli("evaluate", "--run", str(run_dir), "--tflite")
            if args.testset:
                cli("evaluate", "--run", str(run_dir), "--tflite", "--testset", args.testset)
        (run_dir / DEVICE_DONE).write_text(json.dumps({"max_clips": args.max_clips}) + "\n")
        print(f"{run_dir.name}: device model scored in {time.perf_counter() - start:.0f} s")


def _run_record(run_dir: Path) -> dict[str, Any] | None:
    """One run's training summary, float scores and (where scored) the chosen device model's
    scores per test set; None when not trained."""
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        return None
    summary = json.loads(summary_path.read_text())
    export = run_dir / "export" / "export.json"
    chosen = json.loads(export.read_text())["device"]["kind"] if export.is_file() else None
    scores: dict[str, Any] = {}
    device: dict[str, Any] = {}
    for metrics_path in sorted((run_dir / "eval").glob("*/metrics.json")):
        m = json.loads(metrics_path.read_text())
        kind = m.get("model", "float")
        means = {k: m["enhanced"][k]["mean"] for k in KEYS}
        if kind == "float":
            scores[metrics_path.parent.name] = {
                "files": m.get("pairs"),
                "enhanced": means,
                "noisy": {k: m["noisy"][k]["mean"] for k in KEYS},
            }
        elif kind == chosen:  # eval/<testset>_<kind>; another candidate's scores are not shown
            device[metrics_path.parent.name.removesuffix(f"_{kind}")] = {"kind": kind, **means}
    return {
        "train_seconds": summary.get("train_seconds"),
        "optimizer_steps": summary.get("optimizer_steps"),
        "update_ratio": (summary.get("update_ratio") or {}).get("median"),
        "scores": scores,
        "device": device,
    }


def collect(out: Path) -> dict[str, Any]:
    """{row: {seeds: {seed: record}, mean: {testset: {key: mean over seeds}}}} from OUT."""
    rows: dict[str, dict[str, Any]] = {}
    for run_dir in sorted(p for p in out.iterdir() if p.is_dir()):
        match = re.fullmatch(r"(.+)_s(\d+)", run_dir.name)
        record = _run_record(run_dir) if match else None
        if record is None:
            continue
        name, seed = match.group(1), int(match.group(2))
        rows.setdefault(name, {"seeds": {}})["seeds"][seed] = record
    for row in rows.values():
        testsets = sorted({t for r in row["seeds"].values() for t in r["scores"]})
        row["mean"] = {
            t: {
                k: statistics.fmean(
                    r["scores"][t]["enhanced"][k] for r in row["seeds"].values() if t in r["scores"]
                )
                for k in KEYS
            }
            for t in testsets
        }
        row["device_mean"] = {}
        for t in testsets:
            found = [r["device"][t] for r in row["seeds"].values() if t in r.get("device", {})]
            if found:
                row["device_mean"][t] = {
                    "kind": "/".join(sorted({d["kind"] for d in found})),
                    "seeds": len(found),
                    **{k: statistics.fmean(d[k] for d in found) for k in KEYS},
                }
    return rows


def markdown(rows: dict[str, Any]) -> str:
    testsets = sorted({t for row in rows.values() for t in row["mean"]})
    lines = []
    for t in testsets:
        lines += [
            f"#### {t}",
            "",
            "| row | seeds | PESQ-WB | STOI | SI-SDR (dB) | PESQ-WB per seed "
            "| train min per seed | device | device PESQ-WB | device SI-SDR (dB) |",
            "|---|---:|---:|---:|---:|---|---|---|---:|---:|",
        ]
        noisy = next(
            (r["scores"][t]["noisy"] for row in rows.values() for r in row["seeds"].values()
             if t in r["scores"]),
            None,
        )  # fmt: skip
        if noisy:
            lines.append(
                f"| noisy input | | {noisy['pesq']:.3f} | {noisy['stoi']:.3f} "
                f"| {noisy['si_sdr']:.2f} | | | | | |"
            )
        for name, row in rows.items():
            if t not in row["mean"]:
                continue
            seeds = sorted(s for s, r in row["seeds"].items() if t in r["scores"])
            mean = row["mean"][t]
            per_seed = ", ".join(
                f"{row['seeds'][s]['scores'][t]['enhanced']['pesq']:.3f}" for s in seeds
            )
            minutes = ", ".join(
                f"{(row['seeds'][s]['train_seconds'] or 0) / 60:.1f}" for s in seeds
            )
            dev = row["device_mean"].get(t)
            device = (
                f"{dev['kind']} ({dev['seeds']} seed{'s' if dev['seeds'] > 1 else ''}) "
                f"| {dev['pesq']:.3f} | {dev['si_sdr']:.2f}"
                if dev
                else "| |"
            )
            lines.append(
                f"| {name} | {len(seeds)} | {mean['pesq']:.3f} | {mean['stoi']:.3f} "
                f"| {mean['si_sdr']:.2f} | {per_seed} | {minutes} | {device} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="train and score every row with every seed")
    run.add_argument("rows", help="ROWS file: name key=value ... per line")
    run.add_argument("--out", required=True, help="search folder (one run folder per row, seed)")
    run.add_argument("--config", "-c", default=str(ROOT / "conf" / "config.yaml"))
    run.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    run.add_argument("--testset", default=None, help="extra test set (evaluate --testset)")
    run.add_argument("common", nargs="*", help="key=value for every row")
    dev = sub.add_parser("device", help="export every scored run and score its device model")
    dev.add_argument("out", help="search folder")
    dev.add_argument("--max-clips", type=int, default=36, help="export verification clips")
    dev.add_argument("--testset", default=None, help="extra test set (evaluate --testset)")
    dev.add_argument("--seeds", type=int, nargs="+", default=None, help="only these seeds' runs")
    table = sub.add_parser("table", help="tabulate a search folder")
    table.add_argument("out", help="search folder")
    table.add_argument("--json", default=None, help="where to write (default OUT/search.json)")
    args = parser.parse_args(argv)
    if args.cmd == "run":
        bad = [c for c in args.common if "=" not in c]
        if bad:
            parser.error(f"common overrides are key=value, got {' '.join(bad)}")
        run_search(args)
        return 0
    if args.cmd == "device":
        if not Path(args.out).is_dir():
            parser.error(f"{args.out}: no such search folder")
        score_devices(args)
        return 0
    out = Path(args.out)
    if not out.is_dir():
        parser.error(f"{out}: no such search folder")
    rows = collect(out)
    if not rows:
        parser.error(f"{out}: no trained runs named <row>_s<seed>")
    print(markdown(rows))
    target = Path(args.json) if args.json else out / "search.json"
    target.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
