"""records.py: TFRecord encoding (read back by TensorFlow), the reader against features computed
directly, shuffling, corrupt shards; and the STFT/iSTFT round trip the records rely on."""

from __future__ import annotations

import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest
from runs import tiny_config

from lstm_se import audio, features, prepare, records

tf = pytest.importorskip("tensorflow")


def _crc_loop(data: bytes) -> int:
    """Bit-by-bit CRC-32C, the definition, to check the vectorized one."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def test_crc32c_matches_definition() -> None:
    assert records.crc32c(b"123456789") == 0xE3069283  # the standard check value
    rng = np.random.default_rng(3)
    for n in (0, 1, 7, 511, 512, 513, 4099, 20011):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert records.crc32c(data) == _crc_loop(data), n


def test_examples_and_framing_read_by_tensorflow(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    noisy = rng.standard_normal((2, 5, 7)).astype(np.float32)
    clean = rng.standard_normal((2, 5, 7)).astype(np.float32)
    path = tmp_path / "x.tfrecord"
    with records.ShardWriter(path) as w:
        for i in range(3):
            w.write(records.segment_example(f"p1_00{i}", i, 100 + i, (0.5, 2.0), noisy + i, clean))
    assert path.is_file() and w.examples == 3 and w.bytes == path.stat().st_size
    assert w.crc32 == zlib.crc32(path.read_bytes())
    keys = records.example_schema()
    got = [tf.io.parse_single_example(r, keys) for r in tf.data.TFRecordDataset(str(path))]
    assert len(got) == 3
    for i, p in enumerate(got):
        assert p["utt"].numpy() == f"p1_00{i}".encode()
        assert int(p["segment"]) == i and int(p["valid"]) == 100 + i
        np.testing.assert_array_equal(p["norm"].numpy(), [0.5, 2.0])
        arr = tf.io.decode_raw(p["noisy"], tf.float32).numpy().reshape(noisy.shape)
        np.testing.assert_array_equal(arr, noisy + i)


def test_shard_writer_leaves_nothing_on_error(tmp_path: Path) -> None:
    path = tmp_path / "y.tfrecord"
    with pytest.raises(RuntimeError), records.ShardWriter(path) as w:
        w.write(b"abc")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# reader


def _direct(cfg, root: Path, man: dict, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Expected (noisy_mag, target) of a split, computed from the wavs with audio/features."""
    d = cfg.dset
    size = man["segment_samples"]
    mags, targets = [], []
    for shard in man["splits"][split]["shards"]:
        for u in shard["utterances"]:
            sig = {}
            for side in ("noisy", "clean"):
                x, rate = audio.read(root / u[side])
                sig[side] = audio.resample(audio.to_mono(x), rate, d.sample_rate)
            n = min(len(sig["noisy"]), len(sig["clean"]))
            stats = audio.norm_stats(sig["noisy"][:n], d.normalize)
            segs = {k: audio.segments(audio.normalize(v[:n], stats), size) for k, v in sig.items()}
            assert len(segs["noisy"]) == u["segments"]
            for sn, sc in zip(segs["noisy"], segs["clean"], strict=True):
                kw = dict(center=d.center, normalize=d.fft_normalize)
                zn = features.stft(sn, d.n_fft, d.hop_length, d.win_length, **kw)
                zc = features.stft(sc, d.n_fft, d.hop_length, d.win_length, **kw)
                mags.append(np.abs(zn))
                targets.append(np.stack([zn.real, zn.imag, zc.real, zc.imag], axis=1))
    return np.stack(mags), np.stack(targets)


