"""Quality benchmark: corpus -> records -> training -> export -> scores, as one table.

    python bench/quality.py [CORPUS_DIR] [--testset DIR] [--config FILE] [--name NAME]
                            [--out result/bench/quality] [--device | --no-device] [--workers N]
                            [--reference LABEL=DIR ...] [--baseline TESTSET=JSON ...]
                            [key=value ...]
    python bench/quality.py --table OUT [--reference LABEL=DIR ...] [--baseline TESTSET=JSON ...]

Run mode reproduces the project's quality figures from a corpus in the VoiceBank-DEMAND layout
(what `lstm-se mix` or `lstm-se demo-data` writes), in `OUT/NAME/`:

1. prepare: `lstm-se prepare` into `OUT/NAME/records/` (prepare does nothing when the records
   are there for the same config and corpus, and refuses another config there);
2. train: `lstm-se train` into `OUT/NAME/run/`, timed by the wall clock (summed over the
   sessions that trained, in `OUT/NAME/train_time.json`; a finished run is not touched, an
   unfinished one resumes, one started with another config is refused);
3. export: `lstm-se export` (the int8 and 16x8 candidates verified in TFLite Micro, MACs,
   budget, and the device model it chooses between them), skipped when `export.json` is newer
   than the trained model;
4. evaluate: `lstm-se evaluate` with the float model and, unless `--no-device`, with the
   device model (`--tflite`: the export's choice, int8 or 16x8, in TFLite Micro), on the
   corpus' own test split and on `--testset DIR` if given; an evaluation whose metrics.json is
   newer than its model is reused;
5. `OUT/NAME/quality.json`: name, config and overrides, parameters, int8 model bytes, MACs per
   frame, the device model's kind and bytes, training seconds and epochs, the int8 mask SNR vs
   float, and for each test set the mean PESQ-WB, STOI, ESTOI, SI-SDR, CSIG, CBAK, COVL of the
   noisy input, the float and the device model (under its kind, `int8` or `16x8`; with 95 %
   interval half-widths); the table is printed.

The config's `dset.wav`, `dset.save_path`, `folder` and `train.name` are set by the bench (the
overrides cannot move them). Delete `OUT/NAME` to start over.

Without CORPUS_DIR the demo corpus is used: `OUT/demo_corpus/`, generated when absent (2 minutes
of synthetic speech, 10 speakers, as `lstm-se demo-data`), with `conf/demo.yaml` (a 2 x 64
model, 8 short epochs): about 2 minutes on 2 CPU cores, figures that show the path works, not
what a real model reaches. With CORPUS_DIR the default config is `conf/config.yaml`. NAME
defaults to the config file's stem, plus a hash of the overrides when there are any.

Table mode (`--table OUT`) collects every `OUT/*/quality.json` into one markdown table (printed
and written to `OUT/quality.md`): per test set the noisy input once, then a float and a device-model
row (marked int8 or 16x8) per benchmark. Extra rows:

* `--reference "LABEL=DIR"`: DIR holds another system's enhanced wavs named like the test set's
  files, and sits beside its `clean/` and `noisy/` folders (e.g. CHiME-2's devtest
  `tinylstm_baseline/`); they are scored against the clean references with evaluate's code
  (`evaluate.score_folder`) at 16 kHz;
* `--baseline "TESTSET=JSON"`: published or earlier figures for the test set named TESTSET
  (`chime2`, or the `<corpus> test split` label): an evaluate `metrics.json` (its `enhanced`
  means) or a flat `{"name": ..., "pesq": ..., "stoi": ..., ...}`; `parameters`, `int8_bytes`,
  `macs_per_frame` are shown when present.

Paths all come from the arguments: nothing outside them is read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import platform
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstm_se import eval_report, evaluate, metrics

log = logging.getLogger("bench.quality")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "result" / "bench" / "quality"
KEYS = metrics.SCORE_KEYS
QUALITY_FILE = "quality.json"
TRAIN_TIME_FILE = "train_time.json"


def _is_newer(path: Path, than: Path) -> bool:
    return path.is_file() and than.is_file() and path.stat().st_mtime >= than.stat().st_mtime


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _write_json(path: Path, data: Any) -> None:
    from lstm_se.config import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------
# run mode: the stages


def split_positionals(items: Sequence[str]) -> tuple[str | None, list[str]]:
    """(corpus folder or None, overrides): the corpus is the one positional without a `=`."""
    plain = [i for i in items if "=" not in i]
    if len(plain) > 1:
        raise SystemExit(f"one corpus folder expected, got {', '.join(plain)}")
    return (plain[0] if plain else None), [i for i in items if "=" in i]


def default_name(config_path: str, overrides: Sequence[str]) -> str:
    stem = Path(config_path).stem
    if not overrides:
        return stem
    return f"{stem}-{hashlib.sha1(' '.join(overrides).encode()).hexdigest()[:8]}"


def ensure_demo_corpus(out: Path, config_path: str) -> Path:
    """`out/demo_corpus`, generated once (mix settings of the config, as `lstm-se demo-data`)."""
    from lstm_se import config, demo

    corpus = out / "demo_corpus"
    # The corpus is written to a temporary folder and renamed: info.json means complete.
    if not (corpus / "info.json").is_file():
        log.info("generating the demo corpus in %s", corpus)
        demo.make_demo_corpus(
            corpus,
            config.load(config_path).mix,
            force=corpus.exists(),  # make_demo_corpus's defaults: 2 minutes, 10 speakers
        )
    return corpus


def bench_config(config_path: str, overrides: Sequence[str], corpus: Path, work: Path):
    """The config with the bench's paths last, so that no override can move them. Absolute
    paths: the run's config.yaml must point at its records from any working folder."""
    from lstm_se import config

    return config.load(
        config_path,
        [
            *overrides,
            f"dset.wav={corpus.resolve()}",
            f"dset.save_path={(work / 'records').resolve()}",
            f"folder={work.resolve()}",
            "train.name=run",
        ],
    )


