"""train.py end to end on records made from a tiny corpus: learning, the run folder, TensorBoard,
resume after SIGKILL, NaN handling, restart, multi-worker; start weights, optimizer settings."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from conftest import make_corpus  # noqa: E402

from lstm_se import callbacks, config, prepare, train, train_data  # noqa: E402
from lstm_se import model as model_mod  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

EPOCHS = 6
STEPS = 8

#: A tiny model and short epochs: seconds per run on a shared 2-core machine.
TINY = [
    "model.units=32",
    "model.layers=1",
    "batch_size=8",
    f"steps={STEPS}",
    "optim.lr=0.003",
    "train.patience=0",
    "train.eval_every=0",
    "train.audio_every=0",
]


@pytest.fixture(scope="module")
def records_dir(tmp_path_factory) -> Path:
    """Records (0.5 s segments) from a corpus of harmonic 'speech' in white noise, 16 kHz."""
    base = tmp_path_factory.mktemp("train_data")
    corpus = make_corpus(
        base / "corpus",
        train_speakers=[f"p{i:03d}" for i in range(1, 9)],
        per_speaker=4,
        seconds=(1.5, 2.5),
        rate=16000,
    )
    cfg = config.from_dict(
        {
            "dset": {
                "wav": str(corpus),
                "save_path": str(base / "records"),
                "segment": 0.5,
                "split": 0.75,
                "workers": 1,
                "shard_mb": 0.5,
            }
        }
    )
    man = prepare.prepare(cfg, progress=False)
    assert man["examples"]["train"] >= 4 * 8 and man["examples"]["valid"] >= 8
    return base / "records"


def _cfg(records: Path, folder: Path, *overrides: str) -> config.Config:
    data = {"dset": {"save_path": str(records), "segment": 0.5}, "folder": str(folder)}
    return config.from_dict(data, [*TINY, *overrides])


def _history(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "history.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def _iterations(path: Path) -> int:
    return int(keras.models.load_model(path).optimizer.iterations.numpy())


@pytest.fixture(scope="module")
def trained(records_dir, tmp_path_factory) -> tuple[config.Config, Path]:
    """One short training, shared by the checks of what it leaves behind."""
    folder = tmp_path_factory.mktemp("runs")
    cfg = _cfg(
        records_dir,
        folder,
        f"epochs={EPOCHS}",
        "train.name=short",
        "train.eval_every=3",
        "train.eval_clips=2",
        "train.audio_every=2",
    )
    return cfg, train.run(cfg, verbose=0)


def test_short_training_lowers_val_loss_and_raises_si_sdr(trained):
    _, run_dir = trained
    rows = _history(run_dir)
    assert [int(r["epoch"]) for r in rows] == list(range(EPOCHS))
    first, last = rows[0], rows[-1]
    assert float(last["val_loss"]) < 0.8 * float(first["val_loss"])
    assert float(last["val_si_sdr"]) > float(first["val_si_sdr"]) + 1.0


def test_run_folder_holds_everything(trained):
    cfg, run_dir = trained
    assert run_dir == Path(cfg.folder) / "short"
    assert config.load(run_dir / "config.yaml") == cfg
    for rel in ("model.keras", "checkpoints/best.keras", "checkpoints/last.keras"):
        assert (run_dir / rel).is_file(), rel
    state = json.loads((run_dir / "backup" / "state.json").read_text())
    assert state["epoch"] == EPOCHS and state["iterations"] == EPOCHS * STEPS
    assert (run_dir / "backup" / state["weights"]).is_file()
    assert len(list((run_dir / "backup").glob("*.weights.h5"))) == 1
    assert not [p for p in run_dir.rglob("*") if ".tmp" in p.name]
    rows = _history(run_dir)
    for row in rows:
        assert float(row["epoch_seconds"]) > float(row["step_seconds"]) > 0
        assert float(row["learning_rate"]) == pytest.approx(cfg.optim.lr)
    # PESQ/STOI every 3rd epoch only, and plausible.
    scored = [int(r["epoch"]) for r in rows if r["val_pesq"]]
    assert scored == [2, 5]
    for r in rows:
        if r["val_pesq"]:
            assert 1.0 <= float(r["val_pesq"]) <= 4.7 and 0.0 < float(r["val_stoi"]) <= 1.0


def test_final_model_is_the_best_epoch_with_the_optimizer_state(trained):
    cfg, run_dir = trained
    cfg2, model = train.load_run(run_dir)
    assert cfg2 == cfg
    best = keras.models.load_model(run_dir / "checkpoints" / "best.keras", compile=False)
    x = np.random.default_rng(0).uniform(0, 0.3, (1, 20, 257)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(best(x)))
    assert _iterations(run_dir / "model.keras") == EPOCHS * STEPS
    # The streaming model built from the loaded run follows the sequence model.
    stream = model_mod.build_streaming_model(cfg, model)
    state = model_mod.initial_state(cfg)
    out = []
    for frame in x[0]:
        mask, *new_state = stream([frame[None, None], *state])
        state = [np.asarray(s) for s in new_state]
        out.append(np.asarray(mask)[0, 0])
    assert np.abs(np.stack(out) - np.asarray(model(x))[0]).max() < 1e-5


def test_tensorboard_reads_the_logs(trained):
    from tensorboard.backend.event_processing import event_accumulator as ea

    _, run_dir = trained
    scalars = {}
    for sub in ("train", "validation"):
        acc = ea.EventAccumulator(str(run_dir / "logs" / sub), size_guidance={ea.TENSORS: 0})
        acc.Reload()
        for tag in acc.Tags()["tensors"]:
            scalars[(sub, tag)] = [float(tf.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)]
    for key in [
        ("train", "epoch_loss"),
        ("validation", "epoch_loss"),
        ("validation", "epoch_si_sdr"),
        ("train", "epoch_learning_rate"),
    ]:
        assert len(scalars[key]) == EPOCHS, key
    assert scalars[("validation", "epoch_loss")] == pytest.approx(
        [float(r["val_loss"]) for r in _history(run_dir)], rel=1e-6
    )
    acc = ea.EventAccumulator(str(run_dir / "logs" / "samples"), size_guidance={ea.TENSORS: 0})
    acc.Reload()
    tags = set(acc.Tags()["tensors"])
    assert {"audio/noisy", "audio/clean", "audio/enhanced", "spectrogram/enhanced", "mask"} <= tags
    # Every 2nd epoch (and the first logged epoch).
    assert [e.step for e in acc.Tensors("audio/enhanced")] == [0, 1, 3, 5]


def test_rerun_of_a_finished_run_changes_nothing(trained):
    cfg, run_dir = trained
    before = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*") if p.is_file()}
    assert train.run(cfg, verbose=0) == run_dir
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*") if p.is_file()} == before


def test_resuming_with_another_model_is_refused(trained):
    cfg, _ = trained
    other = config.from_dict(config.to_dict(cfg), ["model.units=16"])
    with pytest.raises(config.ConfigError, match=r"model\.units.*--restart"):
        train.run(other, verbose=0)


def _train_cmd(records: Path, folder: Path, *overrides: str) -> list[str]:
    return [
        sys.executable,
        str(ROOT / "train.py"),
        f"dset.save_path={records}",
        "dset.segment=0.5",
        f"folder={folder}",
        *TINY,
        *overrides,
    ]


def test_sigkill_during_an_epoch_then_rerun_resumes(records_dir, tmp_path):
    epochs, steps = 5, 30
    cmd = _train_cmd(
        records_dir,
        tmp_path,
        f"epochs={epochs}",
        f"steps={steps}",
        "train.name=killed",
        "train.patience=3",
    )
    run_dir = tmp_path / "killed"
    state_path = run_dir / "backup" / "state.json"
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if state_path.is_file() and json.loads(state_path.read_text())["epoch"] >= 2:
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        time.sleep(0.2)  # well inside the next epoch (an epoch takes about a second)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = json.loads(state_path.read_text())["epoch"]
    assert 2 <= killed_at < epochs
    rows_before = _history(run_dir)
    assert len(rows_before) >= killed_at

    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"after epoch {killed_at} (optimizer step {killed_at * steps})" in again.stderr
    rows = _history(run_dir)
    assert [int(r["epoch"]) for r in rows] == list(range(epochs))
    # The epochs finished before the kill are kept as they were.
    assert rows[:killed_at] == rows_before[:killed_at]
    # Optimizer state carried over: one continuous count of steps.
    assert _iterations(run_dir / "model.keras") == epochs * steps
    state = json.loads(state_path.read_text())
    assert state["epoch"] == epochs and "early_stopping" in state


def test_nan_in_the_data_stops_with_a_clear_error_and_finite_weights(records_dir, tmp_path):
    cfg = _cfg(records_dir, tmp_path, "epochs=4", "train.name=nan", "steps=4")
    data = train_data.make_data(cfg)
    bad_step = 6  # epoch 2, batch 3

    def poison(i, batch):
        x, y = batch
        return tf.where(i == bad_step, x * np.float32("nan"), x), y

    data.train = data.train.enumerate().map(poison)
    with pytest.raises(callbacks.TrainingDiverged, match=r"loss is nan at epoch 2, batch 3"):
        train.run(cfg, data=data, verbose=0)
    run_dir = tmp_path / "nan"
    state = json.loads((run_dir / "backup" / "state.json").read_text())
    assert state["epoch"] == 1
    assert [int(r["epoch"]) for r in _history(run_dir)] == [0]
    for path in (run_dir / "checkpoints" / "last.keras", run_dir / "checkpoints" / "best.keras"):
        weights = keras.models.load_model(path).get_weights()
        assert all(np.isfinite(w).all() for w in weights)
    model = model_mod.build_model(cfg)
    train.compile_model(model, cfg, None)
    model.optimizer.build(model.trainable_variables)
    model.load_weights(run_dir / "backup" / state["weights"])
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert all(np.isfinite(np.asarray(v)).all() for v in model.optimizer.variables)

    # --restart starts over: clean data, a fresh history.
    short = config.from_dict(config.to_dict(cfg), ["epochs=1"])
    train.run(short, restart=True, verbose=0)
    assert [int(r["epoch"]) for r in _history(run_dir)] == [0]
    assert json.loads((run_dir / "backup" / "state.json").read_text())["iterations"] == 4


def test_start_weights_from_model_path_or_checkpoint(tmp_path):
    cfg = config.from_dict({}, ["model.units=8", "model.layers=1"])
    source = model_mod.build_model(cfg)
    source.save(tmp_path / "start.keras")
    source.save_weights(tmp_path / "start.weights.h5")
    for key, path in (("model.path", "start.keras"), ("model.ckpt", "start.weights.h5")):
        keras.utils.set_random_seed(123)
        target = model_mod.build_model(cfg)
        assert any(
            (a != b).any() for a, b in zip(target.get_weights(), source.get_weights(), strict=True)
        )
        train._start_weights(
            target, config.from_dict(config.to_dict(cfg), [f"{key}={tmp_path / path}"])
        )
        for a, b in zip(target.get_weights(), source.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(config.ConfigError, match=r"model\.path"):
        train._start_weights(target, config.from_dict({}, ["model.path=/nonexistent.keras"]))


def test_cosine_schedule_and_clipping_come_from_the_config():
    cfg = config.from_dict(
        {},
        [
            "optim.schedule=cosine",
            "optim.lr=0.01",
            "optim.min_lr=0.001",
            "optim.clipnorm=0.5",
            "epochs=4",
        ],
    )
    opt = train.make_optimizer(cfg, steps_per_epoch=10)
    assert opt.clipnorm == 0.5
    sched = opt._learning_rate
    assert float(sched(0)) == pytest.approx(0.01)
    assert float(sched(40)) == pytest.approx(0.001)
    assert train.make_optimizer(config.from_dict({}, ["optim.clipnorm=0"]), None).clipnorm is None


def test_bad_training_settings_are_config_errors(records_dir, tmp_path):
    for override, key in [
        ("epochs=0", "epochs"),
        ("model.metric=pesq", "model.metric"),
        ("train.strategy=multi_worker", "train.name"),
    ]:
        with pytest.raises(config.ConfigError, match=key):
            train.run(_cfg(records_dir, tmp_path, override), verbose=0)


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_two_workers_train_one_epoch_with_multi_worker_mirrored(records_dir, tmp_path):
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    cmd = _train_cmd(
        records_dir, tmp_path, "epochs=1", "steps=4", "train.name=mw", "train.strategy=multi_worker"
    )
    procs = []
    for index in range(2):
        env = dict(
            os.environ,
            TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        )
        env["CUDA_VISIBLE_DEVICES"] = ""
        procs.append(
            subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        )
    outputs = []
    try:
        for p in procs:
            outputs.append(p.communicate(timeout=300)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, out in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out[-3000:]
    run_dir = tmp_path / "mw"
    rows = _history(run_dir)
    assert [int(r["epoch"]) for r in rows] == [0] and math.isfinite(float(rows[0]["val_loss"]))
    assert _iterations(run_dir / "model.keras") == 4
