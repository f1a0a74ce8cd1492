"""verify.py: mask SNR, the clips verified, and the verification of the device models."""

from __future__ import annotations

import math

import numpy as np
import pytest
from device_models import mags, random_converted

from lstm_se import convert, export_files, verify
from lstm_se import model as M


@pytest.fixture(scope="module")
def converted():
    return random_converted()


def test_mask_snr_db():
    ref = np.ones((10, 4))
    assert math.isinf(verify.mask_snr_db(ref, ref))
    assert verify.mask_snr_db(ref, ref + 0.01) == pytest.approx(40.0)


def test_verification_without_a_test_set_scores_both_device_models(converted):
    cfg, trained, int8, _ = converted
    stream = M.build_streaming_model(cfg, trained, frontend=False)
    segs = [mags(30, 1), mags(30, 2)]
    int16 = convert.convert(stream, "16x8", convert.representative_samples(cfg, stream, segs))
    ver = verify.verify_on_magnitudes(cfg, trained, int8, segs, int16)
    assert ver["clips"] == 2 and ver["frames"] == 60
    for kind in ("int8", "16x8"):
        snr = ver[export_files.report_key("mask_snr_db", kind)]
        assert math.isfinite(snr) and snr > 0
        # No audio, so no fidelity targets: the mask SNR is reported, never a target.
        assert export_files.report_key("targets", kind) not in ver
    assert "mask_snr_db_16x8" not in verify.verify_on_magnitudes(cfg, trained, int8, segs)


def test_evenly_spread_keeps_ends_and_order():
    items = list(range(10))
    assert verify.evenly_spread(items, 3) == [0, 4, 9]  # linspace 0, 4.5, 9 rounded
    assert verify.evenly_spread(items, 1) == [0]
    assert verify.evenly_spread(items, 10) == items
    assert verify.evenly_spread(items[:2], 5) == [0, 1]


def test_a_corpus_without_a_test_set_has_no_pairs(tmp_path):
    from lstm_se import config

    cfg = config.from_dict({}, [f"dset.wav={tmp_path}"])
    assert verify.testset_pairs(cfg) == []
    with pytest.raises(export_files.McuError, match="no test set"):
        verify.verify(cfg, None, b"")