def _epoch(state: Mapping[str, Any] | None) -> int:
    return int(state["epoch"]) if state else 0


def train_stage(cfg, work: Path) -> dict[str, Any]:
    """Train, resume, or leave a finished run as it is: always through `train.run`, which
    refuses a run started with another config. Wall-clock seconds summed over the sessions
    whose saved state advanced by an epoch."""
    from lstm_se import LstmSeError, run_state, train

    run_dir = work / "run"
    time_path = work / TRAIN_TIME_FILE
    timing = json.loads(time_path.read_text()) if time_path.is_file() else {"seconds": 0.0}
    before = run_state.read_state(run_dir)
    start = time.perf_counter()
    train.run(cfg, verbose=2)  # a finished run: "nothing to do"
    seconds = time.perf_counter() - start
    state = run_state.read_state(run_dir)
    if _epoch(state) > _epoch(before):
        timing["seconds"] = round(timing["seconds"] + seconds, 2)
        timing["sessions"] = timing.get("sessions", 0) + 1
        _write_json(time_path, timing)
    try:
        _, model = train.load_run(run_dir)
    except (FileNotFoundError, LstmSeError) as exc:
        raise SystemExit(f"error: no trained model to benchmark: {exc}") from None
    return {
        "run": str(run_dir),
        "seconds": timing["seconds"],
        "sessions": timing.get("sessions", 0),
        "epochs": _epoch(state),
        "stopped_early": bool(state and state.get("stopped_early")),
        "parameters": int(model.count_params()),
    }


def export_stage(run_dir: Path) -> dict[str, Any]:
    """export.json of the run, exporting first unless it is newer than the trained model."""
    from lstm_se import export, export_files, runs

    report_path = export_files.export_dir(run_dir) / export_files.JSON_FILE
    if _is_newer(report_path, run_dir / runs.MODEL):
        log.info("export: %s is up to date, reusing it", report_path)
    else:
        result = export.export_run(run_dir)
        for line in export.summary_lines(result.report):
            log.info("%s", line)
    return json.loads(report_path.read_text())


