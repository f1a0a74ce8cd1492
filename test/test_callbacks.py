"""The resumable callbacks on their own: early-stopping counters and history rows across a
resume."""

from __future__ import annotations

import csv

import pytest

keras = pytest.importorskip("keras")

from lstm_se import callbacks  # noqa: E402


def test_early_stopping_state_survives_a_resume():
    es = callbacks.ResumableEarlyStopping(
        {"wait": 2, "best": 0.5, "best_epoch": 3}, monitor="val_loss", patience=3
    )
    es.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    es.model.stop_training = False
    es.on_train_begin()
    assert (es.wait, es.best, es.best_epoch) == (2, 0.5, 3)
    es.on_epoch_end(6, {"val_loss": 0.6})  # a third epoch without improvement: stop
    assert es.model.stop_training and es.state()["stopped_epoch"] == 6
    fresh = callbacks.ResumableEarlyStopping(None, monitor="val_loss", patience=3)
    fresh.set_model(es.model)
    fresh.model.stop_training = False
    fresh.on_train_begin()
    fresh.on_epoch_end(6, {"val_loss": 0.6})
    assert not fresh.model.stop_training


def test_history_drops_rows_of_unfinished_epochs(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss\n0,1.0\n1,0.9\n2,0.8\n")
    hist = callbacks.HistoryCSV(path, initial_epoch=2)
    hist.on_epoch_end(2, {"loss": 0.7, "val_pesq": 2.0})
    rows = list(csv.DictReader(path.open()))
    assert [(r["epoch"], r["loss"], r["val_pesq"]) for r in rows] == [
        ("0", "1.0", ""),
        ("1", "0.9", ""),
        ("2", "0.7", "2.0"),
    ]
