"""An example input vampkit makes itself: a short synthesised drum groove (no third-party audio)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from .errors import ParameterError


def _kick(sr: int, n: int) -> np.ndarray:
    t = np.arange(n) / sr
    freq = 50 + 100 * np.exp(-t * 30)
    return np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t * 8)


def _noise_hit(sr: int, n: int, decay: float, rng: np.random.Generator, bright: bool) -> np.ndarray:
    noise = rng.standard_normal(n)
    if bright:
        noise = np.diff(noise, prepend=0.0)  # crude high-pass for hats
    return noise * np.exp(-np.arange(n) / sr * decay)


def groove(seconds: float = 8.0, bpm: float = 110.0, sample_rate: int = 44100, seed: int = 0) -> torch.Tensor:
    """A mono drum groove ``(1, samples)`` in [-1, 1]: kick on 1 and 3, snare on 2 and 4, eighth hats."""
    if seconds <= 0 or bpm <= 0 or sample_rate < 8000:
        raise ParameterError("groove: seconds and bpm must be > 0 and sample_rate >= 8000")
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    out = np.zeros(n)
    eighth = 60.0 / bpm / 2
    hit = int(0.4 * sample_rate)
    for i in range(int(math.ceil(seconds / eighth))):
        start = int(round(i * eighth * sample_rate))
        if start >= n:
            break
        length = min(hit, n - start)
        beat = i % 8
        if beat in (0, 4) or (beat == 5 and i % 16 == 13):
            out[start:start + length] += 0.9 * _kick(sample_rate, length)
        if beat in (2, 6):
            out[start:start + length] += 0.5 * _noise_hit(sample_rate, length, 18.0, rng, bright=False)
        out[start:start + length] += 0.15 * _noise_hit(sample_rate, length, 60.0, rng, bright=True)
    out = out / max(1e-9, np.abs(out).max()) * 0.8
    return torch.from_numpy(out.astype(np.float32)).unsqueeze(0)


def write_groove(path: str | os.PathLike, seconds: float = 8.0, bpm: float = 110.0,
                 sample_rate: int = 44100, seed: int = 0) -> Path:
    """Write ``groove(...)`` as a WAV file (atomically) and return its path."""
    from .audio import save_audio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_audio(path, groove(seconds, bpm, sample_rate, seed), sample_rate, subtype="FLOAT")
