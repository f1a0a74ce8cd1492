"""Objective speech-enhancement metrics on numpy arrays: SI-SDR, PESQ-WB, (E)STOI, CSIG/CBAK/COVL.

Conventions (also stated in every evaluation output):

* Every function takes the clean reference first and the estimate second, as 1-D arrays at
  `rate`. Signals of unequal length are truncated to the common length (aligned at sample 0).
* A silent reference (or one that PESQ finds no speech in) gives NaN with a
  :class:`MetricWarning`, never an exception, so one bad file cannot stop an evaluation.
* SI-SDR: Le Roux et al., "SDR - half-baked or well done?", ICASSP 2019, with both signals made
  zero-mean first. Capped at 200 dB (a perfect estimate would otherwise be infinite).
* PESQ: ``pesq==0.0.4`` wide-band (ITU-T P.862.2, MOS-LQO) at 16 kHz; other rates are resampled.
* STOI / ESTOI: ``pystoi==0.4.1``.
* Composite measures (Hu and Loizou, "Evaluation of objective quality measures for speech
  enhancement", IEEE TASLP 16(1), 2008): a re-implementation of Loizou's ``composite.m``
  (LLR, WSS and segmental SNR with the same framing, windows, critical bands and 95 % trimming),
  computed at 16 kHz. The original feeds narrow-band PESQ (P.862 raw MOS) into the regression;
  we use PESQ-WB by default (``pesq_mode='wb'``), the usual practice in the VoiceBank-DEMAND
  literature, so our CSIG/CBAK/COVL compare with published tables. ``pesq_mode='nb'`` uses
  pesq 0.0.4's narrow-band score (P.862.1 MOS-LQO) instead. The values are clipped to [1, 5]
  as in the later versions of ``composite.m``. No maintained package installs here: the
  ``pysepm`` port is not on PyPI and its fork ``pysepm-evo`` 0.1.1 has a broken ``composite``
  (it references an undefined PESQ value) and a GPL licence.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Literal

import numpy as np

from .audio import resample

log = logging.getLogger(__name__)

PESQ_RATE = 16000
"""Rate at which PESQ and the composite measures are computed."""

SI_SDR_MAX_DB = 200.0
"""SI-SDR of a perfect estimate (the exact value would be infinite)."""

_MATLAB_EPS = float(np.finfo(np.float64).eps)
"""MATLAB's `eps`, which composite.m adds to both signals."""

_STOI_MIN_SECONDS = 0.4
"""Shortest signal pystoi can score: 30 frames of 256 samples, hop 128, at 10 kHz."""

SCORE_KEYS = ("pesq", "stoi", "estoi", "si_sdr", "csig", "cbak", "covl")
"""Keys of :func:`score_all`, in table order."""


class MetricWarning(UserWarning):
    """A metric could not be computed for a signal (the value is NaN)."""


def _warn(message: str) -> float:
    warnings.warn(message, MetricWarning, stacklevel=3)
    return math.nan


