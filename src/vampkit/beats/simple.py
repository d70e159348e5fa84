"""The ``simple`` beat tracker and onset detector: numpy/scipy only, **less precise** than madmom.

For machines without madmom. Spectral-flux onset envelope, autocorrelation tempo with a
prior around 120 BPM, dynamic-programming beat placement (Ellis 2007). It assumes a steady
tempo, finds no downbeats or meter, and is easily fooled by syncopation; prefer ``madmom``.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import AnalysisError, ParameterError
from ..params import param
from ..validators import non_negative, positive
from .base import Beats, mono, resample

RATE = 22050
HOP = 220  # ~100.2 envelope frames per second
N_FFT = 1024
FPS = RATE / HOP


def _smooth(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``x`` convolved with ``kernel``, centred, edges extended, same length as ``x``."""
    half = len(kernel) // 2
    return np.convolve(np.pad(x, (half, half), mode="edge"), kernel[::-1], mode="valid")[: len(x)]


def onset_envelope(audio: Any, sample_rate: int) -> np.ndarray:
    """Spectral flux of the log-magnitude spectrogram (half-wave rectified, summed over bins),
    one value per ``HOP`` samples at 22.05 kHz, frame ``t`` centred at ``t * HOP`` samples."""
    x = resample(mono(audio, what="simple tracker"), sample_rate, RATE)
    x = np.pad(x, (N_FFT // 2, N_FFT // 2 + HOP))
    frames = sliding_window_view(x, N_FFT)[::HOP]
    spec = np.log1p(100.0 * np.abs(np.fft.rfft(frames * np.hanning(N_FFT).astype(np.float32), axis=1)))
    flux = np.maximum(np.diff(spec, axis=0, prepend=spec[:1]), 0.0).sum(axis=1)
    n_frames = int(np.ceil(len(x) / HOP))
    flux = flux[:n_frames]
    # remove the slowly varying part (loud passages), keep the attacks
    width = max(1, int(round(0.5 * FPS)))
    baseline = _smooth(flux, np.ones(width) / width)
    envelope = np.maximum(flux - baseline, 0.0)
    peak = envelope.max()
    return envelope / peak if peak > 0 else envelope


def estimate_period(envelope: np.ndarray, min_bpm: float, max_bpm: float, prior_bpm: float) -> float:
    """Beat period in envelope frames: the autocorrelation peak weighted by a log-normal prior
    (one octave wide) around ``prior_bpm``, refined by parabolic interpolation."""
    e = envelope - envelope.mean()
    n = len(e)
    spectrum = np.fft.rfft(e, 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    lo = max(1, int(np.floor(60.0 * FPS / max_bpm)))
    hi = min(n - 2, int(np.ceil(60.0 * FPS / min_bpm)))
    if hi <= lo:
        raise AnalysisError(f"simple: the audio ({n / FPS:.2f} s) is too short to estimate a tempo")
    lags = np.arange(lo, hi + 1)
    bpm = 60.0 * FPS / lags
    weighted = np.maximum(acf[lags], 0.0) * np.exp(-0.5 * np.log2(bpm / prior_bpm) ** 2)
    k = int(lags[np.argmax(weighted)])
    a, b, c = acf[k - 1], acf[k], acf[k + 1]
    denominator = a - 2 * b + c
    shift = 0.5 * (a - c) / denominator if denominator < 0 else 0.0
    return float(k + np.clip(shift, -0.5, 0.5))


def place_beats(envelope: np.ndarray, period: float, tightness: float) -> np.ndarray:
    """Beat frames maximising envelope strength at beats minus ``tightness`` x squared log
    deviation of each inter-beat interval from ``period`` (dynamic programming)."""
    n = len(envelope)
    sigma = period / 32.0
    kernel = np.exp(-0.5 * (np.arange(-int(4 * sigma) - 1, int(4 * sigma) + 2) / max(sigma, 1e-3)) ** 2)
    local = _smooth(envelope, kernel / kernel.sum())
    score = local.copy()
    backlink = np.full(n, -1, dtype=np.int64)
    gaps = np.arange(int(round(period / 2)), int(round(2 * period)) + 1)
    penalty = -tightness * np.log(gaps / period) ** 2
    threshold = 0.01 * local.max()
    for t in range(int(gaps[0]), n):  # one step per envelope frame: the DP recursion is sequential
        valid = gaps <= t
        candidates = score[t - gaps[valid]] + penalty[valid]
        best = int(np.argmax(candidates))
        if candidates[best] > 0 or local[t] >= threshold:
            score[t] = local[t] + max(candidates[best], 0.0)
            backlink[t] = t - int(gaps[valid][best]) if candidates[best] > 0 else -1
    # end on the best-scoring chain among those reaching the last 1.5 periods (chains carry on
    # through trailing silence; comparing only late ends keeps the on-beat chain over off-beats)
    tail = max(0, n - int(np.ceil(1.5 * period)))
    last = tail + int(np.argmax(score[tail:]))
    path = [last]
    while backlink[path[-1]] >= 0:
        path.append(int(backlink[path[-1]]))
    frames = np.asarray(path[::-1], dtype=np.int64)
    # drop weak beats at the edges (silence before/after the music)
    strong = local[frames] >= 0.1 * np.median(local[frames])
    if strong.any():
        first, stop = np.flatnonzero(strong)[[0, -1]]
        frames = frames[first:stop + 1]
    return frames


@attrs.frozen
class SimpleTracker:
    """Less precise fallback tracker (numpy only): steady-tempo beats, no downbeats or meter."""

    name = "simple"

    min_bpm: float = param(60.0, doc="slowest tempo considered (BPM)", validator=positive)
    max_bpm: float = param(200.0, doc="fastest tempo considered (BPM)", validator=positive)
    prior_bpm: float = param(120.0, doc="tempo preferred when several fit (BPM)", validator=positive)
    tightness: float = param(100.0, doc="how strongly beats keep a steady tempo", validator=non_negative)

    def __attrs_post_init__(self) -> None:
        if self.max_bpm <= self.min_bpm:
            raise ParameterError(f"simple: max_bpm ({self.max_bpm}) must exceed min_bpm ({self.min_bpm})")

    def track(self, audio: Any, sample_rate: int) -> Beats:
        """Beat times of ``audio`` (no downbeats: ``downbeats`` is empty, ``meter`` None)."""
        envelope = onset_envelope(audio, sample_rate)
        if not envelope.any():
            return Beats(times=(), tracker=self.name)
        period = estimate_period(envelope, self.min_bpm, self.max_bpm, self.prior_bpm)
        frames = place_beats(envelope, period, self.tightness)
        return Beats(times=frames / FPS, tracker=self.name)


@attrs.frozen
class SimpleOnsets:
    """Less precise fallback onset detector: peaks of the spectral-flux envelope."""

    name = "simple"

    threshold: float = param(0.1, doc="minimum peak height over the local mean (envelope max = 1)",
                             validator=non_negative)
    combine: float = param(0.03, doc="onsets closer than this (s) are merged", validator=non_negative)

    def detect(self, audio: Any, sample_rate: int) -> tuple[float, ...]:
        """Onset times in seconds, sorted."""
        envelope = onset_envelope(audio, sample_rate)
        radius = 3
        padded = np.pad(envelope, radius, constant_values=-np.inf)
        local_max = sliding_window_view(padded, 2 * radius + 1).max(axis=1)
        candidates = np.flatnonzero((envelope >= local_max) & (envelope > self.threshold))
        times = candidates / FPS
        kept: list[float] = []
        for t in times:  # one step per onset candidate, not per frame
            if not kept or t - kept[-1] > self.combine:
                kept.append(float(t))
        return tuple(kept)
