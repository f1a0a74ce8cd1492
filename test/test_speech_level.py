"""The mixer's level measurement: active speech power and the SNR it defines."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_se import speech_level


def test_active_speech_power_ignores_pauses_not_quiet_speech() -> None:
    rate = 16000
    t = np.arange(rate) / rate
    tone = 0.5 * np.sin(2 * np.pi * 200 * t)
    gated = tone * (t < 0.5)  # half tone, half digital silence
    assert speech_level.active_speech_power(gated, rate) == pytest.approx(0.125, rel=1e-3)
    assert np.mean(gated**2) == pytest.approx(0.0625, rel=1e-3)  # what plain RMS would say
    # A part 30 dB down is still speech (within 40 dB); one 50 dB down is a pause.
    for drop_db, expect in ((30, (0.125 + 0.125 * 1e-3) / 2), (50, 0.125)):
        x = np.where(t < 0.5, tone, tone * 10 ** (-drop_db / 20))
        assert speech_level.active_speech_power(x, rate) == pytest.approx(expect, rel=1e-2)
    assert speech_level.active_speech_power(np.zeros(100), rate) == 0.0
    assert speech_level.active_snr(gated, gated + 0.05, rate) == pytest.approx(
        10 * np.log10(0.125 / 0.0025), abs=1e-6
    )
