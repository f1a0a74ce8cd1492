"""TFRecord schema, a sharded atomic writer, the manifest, and the `tf.data` reader.

Writing does not import TensorFlow: worker processes encode `tf.train.Example` protos and the
TFRecord framing (with its CRC-32C checksums) themselves, so a preprocessing worker costs tens of
MB and no multi-second TensorFlow start-up. The reader uses TensorFlow, which checks every
record's CRC; `test/test_records.py` checks that TensorFlow reads what this module writes.

Record schema (one `tf.train.Example` per segment):

| key | type | content |
|---|---|---|
| `utt` | bytes | utterance id (file stem) |
| `segment` | int64 | index of the segment within its utterance |
| `valid` | int64 | samples of real audio in the segment; the rest is zero padding |
| `norm` | float x 2 | [mean, scale] the segment was normalized with (the noisy signal's) |
| `noisy` | bytes | float32 little-endian array, shape `feature_spec.shape` |
| `clean` | bytes | same for the clean signal |

With `dset.mixing: dynamic` (`feature_spec.content` "clean+noise") each example is one whole
utterance: `noise` (noisy - clean) replaces `noisy`, the arrays are (2, frames, bins) with the
utterance's own number of frames (`shape` [2, -1, bins]), `valid` is its length in samples and
`norm` is [0, 1] (nothing normalized); remix.py mixes them anew every epoch.

With `fft: true` the arrays are (2, frames, bins): [magnitude, phase] (`mag_phase`) or [real,
imag] (`real_imag`); with `fft: false` they are the (segment_samples,) waveform and the STFT is
taken in the input pipeline with the same framing (`features.tf_stft`). float32, not float16:
half precision keeps about 3 significant digits and loses precision below 6e-5 (common for
magnitudes divided by n_fft), while the features read back must equal those computed at
enhancement time to 1e-6. The cost is disk: about 258 KB per audio second at the defaults.

Folder layout (`dset.save_path`): `<split>-NNNNN-of-MMMMM.tfrecord` shards (splits train,
valid, test), `validation.json` (the validation report), `files.json` (the kept pairs by split),
`config.yaml` (the resolved config), `.work/` (the plan and per-shard results used to resume),
and `manifest.json`, written last. Readers trust only the manifest.

Manifest keys: format, version, config_hash, corpus {root, trainset, fingerprint}, dset (the
dset config less save_path and workers), seed, sample_rate, segment_samples, frames, bins,
feature_spec {fft, feature, dtype, byte_order, shape, keys}, validation (the report),
examples {split: n}, splits {split: {examples, utterances, seconds, speakers, shards: [{file,
examples, bytes, crc32, utterances: [{utt, speaker, clean, noisy, seconds, segments}]}]}},
norm {method, per_segment, source: "noisy", stats: {split: {utt: {mean, scale} or
{segments: [[mean, scale], ...]}}}}, bytes, audio_seconds, bytes_per_audio_second. No
timings or host names: the same config and corpus give the same manifest.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import struct
import sys
import tempfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import LstmSeError, new_file_mode

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = "lstm-se-records"
VERSION = 1
SPLITS = ("train", "valid", "test")


class RecordsError(LstmSeError, RuntimeError):
    """A records folder that cannot be read: missing, incomplete or corrupt; names the file."""


# ---------------------------------------------------------------------------------------------
# CRC-32C (Castagnoli), as the TFRecord framing needs it.
#
# Vectorized over lanes: the data is cut into K equal lanes whose raw CRC registers advance
# together, four bytes per step, through two 64K-entry tables; the lane registers are then
# combined with the "advance by n zero bytes" linear maps of GF(2). About 100-300 MB/s in numpy,
# against a few MB/s for a byte loop in Python.

_POLY = 0x82F63B78


def _byte_table() -> np.ndarray:
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(_POLY), t >> 1).astype(np.uint32)
    return t


_T8 = _byte_table()
_T8_LIST = [int(v) for v in _T8]


def _advance_bytes(v: np.ndarray, n: int) -> np.ndarray:
    """Raw CRC registers `v` advanced over `n` zero bytes (small n)."""
    for _ in range(n):
        v = _T8[v & 0xFF] ^ (v >> 8)
    return v


_LO16 = _advance_bytes(np.arange(1 << 16, dtype=np.uint32), 4)
_HI16 = _advance_bytes(np.arange(1 << 16, dtype=np.uint32) << np.uint32(16), 4)
_BITS = np.uint32(1) << np.arange(32, dtype=np.uint32)
_LITTLE = sys.byteorder == "little"
_BYTE_BITS = ((np.arange(256)[:, None] >> np.arange(8)) & 1).astype(bool)  # (256, 8)


def _apply_cols(cols: np.ndarray, v: np.ndarray) -> np.ndarray:
    """GF(2) matrix (32 columns, column j = image of bit j) times each uint32 in `v`."""
    out = np.zeros_like(v)
    for j in range(32):
        out ^= cols[j] * ((v >> np.uint32(j)) & np.uint32(1))
    return out


@functools.lru_cache(maxsize=512)
def _zeros_cols(n: int) -> np.ndarray:
    """Columns of the linear map that advances a raw CRC register over `n` zero bytes."""
    if n < 8:
        return _advance_bytes(_BITS.copy(), n)
    half = _zeros_cols(n // 2)
    m = _apply_cols(half, half)
    return _apply_cols(_zeros_cols(1), m) if n % 2 else m


@functools.lru_cache(maxsize=512)
def _zeros_tables(n: int) -> np.ndarray:
    """The same map as four byte tables (4, 256): one lookup per byte of the register."""
    cols = _zeros_cols(n)
    return np.stack(
        [
            np.bitwise_xor.reduce(np.where(_BYTE_BITS, cols[8 * k : 8 * k + 8], 0), axis=1)
            for k in range(4)
        ]
    ).astype(np.uint32)


def _advance(v: np.ndarray, n: int) -> np.ndarray:
    """Raw CRC registers `v` advanced over `n` zero bytes."""
    t = _zeros_tables(n)
    return t[0][v & 0xFF] ^ t[1][(v >> 8) & 0xFF] ^ t[2][(v >> 16) & 0xFF] ^ t[3][v >> 24]


def _crc_update(reg: int, data: np.ndarray) -> int:
    """Advance a raw (not inverted) CRC-32C register over the uint8 array `data`."""
    n = len(data)
    if n < 512:
        table = _T8_LIST
        for b in data.tobytes():
            reg = table[(reg ^ b) & 0xFF] ^ (reg >> 8)
        return reg
    words = n // 4
    lanes = 1 << min(12, (words // 16).bit_length() - 1)  # power of two, >= 16 words per lane
    per_lane = words // lanes
    body = lanes * per_lane * 4
    cols = np.ascontiguousarray(data[:body].view("<u4").reshape(lanes, per_lane).T)
    regs = np.zeros(lanes, dtype=np.uint32)
    x, t = np.empty_like(regs), np.empty_like(regs)
    # The low and high 16 bits of x as views (no shift/mask passes); preallocated outputs.
    halves = x.view(np.uint16)
    lo, hi = (halves[0::2], halves[1::2]) if _LITTLE else (halves[1::2], halves[0::2])
    for i in range(per_lane):
        np.bitwise_xor(regs, cols[i], out=x)
        np.take(_LO16, lo, out=regs, mode="clip")  # indices < 65536 by construction
        np.take(_HI16, hi, out=t, mode="clip")
        regs ^= t
    span = per_lane * 4
    while len(regs) > 1:  # pairwise: crc(a + b) = advance(crc(a), len(b)) ^ crc(b)
        regs = _advance(regs[0::2], span) ^ regs[1::2]
        span *= 2
    reg = int(_advance(np.array([reg], dtype=np.uint32), body)[0] ^ regs[0])
    return _crc_update(reg, data[body:])


def crc32c(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """CRC-32C (Castagnoli) of a byte buffer, as TFRecord and iSCSI use it."""
    arr = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    return _crc_update(0xFFFFFFFF, arr.reshape(-1).view(np.uint8)) ^ 0xFFFFFFFF


def masked_crc(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """The TFRecord masked CRC: rotate right by 15 and add a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# ---------------------------------------------------------------------------------------------
# tf.train.Example, encoded by hand (protobuf wire format; field numbers from example.proto and
# feature.proto): Example{1: Features{1: map<string, Feature>}}, Feature{1: BytesList,
# 2: FloatList, 3: Int64List}, each list {1: repeated value} (numbers packed).