def evaluate_stage(
    run_dir: Path, testset: Path | None, kind: str, workers: int | None
) -> dict[str, Any]:
    """metrics.json of one evaluation, reused when newer than the model it scored. `kind`
    'float', or the device model's kind ('int8' or '16x8'): the device model is scored."""
    from lstm_se import export_files, runs, tflite_masker

    name = evaluate.testset_name(testset)
    metrics_path = evaluate.eval_dir(run_dir, name, kind) / "metrics.json"
    model_file = (
        run_dir / runs.MODEL
        if kind == "float"
        else export_files.export_dir(run_dir) / export_files.DEVICE_FILE
    )
    result = None
    if _is_newer(metrics_path, model_file):
        saved = json.loads(metrics_path.read_text())
        want = "manifest" if testset is None else str(testset)
        same_set = (saved.get("layout") if testset is None else saved.get("testset")) == want
        if saved.get("model", "float") == kind and same_set:
            log.info("evaluate: %s is up to date, reusing it", metrics_path)
            result = saved
    if result is None:
        evaluate.evaluate_run(
            run_dir,
            testset,
            workers=workers,
            masker_factory=None if kind == "float" else tflite_masker.device_masker,
        )
        result = json.loads(metrics_path.read_text())  # NaN already null, as when reused
    if result.get("failed"):
        log.warning(
            "evaluate: %d pair(s) of %s could not be scored and are left out (see %s)",
            len(result["failed"]), name, metrics_path,
        )  # fmt: skip
    return result


def _means(summary: Mapping[str, Any]) -> dict[str, float | None]:
    return {k: _finite(summary[k]["mean"]) for k in KEYS}


def _ci95(summary: Mapping[str, Any]) -> dict[str, float | None]:
    return {k: _finite(summary[k]["ci95"]) for k in KEYS}


def testset_entry(label: str, path: Path, by_model: Mapping[str, Mapping[str, Any]]) -> dict:
    """One test set of quality.json from its evaluations (model kind -> metrics.json)."""
    first = next(iter(by_model.values()))
    entry: dict[str, Any] = {
        "name": label,
        "path": str(path.resolve()),
        "files": first["files"],
        "rate": first["rate"],
        "noisy": _means(first["noisy"]),
    }
    for kind, result in by_model.items():
        entry[kind] = _means(result["enhanced"])
    entry["ci95"] = {"noisy": _ci95(first["noisy"])} | {
        kind: _ci95(result["enhanced"]) for kind, result in by_model.items()
    }
    return entry


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    """Every stage for one corpus and config; returns (and writes) quality.json's content."""
    from lstm_se import prepare

    corpus_arg, overrides = split_positionals(args.positional)
    out = Path(args.out)
    config_path = args.config or str(ROOT / "conf" / ("config.yaml" if corpus_arg else "demo.yaml"))
    name = args.name or default_name(config_path, overrides)  # "demo" or "demo-<hash>" too
    corpus = Path(corpus_arg) if corpus_arg else ensure_demo_corpus(out, config_path)
    work = out / name
    cfg = bench_config(config_path, overrides, corpus, work)
    log.info("quality benchmark %s: corpus %s, config %s %s", name, corpus, config_path,
             " ".join(overrides))  # fmt: skip

    start = time.perf_counter()
    prepare.prepare(cfg)
    trained = train_stage(cfg, work)
    run_dir = Path(trained["run"])
    report = export_stage(run_dir)
    device = report["device"]
    kinds = ("float", device["kind"]) if args.device else ("float",)
    # (label, test set folder or None for the corpus' own test split)
    testsets: list[tuple[str, Path | None]] = [(f"{corpus.resolve().name} test split", None)]
    if args.testset:
        testsets.append((evaluate.testset_name(args.testset), Path(args.testset)))
    entries = []
    for label, testset in testsets:
        by_model = {kind: evaluate_stage(run_dir, testset, kind, args.workers) for kind in kinds}
        entries.append(testset_entry(label, corpus if testset is None else testset, by_model))

    verification = report.get("verification", {})
    quality = {
        "name": name,
        "config": str(config_path),
        "overrides": list(overrides),
        "corpus": str(corpus.resolve()),
        "run": str(run_dir.resolve()),
        "model": {"layers": cfg.model.layers, "units": cfg.model.units},
        "parameters": trained["parameters"],
        "int8_bytes": report["models"]["int8"]["bytes"],
        "float_tflite_bytes": report["models"]["float"]["bytes"],
        "device_kind": device["kind"],
        "device_bytes": report["models"][device["kind"]]["bytes"],
        "macs_per_frame": report.get("macs_per_frame"),
        "elementwise_per_frame": report.get("elementwise_per_frame"),
        "arena_bytes": report.get("arena", {}).get("recommended_bytes"),
        "budget_pass": report.get("budget", {}).get("pass"),
        "int8_mask_snr_db": verification.get("mask_snr_db"),
        "train_seconds": trained["seconds"],
        "train_sessions": trained["sessions"],
        "epochs": trained["epochs"],
        "stopped_early": trained["stopped_early"],
        "testsets": entries,
        "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "seconds_this_call": round(time.perf_counter() - start, 1),
    }
    if "check_error" in report:
        quality["export_check_error"] = report["check_error"]
    _write_json(work / QUALITY_FILE, quality)
    log.info("wrote %s", work / QUALITY_FILE)
    return quality


