"""Package a trained and evaluated run as a shipped pretrained model, with its scores.

    python bench/pretrained.py RUN [--name lstm-2x128] [--set mixed=test --set chime2=chime2]
                               [--device KIND]

Copies RUN into `pretrained/NAME/` (`runs.package`: config, weights-only `model.keras`,
`export/`, `summary.json`, `history.csv`) and writes `pretrained/NAME/results.json` from the
run's evaluations (`lstm-se evaluate`, `RUN/eval/<testset>[_<device>]/metrics.json`):

    {"mixed": {"noisy": {...}, "float": {"pesq": .., "stoi": .., "si_sdr": .., ...},
               "device": {...}, "device_kind": "int8", "files": 221}, "chime2": {...}}

`--set LABEL=TESTSET` maps a label of results.json to an evaluation's test-set name (`test` is
the run's own test split). The device model's figures come from the evaluation of `--device`
(default: the kind of the run's exported device model, export.json's `device`, as
`lstm-se evaluate --tflite` names it). When RUN is `pretrained/NAME` itself, only results.json
is written again (after a new export and `lstm-se evaluate --tflite` of the shipped model).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from lstm_se import evaluate, export_files, metrics, runs


def device_kind(run: Path) -> str:
    """The kind of the run's exported device model ('int8' for an export without a choice)."""
    path = export_files.export_dir(run) / export_files.JSON_FILE
    if not path.is_file():
        raise SystemExit(f"error: {path} does not exist: run `lstm-se export` first")
    return json.loads(path.read_text()).get("device", {}).get("kind", "int8")


def _means(path: Path) -> tuple[dict[str, float], dict[str, float], int]:
    data = json.loads(path.read_text(encoding="utf-8"))
    enhanced = {k: data["enhanced"][k]["mean"] for k in metrics.SCORE_KEYS}
    noisy = {k: data["noisy"][k]["mean"] for k in metrics.SCORE_KEYS}
    return noisy, enhanced, int(data["enhanced"]["pesq"]["n"])


def results(run: Path, sets: dict[str, str], device: str) -> dict:
    """results.json's content from the run's metrics.json files."""
    out: dict = {}
    for label, name in sets.items():
        path = evaluate.eval_dir(run, name) / "metrics.json"
        if not path.is_file():
            raise SystemExit(f"error: {path} does not exist: run `lstm-se evaluate` first")
        noisy, enhanced, n = _means(path)
        entry = {"testset": name, "files": n, "noisy": noisy, "float": enhanced}
        dev = evaluate.eval_dir(run, name, device) / "metrics.json"
        if dev.is_file():
            entry["device"] = _means(dev)[1]
            entry["device_kind"] = device
        out[label] = entry
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a finished, exported and evaluated run folder")
    parser.add_argument("--name", default=runs.DEFAULT_PRETRAINED)
    parser.add_argument("--set", action="append", default=None, metavar="LABEL=TESTSET")
    parser.add_argument(
        "--device", default=None, help="the device model's evaluation suffix (int8, 16x8)"
    )
    args = parser.parse_args(argv)
    run = Path(args.run)
    sets = dict(s.split("=", 1) for s in (args.set or ["mixed=test", "chime2=chime2"]))
    scores = results(run, sets, args.device or device_kind(run))
    dest = runs.PRETRAINED_ROOT / args.name
    if run.resolve() != dest.resolve():
        dest = runs.package(run, dest)
    text = json.dumps(scores, indent=2) + "\n"
    tmp = dest / f".{runs.RESULTS}.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, dest / runs.RESULTS)
    print(text)
    print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