def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # two's complement, as protobuf encodes negative int64
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def bytes_feature(*values: bytes) -> bytes:
    """Encoded `Feature` holding a BytesList."""
    return _field(1, b"".join(_field(1, v) for v in values))


def float_feature(values: Sequence[float] | np.ndarray) -> bytes:
    """Encoded `Feature` holding a packed FloatList."""
    return _field(2, _field(1, np.asarray(values, dtype="<f4").tobytes()))


def int64_feature(*values: int) -> bytes:
    """Encoded `Feature` holding a packed Int64List."""
    return _field(3, _field(1, b"".join(_varint(int(v)) for v in values)))


def encode_example(features: Mapping[str, bytes]) -> bytes:
    """Serialized `tf.train.Example` from encoded features (key order fixed: sorted)."""
    entries = b"".join(
        _field(1, _field(1, key.encode()) + _field(2, value))
        for key, value in sorted(features.items())
    )
    return _field(1, entries)


def segment_example(
    utt: str,
    segment: int,
    valid: int,
    norm: tuple[float, float],
    noisy: np.ndarray,
    clean: np.ndarray,
    noisy_key: str = "noisy",
) -> bytes:
    """One training example in the schema of this module's docstring (`noisy_key` "noise":
    a dynamic-mixing utterance, whose first array is the noise)."""
    return encode_example(
        {
            "utt": bytes_feature(utt.encode()),
            "segment": int64_feature(segment),
            "valid": int64_feature(valid),
            "norm": float_feature(norm),
            noisy_key: bytes_feature(np.ascontiguousarray(noisy, dtype="<f4").tobytes()),
            "clean": bytes_feature(np.ascontiguousarray(clean, dtype="<f4").tobytes()),
        }
    )


