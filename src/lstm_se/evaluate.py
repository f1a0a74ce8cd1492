"""Score a trained run on a test set: PESQ-WB, STOI, ESTOI, SI-SDR, CSIG/CBAK/COVL.

`lstm-se evaluate --run result/<name> [--testset DIR] [--tflite]`

Test sets:

* default: the test pairs listed in the run's dataset manifest (`dset.save_path/manifest.json`),
  i.e. the test folders of the corpus the run was trained from;
* `--testset DIR` in the VoiceBank-DEMAND layout: `DIR/clean_testset_wav/` +
  `DIR/noisy_testset_wav/`;
* `--testset DIR` in a flat layout: `DIR/clean/` + `DIR/noisy/` (as `devtest/chime2`).

The layout is recognized from the folder names, so no option is needed. Files are paired by
name (stem; wav or flac, any rate: everything is scored at the model's rate). The input SNR of a
pair comes from a `snr<value>_` file-name prefix (`snr-3_440c0403.wav`) or else from the
`snr_db` column of a `log.csv` beside the folders (written by `lstm-se mix` / `demo-data`).

For every pair the noisy input and the enhanced output are scored against the clean reference
(`metrics.score_all`; scoring runs in a pool of processes while the model enhances the next
files). The Keras model enhances offline; with `--tflite` the run's exported device model
(`<run>/export/model_device.tflite`, the one `lstm-se export` chose) enhances frame by frame in
TFLite Micro, as `lstm-se enhance --tflite` does, and the results go to `<testset name>_<kind>/`
beside the float ones, where kind is what the device model is (int8 or 16x8); `--tflite --int8`
and `--tflite --int16` score a candidate (`model_int8.tflite`, `model_16x8.tflite`) instead.
Written to `<run>/eval/<testset name>[_int8|_16x8]/`:

| file | content |
|---|---|
| `scores.csv` | one row per pair: utterance, SNR, seconds, noisy_* and enhanced_* metrics |
| `metrics.json` | model (float/int8/16x8), means, 95 % intervals, valid counts, by-SNR means |
| `metrics.md` | the markdown tables (also printed) |
| `plots/<utt>.png` | dB spectrograms (noisy, enhanced, clean) of a few example files |
| `wav/<utt>.wav` | the enhanced examples (16-bit, model rate) |

A metric that cannot be computed (e.g. PESQ of a silent reference) is NaN with a warning and
left out of the mean; the valid count of each metric is reported. 95 % intervals are shown from
`MIN_INTERVAL_N` valid values on: from fewer, the interval says nothing.

A pair whose clean and noisy files differ in length (by any sample at equal rates, by more than
one sample of the lower rate otherwise, as `prepare` checks) is skipped, counted and listed;
`--allow-length-mismatch` scores it on the common length and reports how many samples were cut.
Skipped pairs are named in the table; the command exits 1 when more than `--max-skipped` of the
pairs (default 0: any) were skipped.

`score_folder` scores a folder of already enhanced files (e.g. another system's outputs) against
a test set's references with the same code.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import time
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from . import LstmSeError, audio, metrics, plots
from .config import ConfigError, atomic_write_text, load_run_config
from .eval_report import CONVENTIONS, csv_text, json_safe, markdown_table, summarize
from .testsets import (
    EvaluateError,
    Pair,
    audio_by_stem,
    length_mismatch,
    manifest_pairs,
    testset_pairs,
)

if TYPE_CHECKING:
    from .maskers import Masker, MaskerFactory

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# scoring


def score_pair(
    utt: str,
    clean_path: str | os.PathLike[str],
    noisy_path: str | os.PathLike[str],
    enhanced: np.ndarray | str | os.PathLike[str],
    rate: int,
) -> dict[str, Any]:
    """Score the noisy input and an enhanced signal (array at `rate`, or a file read at `rate`)
    against the clean reference; `{utt, seconds, noisy_<key>, enhanced_<key>, warnings}`.

    Runs in the scoring processes, so it takes paths and plain arrays."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", metrics.MetricWarning)
        clean = audio.read_mono(clean_path, rate)
        noisy = audio.read_mono(noisy_path, rate)
        if not isinstance(enhanced, np.ndarray):
            enhanced = audio.read_mono(enhanced, rate)
        row: dict[str, Any] = {"utt": utt, "seconds": round(len(clean) / rate, 3)}
        for prefix, est in (("noisy", noisy), ("enhanced", enhanced)):
            for key, value in metrics.score_all(clean, est, rate).items():
                row[f"{prefix}_{key}"] = value
    row["warnings"] = sorted(
        {str(w.message) for w in caught if issubclass(w.category, metrics.MetricWarning)}
    )
    return row


