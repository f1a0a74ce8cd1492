"""corpus.py: discovery, pairing by id, the speaker split, and each bad input's one behaviour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import TEST, TRAIN, make_corpus, speech_like, write_pair

from lstm_se import corpus

SEGMENT = 8000  # 0.5 s at 16 kHz


def _validate(root: Path, **kw):
    args = dict(
        sample_rate=16000,
        segment_samples=SEGMENT,
        top_db=60.0,
        stereo="downmix",
        short="pad",
        progress=False,
    )
    args.update(kw)
    return corpus.validate(corpus.discover(root, "28spk"), root, **args)


def test_speaker_is_stem_before_last_underscore() -> None:
    assert corpus.speaker_of("p226_001") == "p226"
    assert corpus.speaker_of("spk_a_12") == "spk_a"
    assert corpus.speaker_of("solo") == "solo"


def test_pairs_by_id_not_position(tmp_path: Path) -> None:
    root = make_corpus(
        tmp_path / "c", train_speakers=("p1", "p2"), test_speakers=("p9",), per_speaker=2
    )
    rng = np.random.default_rng(0)
    # A noisy-only file that sorts first would shift a positional pairing by one.
    sf.write(root / TRAIN[1] / "p0_001.wav", speech_like(1.0, 48000, 100.0, rng), 48000)
    utts = corpus.discover(root, "28spk")
    for u in utts:
        for p in (u.clean, u.noisy):
            assert p is None or p.stem == u.utt
    odd = [u for u in utts if u.utt == "p0_001"]
    assert len(odd) == 1 and odd[0].clean is None and odd[0].noisy is not None
    assert {u.subset for u in utts if u.speaker == "p9"} == {"test"}


def test_trainsets_never_merged(tmp_path: Path) -> None:
    root = make_corpus(tmp_path / "c", train_speakers=("p1",), test_speakers=("p9",), per_speaker=1)
    rng = np.random.default_rng(1)
    for side in ("clean", "noisy"):
        (root / f"{side}_trainset_56spk_wav").mkdir()
        x = speech_like(1.0, 48000, 120.0, rng)
        sf.write(root / f"{side}_trainset_56spk_wav" / "p5_001.wav", x, 48000)
    ids28 = {u.utt for u in corpus.discover(root, "28spk") if u.subset == "train"}
    ids56 = {u.utt for u in corpus.discover(root, "56spk") if u.subset == "train"}
    assert ids28 == {"p1_001"} and ids56 == {"p5_001"}


def test_missing_folder_and_duplicate_id_are_errors(tmp_path: Path) -> None:
    root = make_corpus(tmp_path / "c", train_speakers=("p1",), test_speakers=("p9",), per_speaker=1)
    with pytest.raises(corpus.CorpusError, match="clean_trainset_56spk_wav"):
        corpus.discover(root, "56spk")
    (root / TEST[0] / "p9_001.wav").rename(root / TEST[0] / "p9_001.flac")
    sf.write(root / TEST[0] / "p9_001.wav", np.zeros(480, np.float32), 48000)
    with pytest.raises(corpus.CorpusError, match=r"p9_001\.flac and p9_001\.wav"):
        corpus.discover(root, "28spk")


def test_speaker_split_is_seeded_and_disjoint() -> None:
    speakers = [f"p{i:03d}" for i in range(28)]
    a_train, a_valid = corpus.split_speakers(speakers, 0.9, seed=1)
    b_train, b_valid = corpus.split_speakers(reversed(speakers), 0.9, seed=1)
    c_train, _ = corpus.split_speakers(speakers, 0.9, seed=2)
    assert (a_train, a_valid) == (b_train, b_valid)
    assert a_train != c_train
    assert not set(a_train) & set(a_valid) and set(a_train) | set(a_valid) == set(speakers)
    assert len(a_train) == round(0.9 * 28)
    assert corpus.split_speakers(["p1", "p2"], 0.99, seed=0)[1]  # valid never left empty
    assert corpus.split_speakers(["p1", "p2"], 1.0, seed=0) == (["p1", "p2"], [])


# ---------------------------------------------------------------------------------------------
# bad inputs: each test makes its own broken file and checks the one documented behaviour


@pytest.fixture
def vb(corpus_copy) -> Path:
    return corpus_copy()


def _skipped(report, utt: str) -> dict:
    hits = [s for s in report["skipped_pairs"] if s["utt"] == utt]
    assert len(hits) == 1, report["skipped_pairs"]
    assert utt not in {i["utt"] for i in report["pairs_info"]}
    return hits[0]


def _wav(vb: Path, side: int = 1, utt: str = "p002_001", subset=TRAIN) -> Path:
    return vb / subset[side] / f"{utt}.wav"


def test_corrupt_header_skipped(vb: Path) -> None:
    path = _wav(vb)
    data = bytearray(path.read_bytes())
    data[:4] = b"JUNK"
    path.write_bytes(bytes(data))
    rep = _validate(vb)
    s = _skipped(rep, "p002_001")
    assert s["reason"] == "unreadable" and path.name in s["detail"]
    assert rep["counts"]["unreadable"] == 1 and rep["skipped"] == 1


def test_truncated_data_skipped(vb: Path) -> None:
    path = _wav(vb, side=0)
    path.write_bytes(path.read_bytes()[:20000])  # header still says the full length
    s = _skipped(_validate(vb), "p002_001")
    assert s["reason"] == "truncated" and "clean" in s["detail"]


@pytest.mark.parametrize("kind", ["zero_bytes", "zero_samples"])
def test_empty_file_skipped(vb: Path, kind: str) -> None:
    path = _wav(vb)
    if kind == "zero_bytes":
        path.write_bytes(b"")
    else:
        sf.write(path, np.zeros(0, np.float32), 48000, subtype="PCM_16")
    rep = _validate(vb)
    assert _skipped(rep, "p002_001")["reason"] == "empty"
    assert rep["counts"]["empty"] == 1


def test_stereo_downmixed_or_error(vb: Path) -> None:
    path = _wav(vb)
    x, rate = sf.read(path, dtype="float32")
    sf.write(path, np.stack([x, 0.5 * x], axis=1), rate, subtype="PCM_16")
    rep = _validate(vb)
    assert "p002_001" in {i["utt"] for i in rep["pairs_info"]}
    assert rep["fixed"]["downmixed"] == 1 and rep["skipped"] == 0
    assert [f["utt"] for f in rep["fixes"] if f["fix"] == "downmixed"] == ["p002_001"]
    with pytest.raises(corpus.CorpusError, match=r"p002_001\.wav"):
        _validate(vb, stereo="error")


def test_other_sample_rate_resampled(vb: Path) -> None:
    path = _wav(vb)
    x, _ = sf.read(_wav(vb, side=0), dtype="float32")
    n = round(len(x) * 44100 / 48000)
    sf.write(path, speech_like(n / 44100, 44100, 150.0, np.random.default_rng(0)), 44100)
    rep = _validate(vb)
    assert "p002_001" in {i["utt"] for i in rep["pairs_info"]} and rep["skipped"] == 0
    assert rep["rates"]["44100"] == 1
    assert rep["fixed"]["resampled"] == rep["rates"]["44100"] + rep["rates"]["48000"]


def test_silent_clean_skipped(vb: Path) -> None:
    path = _wav(vb, side=0)
    n = sf.info(path).frames
    sf.write(path, np.full(n, 1e-4, np.float32), 48000, subtype="PCM_16")  # about -80 dBFS
    s = _skipped(_validate(vb, top_db=60.0), "p002_001")
    assert s["reason"] == "silent" and "clean" in s["detail"]


def test_too_short_padded_or_skipped(vb: Path) -> None:
    write_pair(vb, "train", "p002_009", 0.2, np.random.default_rng(5))  # < 0.5 s segment
    rep = _validate(vb, short="pad")
    assert "p002_009" in {i["utt"] for i in rep["pairs_info"]}
    assert [f["utt"] for f in rep["fixes"] if f["fix"] == "padded"] == ["p002_009"]
    rep = _validate(vb, short="skip")
    assert _skipped(rep, "p002_009")["reason"] == "too_short"
    assert rep["counts"]["too_short"] == 1


def test_missing_partner_skipped(vb: Path) -> None:
    _wav(vb, side=1, utt="p101_002", subset=TEST).unlink()
    rep = _validate(vb)
    s = _skipped(rep, "p101_002")
    assert s["reason"] == "missing_partner" and s["subset"] == "test"
    assert s["files"] == [f"{TEST[0]}/p101_002.wav"]


def test_length_mismatch_skipped(vb: Path) -> None:
    path = _wav(vb)
    x, rate = sf.read(path, dtype="float32")
    sf.write(path, np.concatenate([x, x[:4800]]), rate, subtype="PCM_16")
    s = _skipped(_validate(vb), "p002_001")
    assert s["reason"] == "length_mismatch" and "48000 Hz" in s["detail"]


def test_skipped_share_limit(vb: Path) -> None:
    for utt in ("p001_001", "p003_002"):
        _wav(vb, utt=utt).write_bytes(b"")
    rep = _validate(vb)
    assert rep["skipped"] == 2 and rep["skipped_share"] == pytest.approx(2 / rep["pairs"])
    corpus.check_skipped(rep, 0.2)  # 2 of 18 is under 20 %
    with pytest.raises(corpus.CorpusError, match="2 of 18 pairs skipped"):
        corpus.check_skipped(rep, 0.05)
    table = corpus.format_report(rep)
    assert "empty" in table and "pairs kept" in table
