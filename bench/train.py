"""Benchmark training throughput: steps per second, records versus memory, peak memory.

    python bench/train.py [--config conf/config.yaml] [--records DIR] [--steps 20] [--skip 5]
                          [--repeats 3] [--out bench/train.json] [key=value ...]

For the config's model and the 2 x 256 TinyLSTM size (the model section of
conf/tinylstm_2x256.yaml), each in its own process, it times `model.fit` with the same compile
as `lstm-se train` (loss, SI-SDR metric, optimizer, clipping), the input read from the TFRecords
(records.dataset: shuffle, parse, prefetch) and the same batches held in memory. Each
measurement is one `fit` of skip + steps steps timed from the end of step `skip` (tracing,
iterator start and shuffle-buffer fill left out); records and memory alternate `--repeats` times
and their medians are compared. The ratio records / memory shows whether the input pipeline
holds training back (1.0: not at all; the target is 0.95 or more). Peak resident memory
(ru_maxrss) is read after the first records measurement (training from records alone) and at
the end (with the in-memory batches). Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("bench.train")

ROOT = Path(__file__).resolve().parents[1]
BIG = ROOT / "conf" / "tinylstm_2x256.yaml"


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def _timed_fit(model, dataset, steps: int, skip: int) -> float:
    """Steady-state steps per second: one `fit` of skip + steps steps, timed from the end of
    step `skip` (so graph tracing, iterator start and shuffle-buffer fill are left out)."""
    import keras

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch + 1 == skip:
                self.start = time.perf_counter()
            elif batch + 1 == skip + steps:
                self.seconds = time.perf_counter() - self.start

    clock = Clock()
    model.fit(
        dataset,
        epochs=1,
        steps_per_epoch=skip + steps,
        verbose=0,
        callbacks=[clock],
        shuffle=False,
    )
    return steps / clock.seconds


def bench_model(cfg, records_dir: str, steps: int, skip: int, repeats: int) -> dict[str, Any]:
    """Steps/s from records and from memory for one model config, in this process.

    Records and memory measurements alternate (R M R M ...) on the same compiled model, and the
    medians are compared, so a change in machine load hits both alike.
    """
    import statistics

    import keras
    import numpy as np
    import tensorflow as tf

    from lstm_se import model as model_mod
    from lstm_se import records, train

    man = records.load_manifest(records_dir)
    if man["feature_spec"].get("content") == "clean+noise":  # dynamic mixing (remix.py)
        from lstm_se import config as config_mod
        from lstm_se import remix

        sources = remix.load_sources(records_dir, "train")
        per_epoch = remix.examples_per_epoch(sources, config_mod.derive(cfg).frames_per_segment)

        def from_records():
            return remix.dataset(
                sources, cfg, cfg.batch_size, first_epoch=0, epochs=10_000, per_epoch=per_epoch
            )

    else:

        def from_records():
            return _fixed_records()

    def _fixed_records():
        return records.dataset(
            records_dir,
            "train",
            cfg.batch_size,
            shuffle=True,
            repeat=True,
            seed=cfg.seed,
            shuffle_buffer=cfg.train.shuffle_buffer,
            drop_remainder=True,
        )

    keras.utils.set_random_seed(cfg.seed)
    model = model_mod.build_model(cfg)
    train.compile_model(model, cfg, steps)
    times: dict[str, list[float]] = {"records": [], "memory": []}
    times["records"].append(_timed_fit(model, from_records(), steps, skip))
    # Peak memory of training from records, before the in-memory copy below exists.
    rss_records = _peak_rss_mb()

    # The same batches in memory: the first batches the records pipeline gives (a few distinct
    # ones, cycled: the content does not change the cost, and memory stays small).
    xs, ys = [], []
    for x, y in from_records().take(min(skip + steps, 8)):
        xs.append(np.asarray(x))
        ys.append(np.asarray(y))
    memory = tf.data.Dataset.from_tensor_slices((np.stack(xs), np.stack(ys))).repeat()
    for i in range(repeats):
        times["memory"].append(_timed_fit(model, memory, steps, skip))
        if i + 1 < repeats:
            times["records"].append(_timed_fit(model, from_records(), steps, skip))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "model": f"{cfg.model.layers}x{cfg.model.units}",
        "parameters": model.count_params(),
        "batch_size": cfg.batch_size,
        "frames": int(xs[0].shape[1]),
        "records_steps_per_s": round(med["records"], 3),
        "memory_steps_per_s": round(med["memory"], 3),
        "ratio_records_to_memory": round(med["records"] / med["memory"], 3),
        "records_runs": [round(v, 3) for v in times["records"]],
        "memory_runs": [round(v, 3) for v in times["memory"]],
        "peak_rss_mb_records_training": rss_records,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _child(spec: str) -> int:
    """Measure one model in this (fresh) process; print the result as JSON."""
    from lstm_se import config

    job = json.loads(spec)
    cfg = config.from_dict(job["config"])
    result = bench_model(cfg, job["records"], job["steps"], job["skip"], job["repeats"])
    print(json.dumps(result))
    return 0


def _run_child(cfg, records_dir: str, args: argparse.Namespace) -> dict[str, Any]:
    """One model in its own process, so each peak RSS is that model's alone."""
    from lstm_se import config

    job = {
        "config": config.to_dict(cfg),
        "records": str(records_dir),
        "steps": args.steps,
        "skip": args.skip,
        "repeats": args.repeats,
    }
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(job)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", "-c", default=str(ROOT / "conf" / "config.yaml"))
    parser.add_argument("--records", default=None, help="records folder (default dset.save_path)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--skip", type=int, default=5, help="untimed steps before each")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per input")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(ROOT / "bench" / "train.json"))
    parser.add_argument("overrides", nargs="*", metavar="key.sub=value")
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    import tensorflow as tf
    import yaml

    from lstm_se import config, records

    cfg = config.load(args.config, args.overrides)
    records_dir = args.records or cfg.dset.save_path
    try:
        man = records.load_manifest(records_dir)
    except records.RecordsError as exc:
        log.error("%s (make records first: lstm-se prepare --config %s)", exc, args.config)
        return 2
    # The records decide the segment length; the models must match it.
    cfg = config.from_dict(
        config.to_dict(cfg), [f"dset.segment={man['dset']['segment']}", "model.n_segment=0"]
    )
    big_model = yaml.safe_load(BIG.read_text())["model"]
    big = config.from_dict(config.to_dict(cfg), [f"model.{k}={v}" for k, v in big_model.items()])

    results = []
    for c in (cfg, big):
        log.info("timing %dx%d", c.model.layers, c.model.units)
        results.append(_run_child(c, records_dir, args))

    report = {
        "benchmark": "train",
        "config": args.config,
        "records": str(records_dir),
        "steps": args.steps,
        "skip": args.skip,
        "repeats": args.repeats,
        "tensorflow": tf.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "results": results,
    }
    head = (
        f"{'model':>7} {'params':>8} {'batch':>5} {'frames':>6} {'records st/s':>12} "
        f"{'memory st/s':>11} {'ratio':>6} {'RSS MB (records)':>16} {'peak RSS MB':>11}"
    )
    print(head)
    for r in results:
        print(
            f"{r['model']:>7} {r['parameters']:>8} {r['batch_size']:>5} {r['frames']:>6} "
            f"{r['records_steps_per_s']:>12.3f} {r['memory_steps_per_s']:>11.3f} "
            f"{r['ratio_records_to_memory']:>6.3f} {r['peak_rss_mb_records_training']:>16.1f} "
            f"{r['peak_rss_mb']:>11.1f}"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
