"""Enhance waveforms with a trained run: offline (sequence model) or streaming (frame by frame).

The signal path, identical in both modes:

    resample to dset.sample_rate -> normalize (noisy statistics, dset.normalize) -> STFT
    -> |X| -> mask in [0, 1] -> mask x complex X -> iSTFT -> undo the normalization

Offline, the sequence model maps all frames at once. Streaming, a *frame masker* (`reset()`,
`__call__(mag_frame) -> mask`, see docs/INTERFACES.md) carries the LSTM state from frame to
frame, as the microcontroller does; `maskers.py` holds the float maskers and
`tflite_masker.py` the exported models'. With `dset.center=False` (causal framing) the streaming
path is a real hop-in/hop-out processor (:class:`StreamingEnhancer`: a buffer holding
n_fft - hop samples of history, window, rFFT, mask, irFFT, overlap-add), so its output is what a
device would emit, `n_fft - hop` samples late. With `center=True` frames need n_fft/2 samples of
look-ahead, so streaming then only means frame-by-frame masks over the same STFT frames.

With `dset.normalize: none` (the default config) nothing depends on the utterance: the model's
own input normalization is fixed per bin (model.py), so this path is what a device computes
frame by frame. The seed's `z-score`/`linear` use the statistics of the whole input in both
modes (so the two agree), which a device cannot know before the input ends.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from . import LstmSeError, audio, features, runs
from .config import Config, ConfigError, load_run_config
from .maskers import KerasMasker, LiteRTMasker, Masker, MaskerFactory

log = logging.getLogger(__name__)


class EnhanceError(LstmSeError, RuntimeError):
    """An enhancement request that cannot be carried out (the message says why)."""


# ---------------------------------------------------------------------------------------------
# streaming


class StreamingEnhancer:
    """Hop-in, hop-out STFT masking with causal (`center=False`) framing.

    Each `push` takes `hop` new samples, forms the frame from the last n_fft samples (the
    buffer starts as n_fft - hop zeros of history, as `features.streaming_pad` assumes),
    masks it and returns the `hop` samples the overlap-add has completed. Output sample i
    belongs to input sample i - (n_fft - hop).
    """

    def __init__(
        self,
        masker: Masker,
        n_fft: int,
        hop: int,
        win_length: int | None = None,
        fft_normalize: bool = True,
    ) -> None:
        self.masker = masker
        self.n_fft, self.hop = n_fft, hop
        self.fft_normalize = fft_normalize
        self.window = features.window(n_fft, win_length or n_fft)
        # Steady-state overlap-add envelope of the hop that leaves the accumulator: every
        # window offset congruent to it (what `features.istft` divides by away from the ends).
        w2 = self.window**2
        env = np.zeros(hop)
        for start in range(0, n_fft, hop):
            part = w2[start : start + hop]
            env[: len(part)] += part
        self._inv_env = np.where(env > 1e-10, 1.0 / np.where(env > 1e-10, env, 1.0), 0.0)
        self.reset()

    def reset(self) -> None:
        """Empty the history and the overlap-add accumulator; reset the masker."""
        self.buffer = np.zeros(self.n_fft)
        self.acc = np.zeros(self.n_fft)
        self.masker.reset()

    def push(self, chunk: np.ndarray) -> np.ndarray:
        """Process `hop` new samples; return `hop` finished output samples (float64)."""
        n, hop = self.n_fft, self.hop
        if len(chunk) != hop:
            raise ValueError(f"push expects {hop} samples, got {len(chunk)}")
        self.buffer[:-hop] = self.buffer[hop:]
        self.buffer[-hop:] = chunk
        spec = np.fft.rfft(self.buffer * self.window)
        if self.fft_normalize:
            spec /= n
        mask = np.asarray(self.masker(np.abs(spec).astype(np.float32)), dtype=np.float64)
        frame = np.fft.irfft(spec * mask, n=n)
        if self.fft_normalize:
            frame *= n
        self.acc += frame * self.window
        out = self.acc[:hop] * self._inv_env
        self.acc[:-hop] = self.acc[hop:]
        self.acc[-hop:] = 0.0
        return out


# ---------------------------------------------------------------------------------------------
# one waveform


CHUNK_FRAMES = 1024
"""Frames per model call offline (16 s at hop 256), the LSTM state carried between calls: the
memory of an enhancement no longer grows with the input beyond the waveform itself."""

LONG_FILE_S = 30.0
"""Inputs at least this long get a progress bar of their own (seconds done)."""

Progress = Callable[[float], None]
"""Called with the seconds of input finished so far (progress within a long file)."""

_CHUNK_STEPS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
"""Sequence model -> compiled step of its chunk model (one trace for any chunk length)."""


def _chunk_step(model: Any, cfg: Config) -> Callable[..., Any]:
    """The compiled `model.build_chunk_model` step for the trained sequence model `model`."""
    step = _CHUNK_STEPS.get(model)
    if step is None:
        import tensorflow as tf

        from . import model as model_mod

        chunk = model_mod.build_chunk_model(cfg, model)  # weights copied: no reference to model
        bins = cfg.dset.n_fft // 2 + 1
        spec = [tf.TensorSpec((1, None, bins), tf.float32)] + [
            tf.TensorSpec(s.shape, tf.float32) for s in model_mod.initial_state(cfg)
        ]

        @tf.function(input_signature=spec, autograph=False)
        def step(*inputs):
            return chunk(list(inputs), training=False)

        _CHUNK_STEPS[model] = step
    return step


def _model_masks(model: Any, cfg: Config) -> Callable[[np.ndarray], np.ndarray]:
    """Masks of the sequence model for successive chunks of frames, the state carried."""
    from . import model as model_mod

    step = _chunk_step(model, cfg)
    state = model_mod.initial_state(cfg)

    def masks(mag: np.ndarray) -> np.ndarray:
        nonlocal state
        out, *state = step(mag[np.newaxis].astype(np.float32), *state)
        return np.asarray(out)[0]

    return masks


def _masker_masks(masker: Masker) -> Callable[[np.ndarray], np.ndarray]:
    masker.reset()
    return lambda mag: np.stack([np.asarray(masker(m), dtype=np.float32) for m in mag])


def _padded_slice(x: np.ndarray, front: int, start: int, stop: int) -> np.ndarray:
    """`np.pad(x, (front, enough))[start:stop]` in float64 without padding all of `x`."""
    out = np.zeros(stop - start)
    lo, hi = max(start - front, 0), min(stop - front, len(x))
    if hi > lo:
        out[lo + front - start : hi + front - start] = x[lo:hi]
    return out


def _framed(
    xn: np.ndarray,
    cfg: Config,
    masks_of: Callable[[np.ndarray], np.ndarray],
    progress: Progress | None,
) -> tuple[np.ndarray, int, float]:
    """STFT -> mask -> iSTFT over `CHUNK_FRAMES` frames at a time; (output, frames, mean mask).

    The same arithmetic, in the same order, as `features.stft`, the mask and `features.istft`
    on the whole signal (the overlap-add tail of a chunk is carried into the next), so the
    output does not depend on the chunk size beyond the model's own float rounding.
    """
    d = cfg.dset
    n_fft, hop = d.n_fft, d.hop_length
    length = len(xn)
    if d.center:
        front = back = n_fft // 2
    else:
        front, back = features.streaming_pad(length, n_fft, hop)
    n = features.num_frames(front + length + back, n_fft, hop, center=False)
    w = features.window(n_fft, d.win_length or n_fft)
    w2 = w * w
    out = np.zeros(length, np.float32)
    tail = tail_env = np.zeros(n_fft - hop)
    mask_sum = 0.0
    for a in range(0, n, CHUNK_FRAMES):
        b = min(n, a + CHUNK_FRAMES)
        span = (b - a - 1) * hop + n_fft
        seg = _padded_slice(xn, front, a * hop, a * hop + span)
        spec = features.stft(seg, n_fft, hop, d.win_length, center=False, normalize=d.fft_normalize)
        mask = masks_of(np.abs(spec).astype(np.float32))
        mask_sum += float(np.sum(mask, dtype=np.float64))
        frames = np.fft.irfft((spec * mask).astype(np.complex128), n=n_fft, axis=-1)
        if d.fft_normalize:
            frames *= n_fft
        acc, env = np.zeros(span), np.zeros(span)
        acc[: n_fft - hop] += tail
        env[: n_fft - hop] += tail_env
        for t in range(b - a):
            acc[t * hop : t * hop + n_fft] += frames[t] * w
            env[t * hop : t * hop + n_fft] += w2
        done = span if b == n else (b - a) * hop
        tail, tail_env = acc[done:], env[done:]
        nonzero = env[:done] > 1e-10
        finished = np.where(nonzero, acc[:done] / np.where(nonzero, env[:done], 1.0), 0.0)
        lo = a * hop - front  # output index of the chunk's first finished sample
        keep_lo, keep_hi = max(lo, 0), min(lo + done, length)
        if keep_hi > keep_lo:
            out[keep_lo:keep_hi] = finished[keep_lo - lo : keep_hi - lo]
        if progress is not None:
            progress(max(keep_hi, 0) / d.sample_rate)
    return out, n, mask_sum / (n * (n_fft // 2 + 1))


def enhance_waveform(
    noisy: np.ndarray,
    rate: int,
    cfg: Config,
    model: Any = None,
    masker: Masker | None = None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Enhance one waveform; returns (enhanced float32 at cfg.dset.sample_rate, info).

    `model` (the sequence model) enhances offline, `CHUNK_FRAMES` frames per call with the
    LSTM state carried; `masker` enhances frame by frame with carried state (it is reset
    first). `noisy` may be (samples,) or (samples, channels) (channels are averaged) at any
    rate. The output has as many samples as the input has after resampling. `progress` is
    called with the seconds done after each chunk. `info` holds the rate, frame count, mode,
    normalization statistics and the mean mask.
    """
    if (model is None) == (masker is None):
        raise ValueError("enhance_waveform needs exactly one of `model` or `masker`")
    d = cfg.dset
    x = audio.to_mono(np.asarray(noisy, dtype=np.float32))
    x = audio.resample(x, int(rate), d.sample_rate)
    length = len(x)
    stats = audio.norm_stats(x, d.normalize) if length else audio.NormStats(d.normalize, 0, 1)
    xn = audio.normalize(x, stats)
    info: dict[str, Any] = {
        "rate": d.sample_rate,
        "input_rate": int(rate),
        "samples": length,
        "streaming": masker is not None,
        "center": d.center,
        "norm": stats.to_dict(),
    }
    if length == 0:
        info.update(frames=0, mask_mean=math.nan)
        return np.zeros(0, np.float32), info

    if masker is not None and not d.center:
        enh, frames, mask_mean = _stream(xn, masker, cfg, progress)
    else:
        masks_of = _masker_masks(masker) if masker is not None else _model_masks(model, cfg)
        enh, frames, mask_mean = _framed(xn, cfg, masks_of, progress)
    info.update(frames=frames, mask_mean=mask_mean)
    return audio.denormalize(enh, stats), info


