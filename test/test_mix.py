"""Corpus maker (`lstm-se mix`): layout, SNRs, disjoint splits, reproducibility, bad input."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from lstm_se import audio, mix, mix_augment, mix_inputs
from lstm_se.cli import main
from lstm_se.config import ConfigError, MixConfig

RATES = (16000, 22050, 44100, 48000)
CFG16 = MixConfig(sample_rate=16000)  # most tests: smaller files, same code paths


def _speech(rate: int, seconds: float, rng: np.random.Generator, amp: float = 0.3) -> np.ndarray:
    """A harmonic tone switched on and off at about 3 Hz with near-silent pauses, so the active
    level (tone only) differs clearly from the plain RMS (tone and pauses)."""
    t = np.arange(int(rate * seconds)) / rate
    f0 = float(rng.uniform(100, 250))
    x = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) / h for h in range(1, 6))
    gate = (np.sin(2 * np.pi * 3.0 * t + rng.uniform(0, 6)) > 0.2).astype(float)
    x = x * gate / np.max(np.abs(x)) * amp
    return (x + 1e-4 * rng.standard_normal(len(t))).astype(np.float32)


def make_inputs(
    root: Path,
    speakers: int = 5,
    utts: int = 2,
    noises: int = 4,
    short_noise: bool = False,
    amp: float = 0.3,
) -> tuple[Path, Path]:
    """speech/<spkN>/... and noise/... under `root` at mixed rates, wav and flac."""
    rng = np.random.default_rng(7)
    speech, noise = root / "speech", root / "noise"
    k = 0
    for s in range(speakers):
        for u in range(utts):
            rate = RATES[k % len(RATES)]
            ext = "flac" if k % 3 == 1 else "wav"
            sub = speech / f"group{s % 2}" / f"spk{s}"  # found recursively; speaker = parent
            sub.mkdir(parents=True, exist_ok=True)
            sf.write(sub / f"utt{u}.{ext}", _speech(rate, rng.uniform(0.6, 1.0), rng, amp), rate)
            k += 1
    noise.mkdir(parents=True)
    for n in range(noises):
        rate = RATES[(n + 1) % len(RATES)]
        seconds = 0.3 if short_noise else 2.0
        color = np.cumsum(rng.standard_normal(int(rate * seconds))) if n % 2 else None
        x = rng.standard_normal(int(rate * seconds)) if color is None else color - color.mean()
        x = 0.1 * x / np.max(np.abs(x))
        sf.write(noise / f"n{n}.{'flac' if n % 2 else 'wav'}", x.astype(np.float32), rate)
    return speech, noise


def build(root: Path, out: Path, cfg: MixConfig = CFG16, **kwargs) -> dict:
    return mix_folders(*make_inputs(root, **kwargs), out, cfg)


def mix_folders(
    speech: Path, noise: Path, out: Path, cfg: MixConfig = CFG16, workers: int = 1
) -> dict:
    return mix.make_corpus(
        mix_inputs.find_speech(speech),
        mix_inputs.find_noise(noise),
        out,
        cfg,
        workers=workers,
        speech_root=speech,
        noise_root=noise,
        progress=False,
    )


def mix_cli(speech: Path, noise: Path, out: Path, *overrides: str) -> int:
    """`lstm-se mix --speech SPEECH --noise NOISE --out OUT [overrides]`; the exit status."""
    return main(
        ["mix", "--speech", str(speech), "--noise", str(noise), "--out", str(out), *overrides]
    )


def read_log(out: Path) -> list[dict[str, str]]:
    with open(out / "log.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def snr_db(clean: np.ndarray, noisy: np.ndarray, rate: int) -> float:
    """The documented definition, written out again here independently of mix.py."""
    n = round(0.02 * rate)
    frames = clean[: len(clean) // n * n].reshape(-1, n)
    energy = (frames.astype(np.float64) ** 2).mean(axis=1)
    active = energy[energy >= energy.max() * 1e-4]
    noise = (noisy.astype(np.float64) - clean) ** 2
    return 10 * np.log10(active.mean() / noise.mean())


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def speakers_of(folder: Path) -> set[str]:
    return {p.stem.rsplit("_", 1)[0] for p in folder.glob("*.wav")}


# ---------------------------------------------------------------------------------------------


def test_layout_counts_and_log(tmp_path: Path) -> None:
    cfg = MixConfig(mixtures_per_utterance=2)  # default 48 kHz output
    out = tmp_path / "corpus"
    info = build(tmp_path, out, cfg, speakers=5, utts=2)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [mix.TRAIN_CLEAN, mix.TRAIN_NOISY, mix.TEST_CLEAN, mix.TEST_NOISY, "log.csv", "info.json"]
    )
    rows = read_log(out)
    assert tuple(rows[0]) == mix.LOG_COLUMNS
    n_test_spk = round(0.2 * 5)
    expect = {"train": (5 - n_test_spk) * 2 * 2, "test": n_test_spk * 2}
    for set_name, (clean_dir, noisy_dir) in mix.FOLDERS.items():
        clean = sorted(p.name for p in (out / clean_dir).iterdir())
        noisy = sorted(p.name for p in (out / noisy_dir).iterdir())
        assert clean == noisy and len(clean) == expect[set_name]
        assert all(re.fullmatch(r"spk\d_\d{3}\.wav", name) for name in clean)
        assert sorted(r["utterance"] + ".wav" for r in rows if r["set"] == set_name) == clean
        assert info["counts"][set_name]["pairs"] == expect[set_name]
        for name in clean:
            c_info, n_info = sf.info(out / clean_dir / name), sf.info(out / noisy_dir / name)
            assert c_info.samplerate == n_info.samplerate == 48000
            assert c_info.frames == n_info.frames and c_info.subtype == "PCM_16"
    # Each training utterance appears twice, under two ids, with the clean duplicated and its
    # own noise mixture each time.
    train = [r for r in rows if r["set"] == "train"]
    by_source: dict[str, list[dict[str, str]]] = {}
    for r in train:
        by_source.setdefault(r["speech_file"], []).append(r)
    assert all(len(v) == 2 for v in by_source.values())
    a, b = next(iter(by_source.values()))
    d = out / mix.TRAIN_CLEAN
    assert (d / f"{a['utterance']}.wav").read_bytes() == (d / f"{b['utterance']}.wav").read_bytes()
    d = out / mix.TRAIN_NOISY
    assert (d / f"{a['utterance']}.wav").read_bytes() != (d / f"{b['utterance']}.wav").read_bytes()
    # Counters run per speaker from 001: 2 source files x 2 mixtures = 001..004.
    for spk in speakers_of(out / mix.TRAIN_CLEAN):
        ids = {r["utterance"] for r in train if r["utterance"].rsplit("_", 1)[0] == spk}
        assert ids == {f"{spk}_{i:03d}" for i in range(1, 5)}
    saved = json.loads((out / "info.json").read_text())
    assert saved["seed"] == cfg.seed and saved["settings"]["mixtures_per_utterance"] == 2
    assert saved["counts"] == info["counts"]


def test_snrs_measured_back_and_from_the_configured_sets(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    build(tmp_path, out, speakers=6, utts=2)
    rows = read_log(out)
    seen: dict[str, set[float]] = {"train": set(), "test": set()}
    for r in rows:
        clean_dir, noisy_dir = mix.FOLDERS[r["set"]]
        clean, rate = sf.read(out / clean_dir / f"{r['utterance']}.wav")
        noisy, _ = sf.read(out / noisy_dir / f"{r['utterance']}.wav")
        target = float(r["snr_db"])
        assert snr_db(clean, noisy, rate) == pytest.approx(target, abs=0.5)
        assert float(r["measured_snr_db"]) == pytest.approx(target, abs=0.5)
        # The plain-RMS SNR of these gated signals is clearly lower: the definition matters.
        plain = 10 * np.log10(np.mean(clean**2) / np.mean((noisy - clean) ** 2))
        assert plain < target - 1.0
        seen[r["set"]].add(target)
    assert seen["train"] <= set(CFG16.train_snrs) and seen["test"] <= set(CFG16.test_snrs)
    # 10 training pairs dealt over 4 SNRs evenly: every SNR is used.
    assert seen["train"] == set(CFG16.train_snrs)


def test_speakers_and_noise_files_are_disjoint(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    info = build(tmp_path, out, speakers=10, utts=1, noises=10)
    train, test = speakers_of(out / mix.TRAIN_CLEAN), speakers_of(out / mix.TEST_CLEAN)
    assert not train & test
    assert train | test == {f"spk{i}" for i in range(10)}
    assert len(test) == 2 and speakers_of(out / mix.TEST_NOISY) == test
    rows = read_log(out)
    noise = {s: {r["noise_file"] for r in rows if r["set"] == s} for s in ("train", "test")}
    assert noise["train"] and noise["test"] and not noise["train"] & noise["test"]
    assert (
        set(info["noise_files"]["test"]) >= noise["test"] and len(info["noise_files"]["test"]) == 3
    )
    assert not set(info["noise_files"]["train"]) & set(info["noise_files"]["test"])


def test_same_seed_same_bytes_other_seed_differs_workers_do_not_matter(tmp_path: Path) -> None:
    speech, noise = make_inputs(tmp_path / "in", speakers=4, utts=2)

    def run(out: Path, cfg: MixConfig, workers: int) -> dict[str, bytes]:
        mix_folders(speech, noise, out, cfg, workers)
        return tree_bytes(out)

    first = run(tmp_path / "a", CFG16, 1)
    assert run(tmp_path / "b", CFG16, 1) == first
    assert run(tmp_path / "c", CFG16, 2) == first  # process pool, same bytes
    other = run(tmp_path / "d", dataclasses.replace(CFG16, seed=CFG16.seed + 1), 1)
    assert other["log.csv"] != first["log.csv"]
    changed = [k for k in first if k.endswith(".wav") and other.get(k) != first[k]]
    assert changed


def test_loud_speech_is_rescaled_never_clipped(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    cfg = dataclasses.replace(CFG16, train_snrs=(0.0,), test_snrs=(0.0,))
    build(tmp_path, out, cfg, amp=0.95)
    rows = read_log(out)
    assert all(r["rescaled"] == "yes" for r in rows)  # 0.95 speech + 0 dB noise must exceed 0.99
    for r in rows:
        clean_dir, noisy_dir = mix.FOLDERS[r["set"]]
        clean, rate = sf.read(out / clean_dir / f"{r['utterance']}.wav")
        noisy, _ = sf.read(out / noisy_dir / f"{r['utterance']}.wav")
        assert np.abs(noisy).max() <= cfg.peak + 1 / 32768
        assert np.abs(clean).max() <= cfg.peak + 1 / 32768
        assert float(r["speech_gain"]) < 1.0
        assert snr_db(clean, noisy, rate) == pytest.approx(0.0, abs=0.5)
    info = json.loads((out / "info.json").read_text())
    assert sum(c["rescaled"] for c in info["counts"].values()) == len(rows)


def test_short_noise_is_looped_and_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    speech, noise = make_inputs(tmp_path, short_noise=True)  # 0.3 s noise, 0.6-1 s speech
    out = tmp_path / "corpus"
    rc = mix_cli(speech, noise, out, "mix.sample_rate=16000")
    assert rc == 0
    err = capsys.readouterr().err
    rows = read_log(out)
    assert rows and all(r["noise_looped"] == "yes" for r in rows)
    for r in rows:
        assert f"noise file {r['noise_file']} is shorter" in err
        clean_dir, noisy_dir = mix.FOLDERS[r["set"]]
        clean, rate = sf.read(out / clean_dir / f"{r['utterance']}.wav")
        noisy, _ = sf.read(out / noisy_dir / f"{r['utterance']}.wav")
        assert len(clean) == len(noisy)  # nothing padded, speech length kept
        assert snr_db(clean, noisy, rate) == pytest.approx(float(r["snr_db"]), abs=0.5)
        # Looped noise repeats with the noise file's period (0.3 s at the output rate).
        residual = noisy - clean
        period = round(0.3 * rate)
        if len(residual) > 2 * period:
            a, b = residual[:period], residual[period : 2 * period]
            assert np.corrcoef(a, b)[0, 1] > 0.99


def test_cli_mix_writes_the_corpus(tmp_path: Path) -> None:
    speech, noise = make_inputs(tmp_path, speakers=3, utts=1)
    out = tmp_path / "corpus"
    assert mix_cli(speech, noise, out, "mix.sample_rate=16000", "mix.seed=5") == 0
    info = json.loads((out / "info.json").read_text())
    assert info["seed"] == 5 and info["sample_rate"] == 16000
    assert sum(c["pairs"] for c in info["counts"].values()) == 3
    assert len(read_log(out)) == 3


def _leftovers(parent: Path, out: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(f".{out.name}.")]


@pytest.mark.parametrize(
    "case",
    ["empty_speech", "empty_noise", "unreadable", "one_speaker", "one_noise", "silent_speech"],
)
def test_bad_input_names_the_culprit_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture, case: str
) -> None:
    speech, noise = make_inputs(tmp_path / "in", speakers=3, utts=1)
    culprit: Path
    if case == "empty_speech":
        culprit = tmp_path / "in" / "empty"
        culprit.mkdir()
        speech = culprit
    elif case == "empty_noise":
        culprit = tmp_path / "in" / "empty"
        culprit.mkdir()
        (culprit / "readme.txt").write_text("not audio")
        noise = culprit
    elif case == "unreadable":
        culprit = speech / "group1" / "spk1" / "broken.wav"
        culprit.write_bytes(b"RIFF\x00\x00 this is not a wav file")
    elif case == "one_speaker":
        for extra in ("spk1", "spk2"):
            for f in speech.rglob(f"{extra}/*.*"):
                f.unlink()
        culprit = speech
    elif case == "one_noise":
        for f in sorted(noise.iterdir())[1:]:
            f.unlink()
        culprit = noise
    else:  # a silent file passes the header check and fails while mixing, after work began
        culprit = speech / "group0" / "spk2" / "silent.wav"
        sf.write(culprit, np.zeros(8000, dtype=np.float32), 16000)
    out = tmp_path / "out" / "corpus"
    out.parent.mkdir()
    rc = mix_cli(speech, noise, out, "mix.sample_rate=16000")
    err = capsys.readouterr().err
    assert rc == 1
    assert str(culprit) in err
    assert not out.exists() and not _leftovers(out.parent, out)


def test_existing_out_is_refused_unless_force(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    speech, noise = make_inputs(tmp_path / "in", speakers=3, utts=1)
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert mix_cli(speech, noise, out, "mix.sample_rate=16000") == 1
    assert "already exists" in capsys.readouterr().err and (out / "keep.txt").exists()
    assert mix_cli(speech, noise, out, "mix.sample_rate=16000", "--force") == 0
    assert not (out / "keep.txt").exists() and (out / "log.csv").is_file()
    assert not _leftovers(tmp_path, out)
    # An output inside an input folder is refused (it would be read back as input).
    assert mix_cli(speech, noise, speech / "corpus") == 1
    assert "must not be" in capsys.readouterr().err


def test_bad_mix_settings_are_config_errors(tmp_path: Path) -> None:
    speech, noise = make_inputs(tmp_path, speakers=2, utts=1)
    for bad, key in (
        (dataclasses.replace(CFG16, test_speakers=1.0), "mix.test_speakers"),
        (dataclasses.replace(CFG16, train_snrs=()), "mix.train_snrs"),
        (dataclasses.replace(CFG16, mixtures_per_utterance=0), "mix.mixtures_per_utterance"),
        (dataclasses.replace(CFG16, peak=1.5), "mix.peak"),
        (dataclasses.replace(CFG16, reverb=1.5), "mix.reverb"),
        (dataclasses.replace(CFG16, reverb=float("nan")), "mix.reverb"),
        (dataclasses.replace(CFG16, babble=-0.1), "mix.babble"),
        (dataclasses.replace(CFG16, rt60=(0.8, 0.2)), "mix.rt60"),
        (dataclasses.replace(CFG16, rt60=(0.0, 0.5)), "mix.rt60"),
        (dataclasses.replace(CFG16, rt60=(0.5,)), "mix.rt60"),
        (dataclasses.replace(CFG16, babble_talkers=(1, 3)), "mix.babble_talkers"),
        (dataclasses.replace(CFG16, babble_talkers=(4, 3)), "mix.babble_talkers"),
    ):
        with pytest.raises(ConfigError, match=re.escape(key)):
            mix.make_corpus(
                mix_inputs.find_speech(speech), mix_inputs.find_noise(noise), tmp_path / "o", bad
            )
        assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------------
# augmentations: reverberation and babble


def _pause_share(x: np.ndarray, dry: np.ndarray, rate: int) -> float:
    """Share of the energy of `x` in the 20 ms frames where `dry` is a pause (40 dB down)."""
    n = round(0.02 * rate)
    m = len(dry) // n * n
    e_dry = (dry[:m].reshape(-1, n) ** 2).mean(axis=1)
    e_x = (x[:m].reshape(-1, n) ** 2).mean(axis=1)
    pause = e_dry < e_dry.max() * 1e-4
    return float(e_x[pause].sum() / e_x.sum())


def test_reverb_makes_mixed_speech_and_clean_target_reverberant(tmp_path: Path) -> None:
    cfg = dataclasses.replace(CFG16, reverb=1.0, rt60=(0.4, 0.6))
    out = tmp_path / "corpus"
    info = build(tmp_path, out, cfg, speakers=4, utts=2)
    rows = read_log(out)
    assert sum(c["reverberant"] for c in info["counts"].values()) == len(rows)
    for r in rows:
        assert 0.4 <= float(r["rt60_s"]) <= 0.6
        assert mix_augment.RIR_DRR_DB[0] <= float(r["drr_db"]) <= mix_augment.RIR_DRR_DB[1]
        clean_dir, noisy_dir = mix.FOLDERS[r["set"]]
        clean, rate = sf.read(out / clean_dir / f"{r['utterance']}.wav")
        noisy, _ = sf.read(out / noisy_dir / f"{r['utterance']}.wav")
        dry = audio.read_mono(tmp_path / "speech" / r["speech_file"], rate).astype(np.float64)
        assert len(clean) == len(dry)
        gain = float(r["speech_gain"])
        assert np.abs(clean - gain * dry).max() > 0.01  # not the dry source
        # The reverberant tail fills the pauses of the gated source.
        wet_share, dry_share = _pause_share(clean, dry, rate), _pause_share(dry, dry, rate)
        assert wet_share > 1e-3 and wet_share > 1000 * dry_share
        # The SNR holds on the reverberant speech, which is the clean target.
        assert snr_db(clean, noisy, rate) == pytest.approx(float(r["snr_db"]), abs=0.5)


def test_reverb_share_leaves_the_other_mixtures_as_they_were(tmp_path: Path) -> None:
    speech, noise = make_inputs(tmp_path / "in", speakers=4, utts=3)

    def run(out: Path, cfg: MixConfig) -> dict[str, bytes]:
        mix.make_corpus(
            mix_inputs.find_speech(speech), mix_inputs.find_noise(noise), out, cfg, progress=False
        )
        return tree_bytes(out)

    dry = run(tmp_path / "dry", CFG16)
    half = run(tmp_path / "half", dataclasses.replace(CFG16, reverb=0.5))
    rows = read_log(tmp_path / "half")
    wet = {r["utterance"] for r in rows if r["rt60_s"]}
    for set_name in mix.FOLDERS:
        n_set = sum(r["set"] == set_name for r in rows)
        assert sum(r["set"] == set_name and r["utterance"] in wet for r in rows) == round(
            0.5 * n_set
        )
    for key, value in dry.items():
        if key.endswith(".wav"):
            assert (half[key] != value) == (Path(key).stem in wet), key


def test_babble_replaces_noise_files_with_other_speakers_of_the_set(tmp_path: Path) -> None:
    cfg = dataclasses.replace(CFG16, babble=1.0, babble_talkers=(2, 3), test_speakers=0.4)
    speech, noise = make_inputs(tmp_path / "in", speakers=10, utts=1)

    def run(out: Path) -> dict[str, Any]:
        return mix_folders(speech, noise, out, cfg)

    info = run(tmp_path / "a")
    out = tmp_path / "a"
    rows = read_log(out)
    set_of = {spk: s for s in ("train", "test") for spk in info["speakers"][s]}
    assert sum(c["babble"] for c in info["counts"].values()) == len(rows)
    for r in rows:
        target = r["utterance"].rsplit("_", 1)[0]
        talkers = [Path(f).parent.name for f in r["babble_files"].split(";")]
        assert r["noise_file"] == f"babble:{len(talkers)}" and 2 <= len(talkers) <= 3
        assert r["noise_offset"] == ""
        assert target not in talkers and len(set(talkers)) == len(talkers)
        assert all(set_of[t] == r["set"] for t in talkers)  # the split stays speaker-disjoint
        clean_dir, noisy_dir = mix.FOLDERS[r["set"]]
        clean, rate = sf.read(out / clean_dir / f"{r['utterance']}.wav")
        noisy, _ = sf.read(out / noisy_dir / f"{r['utterance']}.wav")
        assert snr_db(clean, noisy, rate) == pytest.approx(float(r["snr_db"]), abs=0.5)
        assert float(r["measured_snr_db"]) == pytest.approx(float(r["snr_db"]), abs=0.5)
    # Other noise in the noise files changes nothing: no noise file went into the mixtures.
    for path in noise.iterdir():
        x, rate = sf.read(path)
        sf.write(path, -np.roll(x, len(x) // 3), rate)
    run(tmp_path / "b")
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")


def test_babble_needs_enough_speakers_in_each_set(tmp_path: Path) -> None:
    speech, noise = make_inputs(tmp_path, speakers=5, utts=1)  # 4 train, 1 test speaker
    cfg = dataclasses.replace(CFG16, babble=1.0)  # up to 6 talkers
    out = tmp_path / "o"
    with pytest.raises(mix_inputs.MixError, match=r"the train set has 4 speakers.*at least 7"):
        mix.make_corpus(
            mix_inputs.find_speech(speech), mix_inputs.find_noise(noise), out, cfg, progress=False
        )
    assert not out.exists() and not _leftovers(tmp_path, out)


def test_augmented_corpus_is_reproducible_whatever_the_workers(tmp_path: Path) -> None:
    speech, noise = make_inputs(tmp_path / "in", speakers=10, utts=1)
    cfg = dataclasses.replace(
        CFG16, reverb=0.5, babble=0.5, babble_talkers=(2, 3), test_speakers=0.4
    )

    def run(out: Path, cfg: MixConfig, workers: int) -> dict[str, bytes]:
        mix_folders(speech, noise, out, cfg, workers)
        return tree_bytes(out)

    first = run(tmp_path / "a", cfg, 1)
    assert run(tmp_path / "b", cfg, 2) == first
    rows = read_log(tmp_path / "a")
    assert any(r["rt60_s"] for r in rows) and any(r["babble_files"] for r in rows)
    other = run(tmp_path / "c", dataclasses.replace(cfg, seed=cfg.seed + 1), 1)
    assert other["log.csv"] != first["log.csv"]