# ---------------------------------------------------------------------------------------------
# the evaluation


def _example_indices(n: int, k: int) -> set[int]:
    return {int(i) for i in np.linspace(0, n - 1, min(k, n)).round()} if n and k else set()


MODELS = ("float", "int8", "16x8")
"""What enhances in an evaluation: the Keras model, or an exported int8 or 16x8 model."""


def testset_name(testset: str | os.PathLike[str] | None) -> str:
    """Name of a test set's results folder: `test` for the run's dataset, else the folder name."""
    return "test" if testset is None else Path(testset).resolve().name


def eval_dir(run_dir: str | os.PathLike[str], name: str, model: str = "float") -> Path:
    """`<run>/eval/<name>` (the test set's name) for the float model, `<name>_<model>` else."""
    return Path(run_dir) / "eval" / (name if model == "float" else f"{name}_{model}")


class _Scorer:
    """Scores pairs in a pool of processes while the caller enhances the next files
    (`workers` 0: in this process). Spawned, not forked, workers: the parent runs
    TensorFlow, whose threads do not survive a fork; the workers import only numpy, pesq and
    pystoi."""

    def __init__(self, rate: int, workers: int | None, total: int, progress: bool) -> None:
        workers = (os.cpu_count() or 1) if workers is None else workers
        self.rate = rate
        self.pool = (
            ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            if workers > 0
            else None
        )
        self.bar = tqdm(total=total, desc="evaluate", unit="file", disable=not progress)
        self.pending: list[tuple[Pair, Future | dict[str, Any]]] = []
        self.failures: list[dict[str, str]] = []

    def __enter__(self) -> _Scorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def skip(self, pair: Pair, error: str, reason: str = "unreadable") -> None:
        log.error("%s", error)
        self.failures.append({"utt": pair.utt, "reason": reason, "error": error})
        self.bar.update()

    def submit(self, pair: Pair, enhanced: np.ndarray | Path) -> None:
        args = (pair.utt, str(pair.clean), str(pair.noisy), enhanced, self.rate)
        if self.pool is None:
            try:
                self.pending.append((pair, score_pair(*args)))
            except audio.AudioError as exc:
                self.pending.append((pair, {"error": str(exc)}))
            self.bar.update()
        else:
            fut = self.pool.submit(score_pair, *args)
            fut.add_done_callback(lambda _f: self.bar.update())
            self.pending.append((pair, fut))

    def rows(self) -> list[dict[str, Any]]:
        """Every scored row (with its SNR), in submission order; failures go to `failures`."""
        rows = []
        for pair, job in self.pending:
            try:
                row = job.result() if isinstance(job, Future) else job
            except audio.AudioError as exc:
                row = {"error": str(exc)}
            if "error" in row:
                log.error("%s", row["error"])
                self.failures.append(
                    {"utt": pair.utt, "reason": "unreadable", "error": row["error"]}
                )
                continue
            for message in row.pop("warnings"):
                log.warning("%s: %s", pair.utt, message)
            rows.append({**row, "snr": pair.snr})
        return rows