def _stream(
    xn: np.ndarray, masker: Masker, cfg: Config, progress: Progress | None
) -> tuple[np.ndarray, int, float]:
    """Causal streaming path: the padded signal fed hop by hop through StreamingEnhancer;
    (output, frames, mean mask)."""
    d = cfg.dset
    n_fft, hop = d.n_fft, d.hop_length
    length = len(xn)
    front, back = features.streaming_pad(length, n_fft, hop)
    frames = features.num_frames(front + length + back, n_fft, hop, center=False)
    mask_sum = 0.0

    class _Recording:
        """Pass-through masker that adds up the mask for `info`."""

        def reset(self) -> None:
            masker.reset()

        def __call__(self, mag_frame: np.ndarray) -> np.ndarray:
            nonlocal mask_sum
            m = masker(mag_frame)
            mask_sum += float(np.sum(m, dtype=np.float64))
            return m

    streamer = StreamingEnhancer(_Recording(), n_fft, hop, d.win_length, d.fft_normalize)
    out = np.zeros(length, np.float32)
    # The buffer already holds the first n_fft - hop samples (the zero history), so frame t
    # is completed by the hop that starts at front + t * hop; the hop it returns begins at
    # output sample t * hop - front (the streamer's n_fft - hop delay is the front padding).
    for t in range(frames):
        start = t * hop  # padded position of this output hop
        hop_out = streamer.push(_padded_slice(xn, front, front + start, front + start + hop))
        lo, hi = max(start - front, 0), min(start - front + hop, length)
        if hi > lo:
            out[lo:hi] = hop_out[lo - (start - front) : hi - (start - front)]
        if progress is not None and (t + 1) % CHUNK_FRAMES == 0:
            progress(max(hi, 0) / d.sample_rate)
    if progress is not None:
        progress(length / d.sample_rate)
    return out, frames, mask_sum / (frames * (n_fft // 2 + 1))


# ---------------------------------------------------------------------------------------------
# files


@dataclass
class Failure:
    """An input that could not be enhanced."""

    path: Path
    error: str


def collect_inputs(inputs: Iterable[str | os.PathLike[str]]) -> list[tuple[Path, Path]]:
    """(input file, output path relative to the output folder) for files and folders.

    Files in a folder keep their path below it; every output is a .wav (`a.wav` and `a.flac`
    of one folder become `a.wav` and `a_flac.wav`). A missing input is returned too (it fails
    when read, naming the file) so that it is reported, not skipped; an input given twice is
    enhanced once. Raises EnhanceError listing the inputs of other folders that would be
    written under one name (`a/x.wav b/x.wav`): one would silently replace the other.
    """
    pairs: list[tuple[Path, Path]] = []
    owners: dict[Path, Path] = {}  # output -> the input written there
    clashes: dict[Path, list[Path]] = {}
    seen: set[Path] = set()
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = [(p, p.relative_to(path)) for p in audio.list_audio(path)]
            # a.wav keeps its name beside a.flac, whichever sorts first
            found.sort(key=lambda f: (f[1].with_suffix(""), f[1].suffix.lower() != ".wav"))
            if not found:
                log.warning("%s: folder holds no wav/flac files", path)
        else:
            found = [(path, Path(path.name))]
        for src, rel in found:
            if src.resolve() in seen:
                continue  # the same file twice (e.g. a folder and a file in it)
            seen.add(src.resolve())
            out = rel.with_suffix(".wav")
            prev = owners.get(out)
            if prev is not None and prev.parent == src.parent and prev.suffix != src.suffix:
                out = rel.with_name(f"{rel.stem}_{rel.suffix.lstrip('.').lower()}.wav")
                prev = owners.get(out)
            if prev is not None:
                clashes.setdefault(out, [prev]).append(src)
                continue
            owners[out] = src
            pairs.append((src, out))
    if clashes:
        listed = "; ".join(
            f"{out} <- {', '.join(str(s) for s in srcs)}" for out, srcs in clashes.items()
        )
        raise EnhanceError(
            f"inputs from different folders would be written under one name: {listed}; "
            "enhance them into separate --out folders, or give their common folder (its layout "
            "is kept)"
        )
    return pairs


def check_outputs(
    pairs: Sequence[tuple[Path, Path]], out_dir: str | os.PathLike[str], overwrite: bool = False
) -> None:
    """Refuse an output folder that is a file, and outputs that would replace an input file
    (`--out` the input folder) unless `overwrite`; raises EnhanceError naming them."""
    out_dir = Path(out_dir)
    sources = {src.resolve() for src, _ in pairs if src.exists()}  # a missing one fails later
    if out_dir.exists() and not out_dir.is_dir():
        what = "one of the inputs" if out_dir.resolve() in sources else "a file"
        raise EnhanceError(f"--out {out_dir} is {what}, not a folder: give a folder")
    if overwrite:
        return
    hits = [out_dir / rel for _, rel in pairs if (out_dir / rel).resolve() in sources]
    if hits:
        shown = ", ".join(str(p) for p in hits[:5]) + (" ..." if len(hits) > 5 else "")
        raise EnhanceError(
            f"{len(hits)} output(s) would overwrite input files: {shown}; choose another --out "
            "folder, or give --overwrite to replace the inputs with their enhanced versions"
        )


def _conversion_note(src: Path, data: np.ndarray, rate: int, cfg: Config, keep_rate: bool) -> str:
    """What enhancing `src` changes about its format ('' when it already is the model's)."""
    channels = 1 if data.ndim == 1 else data.shape[1]
    if rate == cfg.dset.sample_rate and channels == 1:
        return ""
    out_rate = rate if keep_rate else cfg.dset.sample_rate
    return (
        f"{src} is {rate} Hz with {channels} channel(s): it is enhanced as "
        f"{cfg.dset.sample_rate} Hz mono (the model's format) and written as {out_rate} Hz mono"
        + ("" if keep_rate else "; --keep-rate writes each output at its input's rate")
        + " (said once for all inputs)"
    )


def enhance_paths(
    cfg: Config,
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    model: Any = None,
    masker: Masker | None = None,
    progress: bool = True,
    overwrite: bool = False,
    keep_rate: bool = False,
) -> tuple[int, list[Failure]]:
    """Enhance files/folders with an already loaded model or masker; see `enhance_files`."""
    out_dir = Path(out_dir)
    pairs = collect_inputs(inputs)
    check_outputs(pairs, out_dir, overwrite)
    failures: list[Failure] = []
    n_ok = clipped_total = 0
    noted = False
    for src, rel in tqdm(pairs, desc="enhance", unit="file", disable=not progress):
        try:
            data, rate = audio.read(src)
            note = _conversion_note(src, data, rate, cfg, keep_rate)
            if note and not noted:
                log.info("%s", note)
                noted = True
            seconds = len(data) / rate
            with tqdm(
                total=round(seconds, 1),
                desc=f"  {src.name}",
                unit="s",
                leave=False,
                disable=not progress or seconds < LONG_FILE_S,
            ) as bar:

                def advance(done: float, bar: tqdm = bar) -> None:
                    bar.update(round(done, 1) - bar.n)

                enhanced, _ = enhance_waveform(
                    data, rate, cfg, model=model, masker=masker, progress=advance
                )
            out_rate = cfg.dset.sample_rate
            if keep_rate and rate != out_rate:
                # back to the input's rate, exactly as many samples as the input
                enhanced = audio.resample(enhanced, out_rate, rate)
                enhanced = np.pad(enhanced, (0, max(0, len(data) - len(enhanced))))[: len(data)]
                out_rate = rate
            clipped = audio.write(out_dir / rel, enhanced, out_rate)
        except (audio.AudioError, OSError, ValueError) as exc:
            message = str(exc) if str(src) in str(exc) else f"{src}: {exc}"
            log.error("%s", message)
            failures.append(Failure(src, message))
            continue
        if clipped:
            log.warning("%s: %d samples clipped to 16-bit full scale", out_dir / rel, clipped)
        clipped_total += clipped
        n_ok += 1  # counted once written: the total is what is really in the folder
    log.info(
        "enhanced %d of %d files into %s (%d clipped samples in all)",
        n_ok,
        len(pairs),
        out_dir,
        clipped_total,
    )
    return n_ok, failures


def load(run_dir: str | os.PathLike[str]) -> tuple[Config, Any]:
    """The run's config and trained sequence model (runs.load)."""
    return runs.load(runs.resolve(run_dir))


def streaming_masker(cfg: Config, trained: Any) -> Masker:
    """The fast host masker (LiteRT, float); the Keras one, with a warning, if LiteRT fails."""
    try:
        return LiteRTMasker(cfg, trained)
    except Exception as exc:  # the converter and LiteRT raise assorted types
        log.warning(
            "--streaming: the float LiteRT model could not be built (%s); streaming through "
            "Keras instead (same output, about 10x slower)",
            exc,
        )
        return KerasMasker(cfg, trained)


def enhance_files(
    run_dir: str | os.PathLike[str],
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    streaming: bool = False,
    masker: Masker | None = None,
    overwrite: bool = False,
    keep_rate: bool = False,
) -> tuple[int, list[Failure]]:
    """Enhance wav/flac files and folders (any rate, any length) with a trained run.

    Writes 16-bit mono wavs at the model's rate (`keep_rate`: at each input's rate) into
    `out_dir` (folder inputs keep their layout), logging clipped samples. `streaming` runs the
    float model frame by frame (in LiteRT: `streaming_masker`); `masker` (e.g. an int8 masker
    from tflite_masker.py) replaces the Keras model and implies streaming. An output that would
    replace an input file is refused unless `overwrite`, as are inputs of different folders
    with one name (EnhanceError). An input that cannot be read is logged by name and returned in the
    failures; the others are still processed. Returns (files written, failures).
    """
    check_outputs(collect_inputs(inputs), out_dir, overwrite)  # before loading the model
    cfg, trained = load(run_dir)
    if masker is None and streaming:
        masker = streaming_masker(cfg, trained)
    return enhance_paths(
        cfg,
        inputs,
        out_dir,
        model=None if masker is not None else trained,
        masker=masker,
        overwrite=overwrite,
        keep_rate=keep_rate,
    )


def command(args: argparse.Namespace, masker_factory: MaskerFactory | None = None) -> int:
    """`lstm-se enhance --run DIR INPUT... --out DIR [--streaming] [--tflite [--int8|--int16]]
    [--overwrite] [--keep-rate]`.

    Exit status 0 when every file was enhanced, 1 when any failed, 2 on a usage error.
    """
    try:
        run_dir = runs.resolve(args.run)
    except runs.RunError as exc:
        log.error("%s", exc)
        return 2
    tflite = bool(getattr(args, "tflite", False))
    overwrite = bool(getattr(args, "overwrite", False))
    keep_rate = bool(getattr(args, "keep_rate", False))
    if tflite and masker_factory is None:
        log.error(
            "--tflite needs the maskers of lstm_se.tflite_masker, which are not available in "
            "this installation; export the run (`lstm-se export --run %s`) with them, or "
            "leave out --tflite to use the Keras model",
            run_dir,
        )
        return 2
    try:
        start = time.perf_counter()
        if tflite:
            cfg = load_run_config(run_dir)  # the exported model runs; no Keras model needed
            try:
                masker = masker_factory(run_dir, cfg)  # type: ignore[misc]
            except Exception as exc:  # a plug-in's own error type (e.g. export_files.McuError)
                log.error("--tflite: cannot build the exported model's masker: %s", exc)
                return 2
            n_ok, failures = enhance_paths(
                cfg, args.inputs, args.out, masker=masker, overwrite=overwrite, keep_rate=keep_rate
            )
        else:
            n_ok, failures = enhance_files(
                run_dir,
                args.inputs,
                args.out,
                streaming=bool(args.streaming),
                overwrite=overwrite,
                keep_rate=keep_rate,
            )
    except (EnhanceError, ConfigError, FileNotFoundError) as exc:  # no run there, no model
        log.error("%s", exc)
        return 2
    log.info("done in %.1f s", time.perf_counter() - start)
    if failures:
        log.error("%d file(s) failed: %s", len(failures), ", ".join(str(f.path) for f in failures))
        return 1
    return 0 if n_ok else 1