# ---------------------------------------------------------------------------------------------
# the table


@dataclass
class Row:
    name: str
    model: str
    scores: dict[str, float | None]
    parameters: int | None = None
    int8_bytes: int | None = None
    macs_per_frame: int | None = None
    train_seconds: float | None = None


@dataclass
class Group:
    """One test set: its noisy-input row once, then every model's rows."""

    name: str
    path: str | None
    files: int | None
    noisy: Row | None = None
    rows: list[Row] = field(default_factory=list)


def _group(groups: list[Group], name: str, path: str | None, files: int | None = None) -> Group:
    """The group of a test set, by path when both have one, else by name; made when missing."""
    for g in groups:
        if (path is not None and g.path == path) or (
            (path is None or g.path is None) and g.name == name
        ):
            return g
    groups.append(Group(name, path, files))
    return groups[-1]


def collect(qualities: Sequence[Mapping[str, Any]]) -> list[Group]:
    """Groups of rows from quality.json contents, in the order test sets first appear."""
    groups: list[Group] = []
    for q in qualities:
        info = {
            "parameters": q.get("parameters"),
            "int8_bytes": q.get("int8_bytes"),
            "macs_per_frame": q.get("macs_per_frame"),
            "train_seconds": q.get("train_seconds"),
        }
        for ts in q["testsets"]:
            g = _group(groups, ts["name"], ts.get("path"), ts.get("files"))
            if g.noisy is None:
                g.noisy = Row("noisy input", "", ts["noisy"])
            for kind in evaluate.MODELS:
                if kind in ts:
                    g.rows.append(Row(q["name"], kind, ts[kind], **info))
    return groups


def load_qualities(out: Path) -> list[dict[str, Any]]:
    found = sorted(out.glob(f"*/{QUALITY_FILE}"))
    if not found:
        raise SystemExit(f"no {QUALITY_FILE} under {out}/*/")
    return [json.loads(p.read_text()) for p in found]


def _scores(source: Mapping[str, Any]) -> dict[str, float | None]:
    """Metric means from `{key: value}` or `{key: {"mean": value}}` (PESQ also as pesq_wb)."""
    scores = {}
    for key in KEYS:
        value = source.get(key, source.get("pesq_wb") if key == "pesq" else None)
        scores[key] = _finite(value.get("mean") if isinstance(value, Mapping) else value)
    return scores


def load_baseline(path: str) -> dict[str, Any]:
    """A `--baseline` JSON object; a missing, unreadable or invalid file is a clear error."""
    problem = "does not hold a JSON object"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        data, problem = None, f"cannot be read: {exc.strerror or exc}"
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        data, problem = None, f"is not valid JSON: {exc}"
    if not isinstance(data, dict):
        raise SystemExit(f"error: --baseline file '{path}' {problem}")
    return data


def baseline_row(data: Mapping[str, Any], label: str) -> Row:
    """A row from a metrics-like JSON: evaluate's metrics.json (its `enhanced` means, named
    after its run) or flat metric values with an optional `name`."""
    name = data.get("name") or (Path(data["run"]).name if "run" in data else label)
    return Row(
        str(name),
        str(data.get("model", "")),
        _scores(data.get("enhanced", data)),
        data.get("parameters"),
        data.get("int8_bytes"),
        data.get("macs_per_frame"),
        data.get("train_seconds"),
    )


def _pair(spec: str, option: str) -> tuple[str, str]:
    left, sep, right = spec.partition("=")
    if not sep or not left or not right:
        raise SystemExit(f"{option} expects NAME=PATH, got '{spec}'")
    return left, right


