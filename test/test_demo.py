"""Demo corpus (`lstm-se demo-data`): synthetic speech and noise in the VoiceBank layout."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pesq import pesq
from scipy import signal

from lstm_se import audio, demo, mix, speech_level
from lstm_se.cli import main
from lstm_se.config import MixConfig

RATE = demo.RATE


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "corpus"
    demo.make_demo_corpus(out, MixConfig(), minutes=0.5, speakers=4, progress=False)
    return out


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def _f0(x: np.ndarray, rate: int) -> float:
    """Median autocorrelation pitch (60-400 Hz) of the loudest 40 ms frames."""
    n = int(0.04 * rate)
    frames = x[: len(x) // n * n].reshape(-1, n)
    loud = frames[np.argsort((frames**2).sum(axis=1))[-20:]]
    lags = np.arange(rate // 400, rate // 60)
    f0s = []
    for fr in loud:
        fr = fr - fr.mean()
        ac = np.correlate(fr, fr, mode="full")[n - 1 :]
        f0s.append(rate / lags[np.argmax(ac[lags])])
    return float(np.median(f0s))


def _slope_db_per_octave(x: np.ndarray, rate: int) -> float:
    f, p = signal.welch(x, rate, nperseg=4096)
    band = (f >= 100) & (f <= 4000)
    return float(np.polyfit(np.log2(f[band]), 10 * np.log10(p[band]), 1)[0])


def test_demo_corpus_layout_and_log(corpus: Path) -> None:
    info = json.loads((corpus / "info.json").read_text())
    assert info["generator"] == "lstm-se demo-data"
    assert info["sample_rate"] == 48000
    with open(corpus / "log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for set_name, (clean_dir, noisy_dir) in mix.FOLDERS.items():
        names = sorted(p.name for p in (corpus / clean_dir).glob("*.wav"))
        assert names and names == sorted(p.name for p in (corpus / noisy_dir).glob("*.wav"))
        assert len(names) == info["counts"][set_name]["pairs"]
    train = {r["utterance"].rsplit("_", 1)[0] for r in rows if r["set"] == "train"}
    test = {r["utterance"].rsplit("_", 1)[0] for r in rows if r["set"] == "test"}
    assert len(train) == 3 and len(test) == 1 and not train & test
    assert all(s.startswith("spk") for s in train | test)  # babble speakers are never targets
    noise = {s: {r["noise_file"] for r in rows if r["set"] == s} for s in ("train", "test")}
    assert not noise["train"] & noise["test"]
    seconds = sum(c["seconds"] for c in info["counts"].values())
    assert 0.4 * 60 <= seconds <= 0.75 * 60  # about the asked 0.5 minutes


def test_demo_speech_scores_like_speech_in_pesq(corpus: Path) -> None:
    clean_dir, noisy_dir = mix.FOLDERS["test"]
    names = sorted(p.name for p in (corpus / clean_dir).glob("*.wav"))[:3]
    assert names
    for name in names:
        clean, rate = sf.read(corpus / clean_dir / name, dtype="float32")
        noisy, _ = sf.read(corpus / noisy_dir / name, dtype="float32")
        ref = audio.resample(clean, rate, 16000)
        deg = audio.resample(noisy, rate, 16000)
        self_score = pesq(16000, ref, ref, "wb")
        noisy_score = pesq(16000, ref, deg, "wb")
        assert self_score > 4.0
        assert noisy_score < self_score - 0.5


def test_speakers_differ_in_pitch_and_formants() -> None:
    rng = np.random.default_rng(0)
    male = demo.make_speaker("m", 0, np.random.default_rng(1))
    child = demo.make_speaker("c", 4, np.random.default_rng(1))
    assert male.kind == "male" and child.kind == "child"
    xm = demo.synth_utterance(male, 3.0, rng)
    xc = demo.synth_utterance(child, 3.0, rng)
    # Measured pitch sits a little above the speaker's mean (phrase starts and stress rise).
    f0m, f0c = _f0(xm, RATE), _f0(xc, RATE)
    assert male.f0 * 0.9 < f0m < male.f0 * 1.3 and child.f0 * 0.9 < f0c < child.f0 * 1.3
    assert f0c > 1.6 * f0m

    # A shorter vocal tract moves the spectral centroid up.
    def centroid(x: np.ndarray) -> float:
        f, p = signal.welch(x, RATE, nperseg=1024)
        return float((f * p).sum() / p.sum())

    assert centroid(xc) > 1.1 * centroid(xm)


def test_speech_has_syllable_rhythm_and_pauses() -> None:
    spk = demo.make_speaker("s", 1, np.random.default_rng(2))
    x = demo.synth_utterance(spk, 6.0, np.random.default_rng(3)).astype(np.float64)
    assert 5.0 < len(x) / RATE < 9.0
    assert speech_level.active_speech_power(x, RATE) == pytest.approx(
        10 ** (spk.level_db / 10), rel=0.05
    )
    # 10 ms frame energies: pauses (> 40 dB below the peak) and syllables as envelope peaks at
    # about 4 per second (counting the pauses in the duration, so a little lower).
    n = RATE // 100
    env = np.sqrt((x[: len(x) // n * n].reshape(-1, n) ** 2).mean(axis=1))
    db = np.convolve(20 * np.log10(env + 1e-6), np.ones(3) / 3, mode="same")
    assert np.mean(db < db.max() - 40) > 0.05
    peaks, _ = signal.find_peaks(db, prominence=6, distance=8)
    assert 2.5 <= len(peaks) / (len(x) / RATE) <= 6.0


def test_noise_kinds_have_their_spectra() -> None:
    rng = np.random.default_rng(4)
    slopes = {
        k: _slope_db_per_octave(demo.make_noise(k, 4.0, rng), RATE)
        for k in ("white", "pink", "brown")
    }
    assert slopes["white"] == pytest.approx(0.0, abs=1.0)
    assert slopes["pink"] == pytest.approx(-3.0, abs=1.0)
    assert slopes["brown"] == pytest.approx(-6.0, abs=1.0)
    hum = demo.make_noise("hum", 4.0, rng).astype(np.float64)
    _, p = signal.welch(hum, RATE, nperseg=16000)  # 1 Hz bins
    mains = 50 if p[50] > p[60] else 60
    assert p[mains] > 100 * np.median(p) and p[3 * mains] > 100 * np.median(p)
    bursts = demo.make_noise("bursts", 4.0, rng).astype(np.float64)
    n = RATE // 50
    db = 10 * np.log10((bursts[: len(bursts) // n * n].reshape(-1, n) ** 2).mean(axis=1))
    assert db.max() - np.median(db) > 10  # non-stationary: events stand out of the floor
    with pytest.raises(ValueError, match="babble"):
        demo.make_noise("babble", 1.0, rng)
    pool = demo.babble_pool([demo.make_speaker("b", 0, rng)], rng, per_speaker=1)
    assert np.abs(demo.make_noise("babble", 2.0, rng, pool)).max() > 0


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    cfg = MixConfig(sample_rate=16000)
    kw = {"minutes": 0.15, "speakers": 2, "progress": False}
    demo.make_demo_corpus(tmp_path / "a", cfg, **kw)
    demo.make_demo_corpus(tmp_path / "b", cfg, **kw)
    demo.make_demo_corpus(tmp_path / "c", dataclasses.replace(cfg, seed=cfg.seed + 1), **kw)
    a, b, c = (_tree(tmp_path / x) for x in "abc")
    assert a == b
    assert a["log.csv"] != c["log.csv"]
    assert any(c.get(k) != v for k, v in a.items() if k.endswith(".wav"))


def test_cli_demo_data(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "corpus"
    args = [
        "demo-data",
        "--out",
        str(out),
        "--minutes",
        "0.15",
        "--speakers",
        "2",
        "mix.sample_rate=16000",
    ]
    assert main(args) == 0
    info = json.loads((out / "info.json").read_text())
    assert info["sample_rate"] == 16000 and info["demo"]["speakers_requested"] == 2
    before = _tree(out)
    assert main(args) == 1  # exists: refused, untouched
    assert "already exists" in capsys.readouterr().err and _tree(out) == before
    assert main([*args, "--force"]) == 0 and _tree(out) == before  # same seed, same corpus
    bad = tmp_path / "bad"
    assert main(["demo-data", "--out", str(bad), "--speakers", "1"]) == 1
    assert "--speakers must be at least 2" in capsys.readouterr().err and not bad.exists()