def _pair(ref: np.ndarray, est: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both signals as float64 1-D arrays, truncated to the common length."""
    ref = np.asarray(ref, dtype=np.float64).reshape(-1)
    est = np.asarray(est, dtype=np.float64).reshape(-1)
    n = min(len(ref), len(est))
    if len(ref) != len(est):
        log.debug("metric inputs differ in length (%d vs %d): using %d", len(ref), len(est), n)
    return ref[:n], est[:n]


def is_silent(x: np.ndarray, floor: float = 1e-8) -> bool:
    """True when no sample of `x` reaches `floor` in magnitude (empty counts as silent)."""
    x = np.asarray(x)
    return x.size == 0 or float(np.max(np.abs(x))) < floor


def _to_rate(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    return x if rate == target else resample(x, rate, target).astype(np.float64)


# ---------------------------------------------------------------------------------------------
# SI-SDR, PESQ, STOI


def si_sdr(ref: np.ndarray, est: np.ndarray) -> float:
    """Scale-invariant SDR in dB of `est` against `ref` (both made zero-mean first)."""
    ref, est = _pair(ref, est)
    if is_silent(ref):
        return _warn("SI-SDR: the reference is silent; returning NaN")
    ref = ref - ref.mean()
    est = est - est.mean()
    energy = float(np.dot(ref, ref))
    if energy == 0.0:  # a constant (DC-only) reference is silent once its mean is removed
        return _warn("SI-SDR: the reference is constant; returning NaN")
    target = (np.dot(est, ref) / energy) * ref
    noise = est - target
    t = float(np.dot(target, target))
    n = float(np.dot(noise, noise))
    floor = t * 10 ** (-SI_SDR_MAX_DB / 10)
    if t == 0.0:  # estimate orthogonal to the reference: no target at all
        return -SI_SDR_MAX_DB
    return float(10 * np.log10(t / max(n, floor)))


def _pesq(ref: np.ndarray, est: np.ndarray, rate: int, mode: Literal["wb", "nb"]) -> float:
    from pesq import PesqError, pesq  # lazy: a C extension only the metrics need

    ref, est = _pair(ref, est)
    if is_silent(ref):
        return _warn("PESQ: the reference is silent; returning NaN")
    ref = _to_rate(ref, rate, PESQ_RATE)
    est = _to_rate(est, rate, PESQ_RATE)
    if is_silent(est):
        # pesq divides by the joint peak; an all-zero estimate is still a valid (bad) input,
        # but a tiny offset keeps the C code away from exact zeros it treats as missing data.
        est = est + 1e-9
    try:
        return float(pesq(PESQ_RATE, ref, est, mode))
    except PesqError as exc:  # NoUtterancesError, BufferTooShortError, ...
        return _warn(f"PESQ: {type(exc).__name__} ({exc}); returning NaN")


def pesq_wb(ref: np.ndarray, est: np.ndarray, rate: int = PESQ_RATE) -> float:
    """Wide-band PESQ (P.862.2 MOS-LQO, pesq 0.0.4) at 16 kHz; other rates are resampled.

    NaN with a :class:`MetricWarning` when the reference is silent or PESQ finds no utterance.
    """
    return _pesq(ref, est, rate, "wb")


def stoi(ref: np.ndarray, est: np.ndarray, rate: int, extended: bool = False) -> float:
    """STOI (or ESTOI when `extended`) from pystoi 0.4.1.

    NaN with a :class:`MetricWarning` for a silent reference or one too short for pystoi
    (which would otherwise return 1e-5 and drag a mean down).
    """
    from pystoi import stoi as _stoi

    name = "ESTOI" if extended else "STOI"
    ref, est = _pair(ref, est)
    if is_silent(ref):
        return _warn(f"{name}: the reference is silent; returning NaN")
    # pystoi needs 30 frames of 256 samples (hop 128) at 10 kHz after silent-frame removal;
    # below that it returns 1e-5 or, for very short input, fails inside numpy.
    if len(ref) < math.ceil(_STOI_MIN_SECONDS * rate):
        return _warn(f"{name}: signal shorter than {_STOI_MIN_SECONDS} s; returning NaN")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = float(_stoi(ref, est, rate, extended=extended))
        except Exception as exc:  # pystoi has no error type of its own
            return _warn(f"{name}: pystoi failed ({type(exc).__name__}: {exc}); returning NaN")
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        return _warn(f"{name}: fewer than 30 non-silent frames (signal too short); returning NaN")
    return value


# ---------------------------------------------------------------------------------------------
# Composite measures: LLR, WSS and segmental SNR as in Loizou's composite.m


# Critical-band centre frequencies and bandwidths (Hz) of composite.m's WSS measure.
_CENT_FREQ = np.array(
    [50.0000, 120.000, 190.000, 260.000, 330.000, 400.000, 470.000, 540.000, 617.372, 703.378,
     798.717, 904.128, 1020.38, 1148.30, 1288.72, 1442.54, 1610.70, 1794.16, 1993.93, 2211.08,
     2446.71, 2701.97, 2978.04, 3276.17, 3597.63]
)  # fmt: skip
_BANDWIDTH = np.array(
    [70.0000, 70.0000, 70.0000, 70.0000, 70.0000, 70.0000, 70.0000, 77.3724, 86.0056, 95.3398,
     105.411, 116.256, 127.914, 140.423, 153.823, 168.154, 183.457, 199.776, 217.153, 235.631,
     255.255, 276.072, 298.126, 321.465, 346.136]
)  # fmt: skip


def _framing(rate: int) -> tuple[int, int]:
    """(window length, hop) of composite.m: 30 ms windows, a quarter-window hop."""
    win = round(30 * rate / 1000)
    return win, win // 4


def _frames(x: np.ndarray, rate: int) -> np.ndarray:
    """Hann-windowed frames exactly as composite.m takes them: (frames, win).

    composite.m runs `1:num_frames` with num_frames = len/skip - win/skip, i.e.
    floor((len - win) / skip) frames (one fewer than would fit).
    """
    win, skip = _framing(rate)
    n = (len(x) - win) // skip
    if n < 1:
        return np.zeros((0, win))
    window = 0.5 * (1 - np.cos(2 * np.pi * np.arange(1, win + 1) / (win + 1)))
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::skip][:n]
    return frames * window


def _lpc(frames: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Autocorrelation lags (frames, order+1) and LPC polynomials [1, -a] (frames, order+1).

    Levinson-Durbin as in composite.m's `lpcoeff`, vectorized over frames.
    """
    n_frames, win = frames.shape
    r = np.stack([np.sum(frames[:, : win - k] * frames[:, k:], axis=1) for k in range(order + 1)],
                 axis=1)  # fmt: skip
    a = np.ones((n_frames, order))
    e = r[:, 0].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(order):
            a_past = a[:, :i].copy()
            sum_term = np.sum(a_past * r[:, i:0:-1], axis=1)
            rcoeff = (r[:, i + 1] - sum_term) / e
            a[:, i] = rcoeff
            if i > 0:
                a[:, :i] = a_past - rcoeff[:, None] * a_past[:, ::-1]
            e = (1 - rcoeff * rcoeff) * e
    return r, np.concatenate([np.ones((n_frames, 1)), -a], axis=1)


def _trimmed_mean(values: np.ndarray, alpha: float = 0.95) -> float:
    """Mean of the lowest round(alpha * n) values (MATLAB rounding; NaN sorts last)."""
    values = np.sort(values)
    keep = math.floor(len(values) * alpha + 0.5)
    return float(np.mean(values[:keep])) if keep else math.nan


def llr_frames(ref: np.ndarray, est: np.ndarray, rate: int) -> np.ndarray:
    """Per-frame log-likelihood ratio (composite.m's `llr`, unclipped)."""
    order = 10 if rate < 10000 else 16
    fr, fe = _frames(ref, rate), _frames(est, rate)
    r_ref, a_ref = _lpc(fr, order)
    _, a_est = _lpc(fe, order)
    idx = np.abs(np.arange(order + 1)[:, None] - np.arange(order + 1)[None, :])
    toeplitz = r_ref[:, idx]
    num = np.einsum("fi,fij,fj->f", a_est, toeplitz, a_est)
    den = np.einsum("fi,fij,fj->f", a_ref, toeplitz, a_ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(num / den)


def _crit_filters(rate: int, n_fft: int) -> np.ndarray:
    """(25, n_fft/2) Gaussian critical-band filters of composite.m's `wss`."""
    half = n_fft // 2
    max_freq = rate / 2
    j = np.arange(half)
    min_factor = math.exp(-30.0 / (2.0 * 2.303))  # -30 dB point of a filter
    out = np.zeros((len(_CENT_FREQ), half))
    for i, (cf, bw_hz) in enumerate(zip(_CENT_FREQ, _BANDWIDTH, strict=True)):
        f0 = math.floor(cf / max_freq * half)
        bw = bw_hz / max_freq * half
        norm = math.log(_BANDWIDTH[0]) - math.log(bw_hz)
        filt = np.exp(-11 * ((j - f0) / bw) ** 2 + norm)
        out[i] = filt * (filt > min_factor)
    return out


def _loc_peaks(slope: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """Nearest spectral peak per band, exactly as composite.m's search loops pick it.

    Rising slope: search right to the first non-rising band k and take energy[k-1] (sic, one
    band before the peak, as the original does); falling slope: search left to the last rising
    band k and take energy[k+1]. Vectorized over frames: (frames, 24) -> (frames, 24).
    """
    n_frames, m = slope.shape
    nxt = np.empty((n_frames, m + 1), dtype=np.int64)  # first k >= i with slope <= 0, else m
    nxt[:, m] = m
    for i in range(m - 1, -1, -1):
        nxt[:, i] = np.where(slope[:, i] <= 0, i, nxt[:, i + 1])
    prv = np.empty((n_frames, m), dtype=np.int64)  # last k <= i with slope > 0, else -1
    prev = np.full(n_frames, -1)
    for i in range(m):
        prev = np.where(slope[:, i] > 0, i, prev)
        prv[:, i] = prev
    rows = np.arange(n_frames)[:, None]
    right = energy[rows, nxt[:, :m] - 1]
    left = energy[rows, prv + 1]
    return np.where(slope > 0, right, left)


def wss_frames(ref: np.ndarray, est: np.ndarray, rate: int) -> np.ndarray:
    """Per-frame weighted spectral slope distance (composite.m's `wss`)."""
    k_max, k_locmax = 20.0, 1.0  # Klatt's values
    win, _ = _framing(rate)
    n_fft = 2 ** math.ceil(math.log2(2 * win))
    filt = _crit_filters(rate, n_fft)
    half = n_fft // 2

    def band_db(x: np.ndarray) -> np.ndarray:
        spec = np.abs(np.fft.fft(_frames(x, rate), n_fft, axis=1)[:, :half]) ** 2
        return 10 * np.log10(np.maximum(spec @ filt.T, 1e-10))

    e_ref, e_est = band_db(ref), band_db(est)
    s_ref, s_est = np.diff(e_ref, axis=1), np.diff(e_est, axis=1)
    p_ref, p_est = _loc_peaks(s_ref, e_ref), _loc_peaks(s_est, e_est)
    w_ref = (k_max / (k_max + e_ref.max(axis=1, keepdims=True) - e_ref[:, :-1])) * (
        k_locmax / (k_locmax + p_ref - e_ref[:, :-1])
    )
    w_est = (k_max / (k_max + e_est.max(axis=1, keepdims=True) - e_est[:, :-1])) * (
        k_locmax / (k_locmax + p_est - e_est[:, :-1])
    )
    w = (w_ref + w_est) / 2.0
    return np.sum(w * (s_ref - s_est) ** 2, axis=1) / np.sum(w, axis=1)


def segsnr_frames(ref: np.ndarray, est: np.ndarray, rate: int) -> np.ndarray:
    """Per-frame segmental SNR in dB, clipped to [-10, 35] (composite.m's `snr`)."""
    fr, fe = _frames(ref, rate), _frames(est, rate)
    signal = np.sum(fr**2, axis=1)
    noise = np.sum((fr - fe) ** 2, axis=1)
    with np.errstate(divide="ignore"):
        seg = 10 * np.log10(signal / (noise + _MATLAB_EPS) + _MATLAB_EPS)
    return np.clip(seg, -10.0, 35.0)


def composite_measures(ref: np.ndarray, est: np.ndarray, rate: int) -> dict[str, float]:
    """LLR, WSS (both 95 %-trimmed means) and mean segmental SNR as composite.m computes them.

    Runs at `rate` as given (composite.m's framing scales with the rate); `composite` calls it
    at 16 kHz. Both signals get MATLAB's eps added, as in the original.
    """
    ref, est = _pair(ref, est)
    ref = ref + _MATLAB_EPS
    est = est + _MATLAB_EPS
    return {
        "llr": _trimmed_mean(llr_frames(ref, est, rate)),
        "wss": _trimmed_mean(wss_frames(ref, est, rate)),
        "segsnr": float(np.mean(segsnr_frames(ref, est, rate))),
    }


def composite_from_measures(llr: float, wss: float, segsnr: float, pesq: float) -> dict[str, float]:
    """Hu and Loizou's (2008) regressions, clipped to the MOS range [1, 5]."""
    csig = 3.093 - 1.029 * llr + 0.603 * pesq - 0.009 * wss
    cbak = 1.634 + 0.478 * pesq - 0.007 * wss + 0.063 * segsnr
    covl = 1.594 + 0.805 * pesq - 0.512 * llr - 0.007 * wss

    def clip(v: float) -> float:
        return float(min(5.0, max(1.0, v))) if math.isfinite(v) else math.nan

    return {"csig": clip(csig), "cbak": clip(cbak), "covl": clip(covl)}


def composite(
    ref: np.ndarray,
    est: np.ndarray,
    rate: int,
    pesq_mode: Literal["wb", "nb"] = "wb",
    pesq_value: float | None = None,
) -> dict[str, float]:
    """CSIG, CBAK and COVL (Hu and Loizou 2008) at 16 kHz: {'csig', 'cbak', 'covl'}.

    `pesq_value` reuses an already computed PESQ score (of the same mode) instead of running
    PESQ again. NaN values with a :class:`MetricWarning` for a silent reference or a signal
    shorter than two analysis frames.
    """
    nan = {"csig": math.nan, "cbak": math.nan, "covl": math.nan}
    ref, est = _pair(ref, est)
    if is_silent(ref):
        _warn("composite: the reference is silent; returning NaN")
        return nan
    ref = _to_rate(ref, rate, PESQ_RATE)
    est = _to_rate(est, rate, PESQ_RATE)
    win, skip = _framing(PESQ_RATE)
    if len(ref) < win + skip:
        _warn(f"composite: signal shorter than {win + skip} samples at 16 kHz; returning NaN")
        return nan
    if pesq_value is None:
        pesq_value = _pesq(ref, est, PESQ_RATE, pesq_mode)
    if not math.isfinite(pesq_value):
        return nan
    return composite_from_measures(pesq=pesq_value, **composite_measures(ref, est, PESQ_RATE))


def score_all(ref: np.ndarray, est: np.ndarray, rate: int) -> dict[str, float]:
    """Every metric of `est` against `ref`: pesq, stoi, estoi, si_sdr, csig, cbak, covl.

    Unequal lengths are truncated to the common length; metrics that cannot be computed are NaN
    (with a :class:`MetricWarning`). PESQ-WB is computed once and reused by the composite.
    """
    ref, est = _pair(ref, est)
    p = pesq_wb(ref, est, rate)
    out = {
        "pesq": p,
        "stoi": stoi(ref, est, rate),
        "estoi": stoi(ref, est, rate, extended=True),
        "si_sdr": si_sdr(ref, est),
    }
    if math.isfinite(p):
        out.update(composite(ref, est, rate, pesq_value=p))
    else:
        out.update({"csig": math.nan, "cbak": math.nan, "covl": math.nan})
    return {k: out[k] for k in SCORE_KEYS}