def frame_record(data: bytes) -> bytes:
    """TFRecord framing: length, masked CRC of the length, data, masked CRC of the data."""
    length = struct.pack("<Q", len(data))
    return b"".join(
        (length, struct.pack("<I", masked_crc(length)), data, struct.pack("<I", masked_crc(data)))
    )


class ShardWriter:
    """Writes one TFRecord shard under a temporary name and renames it into place on success.

    Use as a context manager; an exception (or a killed process) leaves no file under the final
    name. The temporary name is fixed per shard (`.<name>.tmp`), so a rerun overwrites what a
    killed run left.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp")
        self.examples = 0
        self.bytes = 0
        self.crc32 = 0  # zlib CRC-32 of the whole file, kept in the manifest
        self._fh = None

    def __enter__(self) -> ShardWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.tmp, "wb")  # closed in __exit__
        return self

    def write(self, example: bytes) -> None:
        """Append one serialized example."""
        rec = frame_record(example)
        self._fh.write(rec)
        self.crc32 = zlib.crc32(rec, self.crc32)
        self.examples += 1
        self.bytes += len(rec)

    def __exit__(self, exc_type, exc, tb) -> None:
        fh, self._fh = self._fh, None
        if exc_type is not None:
            fh.close()
            self.tmp.unlink(missing_ok=True)
            return
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        os.replace(self.tmp, self.path)


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> None:
    """JSON (sorted keys, so equal content gives equal files) written atomically, with the mode
    of the user's umask like any other new file (a temporary file alone would be private)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(data, indent=1, sort_keys=True) + "\n")
            fh.flush()
            os.fchmod(fh.fileno(), new_file_mode())
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------------
# manifest


