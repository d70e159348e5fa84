"""Integrated loudness (ITU-R BS.1770-4) the way upstream measures it, and gain helpers.

Follows audiotools' ``AudioSignal.loudness`` (VampNet's and DAC's): K-weighting, 400 ms blocks
with 75 % overlap where the last block is zero-padded, absolute gate -70 LUFS and relative gate
-10 LU, channel gains 1, 1, 1, 1.41, 1.41, signals under 0.5 s zero-padded for the measurement,
result floored at -70 LUFS. pyloudnorm differs in how it counts the last block (it rounds).
The loudness a model set encodes at is its bundle's ``loudness_db`` (``vampkit.bundles``).
"""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import scipy.signal
import torch

MIN_LOUDNESS_DB = -70.0
_CHANNEL_GAINS = (1.0, 1.0, 1.0, 1.41, 1.41)
_BLOCK_SECONDS = 0.4
_MIN_SECONDS = 0.5


def _k_weighting(rate: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
    meter = pyloudnorm.Meter(rate)  # the same filter designs audiotools takes from pyloudnorm
    return [(f.b, f.a, f.passband_gain) for f in meter._filters.values()]  # noqa: SLF001 - pyloudnorm keeps them private


def integrated_loudness(samples: torch.Tensor, sample_rate: int) -> float:
    """Loudness in LUFS of ``samples [channels, n]`` (up to 5 channels), floored at -70."""
    data = samples.detach().to("cpu", torch.float32)
    if data.ndim == 1:
        data = data[None]
    channels, length = data.shape
    if channels > len(_CHANNEL_GAINS):
        raise ValueError(f"loudness is defined for at most {len(_CHANNEL_GAINS)} channels, got {channels}")
    kernel = int(_BLOCK_SECONDS * sample_rate)
    stride = int(_BLOCK_SECONDS * 0.25 * sample_rate)
    padded_length = max(length, int(_MIN_SECONDS * sample_rate))
    n_blocks = math.ceil((max(padded_length, kernel) - kernel) / stride) + 1
    total = (n_blocks - 1) * stride + kernel
    filters = _k_weighting(sample_rate)
    energy = np.zeros((channels, n_blocks))
    starts = np.arange(n_blocks) * stride
    for ch in range(channels):
        x = data[ch].numpy().astype(np.float64)
        for b, a, gain in filters:
            x = gain * scipy.signal.lfilter(b, a, x)
        csum = np.zeros(total + 1)
        np.cumsum(np.square(x), out=csum[1 : length + 1])
        csum[length + 1 :] = csum[length]
        energy[ch] = (csum[starts + kernel] - csum[starts]) / kernel
    weighted = np.asarray(_CHANNEL_GAINS[:channels])[:, None] * energy
    with np.errstate(divide="ignore", invalid="ignore"):
        block_loudness = -0.691 + 10.0 * np.log10(weighted.sum(0))
        gated = block_loudness > MIN_LOUDNESS_DB
        if not gated.any():
            return MIN_LOUDNESS_DB
        relative = -0.691 + 10.0 * np.log10(weighted[:, gated].mean(1).sum()) - 10.0
        gated &= block_loudness > relative
        if not gated.any():
            return MIN_LOUDNESS_DB
        loudness = -0.691 + 10.0 * np.log10(weighted[:, gated].mean(1).sum())
    return float(max(loudness, MIN_LOUDNESS_DB))


def db_to_gain(db: float) -> float:
    """The amplitude factor of a gain in dB."""
    return 10.0 ** (db / 20.0)


def normalize_loudness(samples: torch.Tensor, sample_rate: int, target_db: float) -> tuple[torch.Tensor, float]:
    """``samples`` scaled (one gain for all channels) to ``target_db`` LUFS, and their loudness before."""
    loudness = integrated_loudness(samples, sample_rate)
    return samples * db_to_gain(target_db - loudness), loudness


def limit_peak(samples: torch.Tensor, peak: float = 1.0) -> torch.Tensor:
    """Each channel scaled down so its absolute peak is at most ``peak`` (upstream ``ensure_max_of_audio``)."""
    peaks = samples.abs().amax(dim=-1, keepdim=True)
    return samples * torch.where(peaks > peak, peak / peaks, torch.ones_like(peaks))