@pytest.mark.parametrize(
    "overrides",
    [(), ("dset.feature=real_imag", "dset.center=true"), ("dset.fft=false",)],
    ids=["mag_phase", "real_imag-center", "samples"],
)
def test_pipeline_equals_direct_features(tiny_corpus, small_cfg, tmp_path, overrides) -> None:
    cfg = small_cfg(tiny_corpus, tmp_path / "rec", *overrides)
    man = prepare.prepare(cfg, progress=False)
    ds = records.dataset(tmp_path / "rec", "test", 4, shuffle=False, repeat=False, seed=0)
    got = list(ds)
    mag = np.concatenate([m.numpy() for m, _ in got])
    target = np.concatenate([t.numpy() for _, t in got])
    want_mag, want_target = _direct(cfg, tiny_corpus, man, "test")
    assert mag.shape == (man["examples"]["test"], man["frames"], man["bins"])
    assert target.shape == (man["examples"]["test"], man["frames"], 4, man["bins"])
    assert mag.dtype == np.float32 and target.dtype == np.float32
    np.testing.assert_allclose(mag, want_mag, rtol=0, atol=1e-6)
    np.testing.assert_allclose(target, want_target, rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def prepared(tiny_corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("records") / "rec"
    prepare.prepare(tiny_config(tiny_corpus, out), progress=False)
    return out


def test_load_manifest_fields(prepared: Path, tmp_path: Path) -> None:
    man = records.load_manifest(prepared)
    assert man["frames"] == 30 and man["bins"] == 257  # 0.5 s at 16 kHz, 512/256, center=False
    assert set(man["examples"]) == {"train", "valid", "test"}
    assert all(man["examples"][s] > 0 for s in man["examples"])
    assert man["dset"]["n_fft"] == 512 and man["norm"]["source"] == "noisy"
    with pytest.raises(records.RecordsError, match=str(tmp_path)):
        records.load_manifest(tmp_path)


def test_shuffle_is_seeded_and_batches(prepared: Path) -> None:
    def first_epoch(seed: int, batch: int = 3, drop: bool = False) -> list[np.ndarray]:
        ds = records.dataset(
            prepared,
            "train",
            batch,
            shuffle=True,
            repeat=False,
            seed=seed,
            drop_remainder=drop,
        )
        return [m.numpy() for m, _ in ds]

    a, b, c = first_epoch(1), first_epoch(1), first_epoch(2)
    n = records.load_manifest(prepared)["examples"]["train"]
    assert sum(len(x) for x in a) == n
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    # same examples, other order
    key = sorted(float(x.sum()) for batch in a for x in batch)
    assert np.allclose(key, sorted(float(x.sum()) for batch in c for x in batch))
    dropped = first_epoch(1, batch=5, drop=True)
    assert all(len(x) == 5 for x in dropped) and len(dropped) == n // 5
    ds = records.dataset(prepared, "valid", 4, shuffle=True, repeat=True, seed=0)
    m, t = next(iter(ds.skip(10)))  # repeats past the end of the split
    assert m.shape == (4, 30, 257) and t.shape == (4, 30, 4, 257)


def _copy(prepared: Path, tmp_path: Path) -> tuple[Path, Path]:
    dst = tmp_path / "rec"
    shutil.copytree(prepared, dst)
    shard = dst / records.load_manifest(dst)["splits"]["train"]["shards"][1]["file"]
    return dst, shard


def test_corrupt_shard_named(prepared: Path, tmp_path: Path) -> None:
    folder, shard = _copy(prepared, tmp_path)
    data = bytearray(shard.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 8] = bytes(b ^ 0xFF for b in data[len(data) // 2 :][:8])
    shard.write_bytes(bytes(data))
    with pytest.raises(records.RecordsError, match=shard.name) as err:
        records.dataset(folder, "train", 4, shuffle=True, repeat=False, seed=0)
    assert "corrupt" in str(err.value)
    # Without the up-front check the pipeline still fails (no ignore_errors), unnamed.
    ds = records.dataset(
        folder, "train", 4, shuffle=False, repeat=False, seed=0, verify_shards=False
    )
    with pytest.raises(tf.errors.DataLossError):
        for _ in ds:
            pass


def test_truncated_shard_named(prepared: Path, tmp_path: Path) -> None:
    folder, shard = _copy(prepared, tmp_path)
    shard.write_bytes(shard.read_bytes()[:-100])
    with pytest.raises(records.RecordsError, match=shard.name):
        records.dataset(folder, "train", 4, shuffle=False, repeat=False, seed=0)
    shard.unlink()
    with pytest.raises(records.RecordsError, match=f"{shard.name}.*missing"):
        records.verify(folder, "train")


# ---------------------------------------------------------------------------------------------
# framing round trip (the records' STFT must be invertible for enhancement)


@pytest.mark.parametrize("center", [True, False])
def test_stft_istft_round_trip(center: bool) -> None:
    n_fft, hop = 512, 256
    x = np.random.default_rng(1).standard_normal(16000 + 123)
    if center:
        spec = features.stft(x, n_fft, hop, center=True)
        y = features.istft(spec, n_fft, hop, center=True, length=len(x))
        y_tf = features.tf_istft(
            features.tf_stft(x, n_fft, hop, center=True), n_fft, hop, center=True, length=len(x)
        ).numpy()
    else:
        front, back = features.streaming_pad(len(x), n_fft, hop)
        xp = np.pad(x, (front, back))
        spec = features.stft(xp, n_fft, hop, center=False)
        y = features.istft(spec, n_fft, hop, center=False, length=len(xp))[front:][: len(x)]
        y_tf = features.tf_istft(
            features.tf_stft(xp, n_fft, hop), n_fft, hop, length=len(xp)
        ).numpy()[front:][: len(x)]
    for out in (y, y_tf):
        assert len(out) == len(x)
        assert np.linalg.norm(out - x) / np.linalg.norm(x) < 1e-5


def test_atomic_json_follows_the_umask(tmp_path) -> None:
    import os
    import stat

    from lstm_se import records

    for umask, mode in ((0o077, 0o600), (0o022, 0o644)):
        old = os.umask(umask)
        try:
            records.atomic_write_json(tmp_path / f"{umask:o}.json", {"a": 1})
        finally:
            os.umask(old)
        assert stat.S_IMODE((tmp_path / f"{umask:o}.json").stat().st_mode) == mode