def add_extras(
    groups: list[Group],
    references: Sequence[str],
    baselines: Sequence[str],
    rate: int,
    workers: int | None,
) -> None:
    """Scored reference folders and baseline JSONs as rows of their test sets."""
    for spec in references:
        label, folder = _pair(spec, "--reference")
        testset = Path(folder).resolve().parent
        scored = evaluate.score_folder(folder, testset, rate=rate, workers=workers)
        g = _group(groups, evaluate.testset_name(testset), str(testset), scored["files"])
        if g.noisy is None:
            g.noisy = Row("noisy input", "", _means(scored["noisy"]))
        g.rows.append(Row(label, "reference", _means(scored["enhanced"])))
    for spec in baselines:
        testset_name, path = _pair(spec, "--baseline")
        data = load_baseline(path)
        g = _group(groups, testset_name, None, data.get("files"))
        if g.noisy is None and isinstance(data.get("noisy"), Mapping):
            g.noisy = Row("noisy input", "", _scores(data["noisy"]))
        g.rows.append(baseline_row(data, Path(path).stem))


def _num(value: Any, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def markdown(groups: Sequence[Group]) -> str:
    """One markdown table: per test set the noisy input, then each model's row."""
    head = ["test set", "name", "model", "params", "int8 bytes", "MACs/frame", "train min"]
    head += [eval_report.METRIC_NAMES[k] for k in KEYS]
    lines = ["| " + " | ".join(head) + " |", "|---|---|---|" + "---:|" * (len(head) - 3)]
    for g in groups:
        label = g.name if g.files is None else f"{g.name} ({g.files} files)"
        for row in ([g.noisy] if g.noisy else []) + g.rows:
            minutes = None if row.train_seconds is None else row.train_seconds / 60
            cells = [
                label,
                row.name,
                row.model,
                _num(row.parameters, ","),
                _num(row.int8_bytes, ","),
                _num(row.macs_per_frame, ","),
                _num(minutes, ".1f"),
            ]
            cells += [_num(row.scores.get(k), ".2f" if k == "si_sdr" else ".3f") for k in KEYS]
            lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Means over the files with a finite value. PESQ-WB: pesq 0.0.4 at 16 kHz; STOI/ESTOI: "
        "pystoi 0.4.1; SI-SDR: zero-mean (Le Roux et al. 2019); CSIG/CBAK/COVL: Hu and Loizou "
        "2008 with PESQ-WB. int8 / 16x8: the device model (the export's choice) in TFLite "
        "Micro, frame by frame.",
    ]
    return "\n".join(lines) + "\n"


def _rate(qualities: Sequence[Mapping[str, Any]]) -> int:
    for q in qualities:
        for ts in q["testsets"]:
            if ts.get("rate"):
                return int(ts["rate"])
    return 16000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "positional",
        nargs="*",
        metavar="CORPUS_DIR | key.sub=value",
        help="corpus folder (default: the demo corpus) and config overrides",
    )
    parser.add_argument("--testset", default=None, help="extra test set (evaluate --testset)")
    parser.add_argument("--config", "-c", default=None, help="config (default: see above)")
    parser.add_argument("--name", default=None, help="benchmark name: the folder under --out")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="benchmark folder")
    parser.add_argument(
        "--device",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also evaluate the exported device model (default: yes)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="scoring processes (default: all cores; 0: none)"
    )
    parser.add_argument(
        "--table",
        default=None,
        metavar="OUT",
        help="only collect OUT/*/quality.json into one table",
    )
    parser.add_argument(
        "--reference",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="score a folder of enhanced wavs beside a test set's clean/",
    )
    parser.add_argument(
        "--baseline",
        action="append",
        default=[],
        metavar="TESTSET=JSON",
        help="a row from a metrics-like JSON for that test set",
    )
    # intermixed: the corpus and the overrides may come before and after the options
    args = parser.parse_intermixed_args(argv)
    if args.table:
        run_only = [f"'{item}'" for item in args.positional]  # corpus folder, overrides
        given = {"--testset": args.testset, "--config": args.config, "--name": args.name}
        run_only += [option for option, value in given.items() if value is not None]
        run_only += [] if args.device else ["--no-device"]
        if run_only:
            parser.error(f"--table only collects results; not with run-mode {', '.join(run_only)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    from lstm_se import LstmSeError

    try:
        qualities = load_qualities(Path(args.table)) if args.table else [run_bench(args)]
        groups = collect(qualities)
        add_extras(groups, args.reference, args.baseline, _rate(qualities), args.workers)
    except LstmSeError as exc:
        log.error("%s", exc)
        return 1
    table = markdown(groups)
    print(table, end="")
    if args.table:
        from lstm_se.config import atomic_write_text

        md = Path(args.table) / "quality.md"
        atomic_write_text(md, table)
        log.info("wrote %s", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