def load_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a records folder, checked for format and completeness.

    Keys the trainer uses: `frames`, `bins`, `examples` ({split: count}), `dset` (the dset config
    that made the records), `norm` (normalization statistics per utterance), `feature_spec`,
    `splits` (shards and utterances per split).
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise RecordsError(
            f"{path}: no manifest; run `lstm-se prepare` (or finish a split run with --merge)"
        )
    try:
        man = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RecordsError(f"{path}: cannot read the manifest ({exc})") from exc
    if not isinstance(man, dict) or man.get("format") != FORMAT:
        raise RecordsError(f"{path}: not an lstm-se records manifest")
    if man.get("version") != VERSION:
        raise RecordsError(
            f"{path}: manifest version {man.get('version')}, this code reads {VERSION}; "
            "rebuild with `lstm-se prepare --force`"
        )
    missing = [k for k in ("frames", "bins", "examples", "dset", "norm", "splits") if k not in man]
    if missing:
        raise RecordsError(f"{path}: manifest lacks {', '.join(missing)}")
    return man


def shard_paths(folder: str | os.PathLike[str], man: Mapping[str, Any], split: str) -> list[Path]:
    """Paths of a split's shards, in manifest order."""
    if split not in man["splits"]:
        raise RecordsError(f"{folder}: no split '{split}' (have {', '.join(man['splits'])})")
    return [Path(folder) / s["file"] for s in man["splits"][split]["shards"]]


def verify(folder: str | os.PathLike[str], split: str | None = None) -> int:
    """Read every record of a split's shards (all splits when None) through TensorFlow.

    Checks that each shard exists, has the manifest's size and example count, and that every
    record's CRC holds. Raises RecordsError naming the first bad shard; returns the examples read.
    """
    import tensorflow as tf

    folder = Path(folder)
    man = load_manifest(folder)
    total = 0
    for name in [split] if split else list(man["splits"]):
        for shard in man["splits"][name]["shards"]:
            path = folder / shard["file"]
            if not path.is_file():
                raise RecordsError(
                    f"{path}: shard listed in the manifest is missing; rebuild it with "
                    "`lstm-se prepare --verify` (the damaged shards) or `--force` (all)"
                )
            size = path.stat().st_size
            if size != shard["bytes"]:
                raise RecordsError(
                    f"{path}: corrupt shard: {size} bytes, the manifest says {shard['bytes']}"
                    "; rebuild it with `lstm-se prepare --verify` (the damaged shards) or "
                    "`--force` (all)"
                )
            count = 0
            try:
                for batch in tf.data.TFRecordDataset(str(path)).batch(256):
                    count += int(batch.shape[0])
            except tf.errors.DataLossError as exc:
                raise RecordsError(
                    f"{path}: corrupt shard ({exc.message}); rebuild it with `lstm-se prepare "
                    "--verify` (the damaged shards) or `--force` (all)"
                ) from None
            if count != shard["examples"]:
                raise RecordsError(
                    f"{path}: corrupt shard: {count} records, the manifest says "
                    f"{shard['examples']}; rebuild it with `lstm-se prepare --verify` (the "
                    "damaged shards) or `--force` (all)"
                )
            total += count
    return total


# ---------------------------------------------------------------------------------------------
# reader


def example_schema(fields: Sequence[str] | None = None) -> dict[str, Any]:
    """The TFRecord feature spec of one segment example (what `segment_example` writes), for
    `tf.io.parse_example`; `fields` picks a subset."""
    import tensorflow as tf

    schema = {
        "utt": tf.io.FixedLenFeature([], tf.string),
        "segment": tf.io.FixedLenFeature([], tf.int64),
        "valid": tf.io.FixedLenFeature([], tf.int64),
        "norm": tf.io.FixedLenFeature([2], tf.float32),
        "noisy": tf.io.FixedLenFeature([], tf.string),
        "clean": tf.io.FixedLenFeature([], tf.string),
    }
    return schema if fields is None else {k: schema[k] for k in fields}