def evaluate_run(
    run_dir: str | os.PathLike[str],
    testset: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    examples: int = 3,
    progress: bool = True,
    masker_factory: MaskerFactory | None = None,
    allow_length_mismatch: bool = False,
) -> dict[str, Any]:
    """Enhance and score every pair of a test set; write the results; return metrics.json's data.

    `testset` None uses the run's dataset manifest. `workers`: scoring processes (None: all
    cores; 0: score in this process). `examples`: files that get spectrogram plots and wavs.
    A pair of different lengths is skipped (listed in `failed` with reason
    'length_mismatch'); `allow_length_mismatch` scores it on the common length and counts the
    samples cut (`length_mismatch` in the result).
    `masker_factory` (as `lstm-se evaluate --tflite` passes `tflite_masker.device_masker`):
    enhance frame by frame with the masker it builds for the run, i.e. an exported model,
    instead of the Keras model; the results go to `eval_dir(run, name, kind)`, where `kind` is the
    masker's own `kind`: the exported model it runs ('int8' or '16x8').
    """
    from . import enhance

    run_dir = Path(run_dir)
    kind = "float"
    model: Any = None
    masker: Masker | None = None
    if masker_factory is None:
        cfg, model = enhance.load(run_dir)
    else:
        cfg = load_run_config(run_dir)
        try:
            masker = masker_factory(run_dir, cfg)
        except (LstmSeError, OSError, ValueError) as exc:  # e.g. McuError: no export yet
            raise EvaluateError(f"cannot build the exported model's masker: {exc}") from exc
        # The masker says which model it runs, so the results cannot land under another's name.
        kind = getattr(masker, "kind", None)
        if kind not in MODELS[1:]:
            raise EvaluateError(
                f"the masker runs a '{kind}' model; an exported one is scored: "
                f"{' or '.join(MODELS[1:])} (the float model is scored without a masker)"
            )
    name = testset_name(testset)
    if testset is None:
        layout, pairs = "manifest", manifest_pairs(cfg)
        source = str(Path(cfg.dset.save_path) / "manifest.json")
    else:
        layout, pairs = testset_pairs(testset)
        source = str(testset)
    out = Path(out_dir) if out_dir is not None else eval_dir(run_dir, name, kind)
    rate = cfg.dset.sample_rate
    log.info("evaluating %s (%s model) on %s (%s layout, %d pairs) -> %s", run_dir, kind,
             source, layout, len(pairs), out)  # fmt: skip

    show = _example_indices(len(pairs), examples)
    start = time.perf_counter()
    truncated: list[dict[str, Any]] = []
    with _Scorer(rate, workers, len(pairs), progress) as scorer:
        for i, pair in enumerate(pairs):
            cut, what = length_mismatch(pair, rate)
            if cut and not allow_length_mismatch:
                scorer.skip(
                    pair,
                    f"{pair.utt}: lengths differ ({what}); skipped (--allow-length-mismatch "
                    "scores the common length)",
                    "length_mismatch",
                )
                continue
            if cut:
                log.warning("%s: lengths differ (%s); %d samples cut", pair.utt, what, cut)
                truncated.append({"utt": pair.utt, "samples_cut": cut})
            try:
                noisy, noisy_rate = audio.read(pair.noisy)
                enhanced, _ = enhance.enhance_waveform(
                    noisy, noisy_rate, cfg, model=model, masker=masker
                )
            except (audio.AudioError, ValueError) as exc:
                scorer.skip(pair, str(exc))
                continue
            if i in show:
                _write_example(out, pair, enhanced, rate)
            scorer.submit(pair, enhanced)
        rows = scorer.rows()
    if not rows:
        raise EvaluateError(f"no pair of {source} could be scored")

    summary = summarize(rows)
    title = f"{run_dir.name} on {name}" + (f" ({kind} model)" if kind != "float" else "")
    cut_total = sum(t["samples_cut"] for t in truncated)
    notes = _skip_notes(scorer.failures, len(pairs))
    if truncated:
        notes.append(
            f"Length mismatch allowed: {len(truncated)} pair(s) scored on their common length, "
            f"{cut_total} samples ({cut_total / rate:.2f} s) cut"
        )
    table = markdown_table(summary, title, len(rows), notes)
    result = {
        "run": str(run_dir),
        "model": kind,
        "testset": source,
        "layout": layout,
        "files": len(rows),
        "pairs": len(pairs),
        "failed": scorer.failures,
        "length_mismatch": {
            "allowed": allow_length_mismatch,
            "truncated": truncated,
            "samples_cut": cut_total,
        },
        "rate": rate,
        "seconds": round(time.perf_counter() - start, 2),
        "conventions": CONVENTIONS,
        **summary,
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "scores.csv", csv_text(rows))
    atomic_write_text(out / "metrics.json", json.dumps(json_safe(result), indent=1) + "\n")
    atomic_write_text(out / "metrics.md", table)
    log.info("wrote %s (scores.csv, metrics.json, metrics.md, plots/, wav/)", out)
    result["table"] = table
    return result


def _skip_notes(failures: Sequence[Mapping[str, str]], total: int) -> list[str]:
    """'Skipped: k of N pairs (reasons): utt, ...' for the table, or nothing."""
    if not failures:
        return []
    reasons = Counter(f["reason"] for f in failures)
    why = ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in sorted(reasons.items()))
    utts = ", ".join(f["utt"] for f in failures[:10]) + (" ..." if len(failures) > 10 else "")
    return [f"Skipped: {len(failures)} of {total} pairs ({why}), not in the means: {utts}"]


