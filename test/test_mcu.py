"""mcu.py: the budget of an untrained model of any size (`python -m lstm_se.mcu budget`)."""

from __future__ import annotations

import json

import pytest

from lstm_se import config, mcu


def test_budget_command_reports_an_untrained_model(tmp_path, capsys):
    out = tmp_path / "budget.json"
    assert mcu._main(["budget", "--layers", "1", "--units", "8", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert (report["layers"], report["units"]) == (1, 8)
    bins = 257
    assert report["macs_per_frame"] == 4 * 8 * (bins + 8) + 8 * bins
    assert report["budget"]["pass"] is True
    assert report["arena"]["min_bytes"] > 0 and report["int8_bytes"] > 0
    assert "| budget (STM32F746)" in capsys.readouterr().out


@pytest.mark.slow
def test_2x256_is_reported_over_budget():
    cfg = config.from_dict({}, ["model.layers=2", "model.units=256"])
    report = mcu.config_budget(cfg)
    assert report["int8_bytes"] > 1_000_000
    assert report["budget"]["pass"] is False
    failed = {r["name"] for r in report["budget"]["rows"] if not r["pass"]}
    assert "flash" in failed