def _parse_fn(man: Mapping[str, Any]):
    """Batch of serialized examples -> (noisy_mag (B, T, F), target (B, T, 4, F))."""
    import tensorflow as tf

    from . import features

    spec = man["feature_spec"]
    shape = list(spec["shape"])
    frames, bins = int(man["frames"]), int(man["bins"])
    d = man["dset"]
    keys = example_schema(("noisy", "clean"))

    def decode(raw):
        return tf.reshape(tf.io.decode_raw(raw, tf.float32, little_endian=True), [-1, *shape])

    def planes(x):
        """(B, ...) stored arrays -> magnitude, real, imag, each (B, T, F)."""
        if not spec["fft"]:
            s = features.tf_stft(
                x,
                d["n_fft"],
                d["hop_length"],
                d["win_length"],
                center=d["center"],
                normalize=d["fft_normalize"],
            )
            return tf.abs(s), tf.math.real(s), tf.math.imag(s)
        a, b = x[:, 0], x[:, 1]
        if spec["feature"] == "mag_phase":
            return a, a * tf.cos(b), a * tf.sin(b)
        return tf.sqrt(a * a + b * b), a, b

    def parse(serialized):
        p = tf.io.parse_example(serialized, keys)
        n_mag, n_re, n_im = planes(decode(p["noisy"]))
        _, c_re, c_im = planes(decode(p["clean"]))
        target = tf.stack([n_re, n_im, c_re, c_im], axis=2)
        n_mag = tf.ensure_shape(n_mag, [None, frames, bins])
        target = tf.ensure_shape(target, [None, frames, 4, bins])
        return n_mag, target

    return parse


def dataset(
    folder: str | os.PathLike[str],
    split: str,
    batch_size: int,
    *,
    shuffle: bool,
    repeat: bool,
    seed: int | None,
    shuffle_buffer: int = 2048,
    drop_remainder: bool = False,
    verify_shards: bool = True,
):
    """`tf.data.Dataset` of `(noisy_mag (B, T, bins), target (B, T, 4, bins))` for one split.

    `target[..., 0:2, :]` is the noisy real/imag STFT, `target[..., 2:4, :]` the clean one, with
    the same normalization and framing as `noisy_mag` (see docs/INTERFACES.md). Shuffling (shard
    order, then a `shuffle_buffer` of examples) is reshuffled each epoch and deterministic for a
    given `seed`; without `shuffle`, examples come in manifest order. The buffer holds serialized
    examples: about 0.5 MB each for 2 s segments, so 2048 is about 1 GB of memory.

    Before reading, every shard of the split is checked (`verify`) so that a corrupt or
    truncated shard fails here with its name instead of as an anonymous DataLossError in the
    middle of training; `verify_shards=False` skips that read for very large splits. There is no
    `ignore_errors`: a record that turns bad later still stops the pipeline.
    """
    import tensorflow as tf

    folder = Path(folder)
    man = load_manifest(folder)
    paths = shard_paths(folder, man, split)
    if not paths or not man["examples"].get(split):
        raise RecordsError(f"{folder}: split '{split}' has no examples")
    if verify_shards:
        verify(folder, split)
    files = tf.data.Dataset.from_tensor_slices([str(p) for p in paths])
    if shuffle:
        files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    ds = files.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(paths), 8) if shuffle else 1,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(_parse_fn(man), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def read_examples(folder: str | os.PathLike[str], split: str) -> list[dict[str, Any]]:
    """Every example of a split with its metadata, in manifest order (small splits: tests, tools).

    Each item: utt, segment, valid, norm (mean, scale), noisy and clean arrays as stored.
    """
    import tensorflow as tf

    folder = Path(folder)
    man = load_manifest(folder)
    shape = list(man["feature_spec"]["shape"])
    keys = example_schema()
    out = []
    for path in shard_paths(folder, man, split):
        try:
            for raw in tf.data.TFRecordDataset(str(path)):
                p = tf.io.parse_single_example(raw, keys)
                out.append(
                    {
                        "utt": p["utt"].numpy().decode(),
                        "segment": int(p["segment"]),
                        "valid": int(p["valid"]),
                        "norm": tuple(float(v) for v in p["norm"].numpy()),
                        "noisy": np.frombuffer(p["noisy"].numpy(), "<f4").reshape(shape),
                        "clean": np.frombuffer(p["clean"].numpy(), "<f4").reshape(shape),
                    }
                )
        except tf.errors.DataLossError as exc:
            raise RecordsError(
                f"{path}: corrupt shard ({exc.message}); rebuild it with `lstm-se prepare "
                "--verify` (the damaged shards) or `--force` (all)"
            ) from None
    return out