def score_folder(
    enhanced_dir: str | os.PathLike[str],
    testset: str | os.PathLike[str],
    rate: int = 16000,
    workers: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Score already enhanced files against a test set's clean references.

    `enhanced_dir` holds one file per test pair with the pair's stem (e.g. another system's
    outputs, as `devtest/chime2/tinylstm_baseline/` beside `clean/` and `noisy/`); pairs
    without one are listed in `missing` and left out. Scored like `evaluate_run` (at `rate`),
    so the returned `noisy`/`enhanced` summaries compare with its results.
    """
    enhanced_dir = Path(enhanced_dir)
    if not enhanced_dir.is_dir():
        raise EvaluateError(f"folder of enhanced files '{enhanced_dir}' does not exist")
    layout, pairs = testset_pairs(testset)
    found = audio_by_stem(enhanced_dir)
    missing = [p.utt for p in pairs if p.utt not in found]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        log.warning(
            "%s: %d of %d test files missing, left out: %s",
            enhanced_dir, len(missing), len(pairs), shown,
        )  # fmt: skip
    pairs = [p for p in pairs if p.utt in found]
    with _Scorer(rate, workers, len(pairs), progress) as scorer:
        for pair in pairs:
            scorer.submit(pair, found[pair.utt])
        rows = scorer.rows()
    if not rows:
        raise EvaluateError(f"no file of {enhanced_dir} could be scored against {testset}")
    return {
        "source": str(enhanced_dir),
        "testset": str(testset),
        "layout": layout,
        "files": len(rows),
        "missing": missing,
        "failed": scorer.failures,
        "rate": rate,
        "conventions": CONVENTIONS,
        **summarize(rows),
    }


def _write_example(out: Path, pair: Pair, enhanced: np.ndarray, rate: int) -> None:
    """Enhanced wav and noisy/enhanced/clean spectrograms of one example pair."""
    clipped = audio.write(out / "wav" / f"{pair.utt}.wav", enhanced, rate)
    if clipped:
        log.warning("%s: %d samples clipped", out / "wav" / f"{pair.utt}.wav", clipped)
    try:
        clean = audio.read_mono(pair.clean, rate)
    except audio.AudioError as exc:
        log.warning("no plot for %s: %s", pair.utt, exc)
        return
    noisy = audio.read_mono(pair.noisy, rate)
    fig = plots.spectrogram_figure(
        {"noisy": noisy, "enhanced": enhanced, "clean": clean}, rate, title=pair.utt
    )
    plots.save_figure(fig, out / "plots" / f"{pair.utt}.png")


def command(args: argparse.Namespace, masker_factory: MaskerFactory | None = None) -> int:
    """`lstm-se evaluate --run DIR [--testset DIR] [--tflite [--int8 | --int16]]`: prints the
    table; 1 if any pair failed, 2 if nothing could be evaluated. `masker_factory` is what
    `--tflite` uses (the CLI passes `tflite_masker.device_masker`, or a candidate's with
    `--int8`/`--int16`: tflite_masker comes later in the pipeline than this module)."""
    from .enhance import EnhanceError

    if getattr(args, "tflite", False) and masker_factory is None:
        log.error("--tflite needs lstm_se.tflite_masker's maskers, which are not available here")
        return 2
    max_skipped = float(getattr(args, "max_skipped", 0.0) or 0.0)
    try:
        result = evaluate_run(
            args.run,
            getattr(args, "testset", None),
            masker_factory=masker_factory,
            allow_length_mismatch=bool(getattr(args, "allow_length_mismatch", False)),
        )
    except (EvaluateError, EnhanceError, ConfigError, FileNotFoundError) as exc:
        log.error("%s", exc)
        return 2
    print(result["table"])
    skipped, total = len(result["failed"]), result["pairs"]
    if skipped:
        share = skipped / total
        over = share > max_skipped
        (log.error if over else log.warning)(
            "%d of %d pair(s) skipped (%.1f%%, --max-skipped %.1f%%)%s",
            skipped,
            total,
            100 * share,
            100 * max_skipped,
            "" if over else ": within the limit",
        )
        return 1 if over else 0
    return 0
