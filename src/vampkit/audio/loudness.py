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
BLOCK_SECONDS = 0.4  # BS.1770 gating blocks: 400 ms, 75% overlap
BLOCK_HOP_SECONDS = 0.1
_MIN_SECONDS = 0.5


def _k_weighting(rate: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
    meter = pyloudnorm.Meter(rate)  # the same filter designs audiotools takes from pyloudnorm
    return [(f.b, f.a, f.passband_gain) for f in meter._filters.values()]  # noqa: SLF001 - pyloudnorm keeps them private


def block_energies(samples: torch.Tensor, sample_rate: int, *, min_seconds: float = 0.0) -> np.ndarray:
    """K-weighted mean square of ``samples [channels, n]`` (or ``[n]``) per 400 ms block, hop
    100 ms (BS.1770): ``float64 [channels, n_blocks]``. Audio shorter than ``min_seconds`` is
    treated as padded with silence to that length."""
    data = samples.detach().to("cpu", torch.float64)
    if data.ndim == 1:
        data = data[None]
    channels, length = data.shape
    kernel = int(BLOCK_SECONDS * sample_rate)
    stride = int(BLOCK_HOP_SECONDS * sample_rate)
    padded_length = max(length, int(min_seconds * sample_rate), kernel)
    n_blocks = math.ceil((padded_length - kernel) / stride) + 1
    total = (n_blocks - 1) * stride + kernel
    filters = _k_weighting(sample_rate)
    energy = np.zeros((channels, n_blocks))
    starts = np.arange(n_blocks) * stride
    for ch in range(channels):
        x = data[ch].numpy()
        for b, a, gain in filters:
            x = gain * scipy.signal.lfilter(b, a, x)
        csum = np.zeros(total + 1)
        np.cumsum(np.square(x), out=csum[1 : length + 1])
        csum[length + 1 :] = csum[length]
        energy[ch] = (csum[starts + kernel] - csum[starts]) / kernel
    return energy


def gated_loudness(energies: np.ndarray) -> float:
    """BS.1770 gated loudness (LUFS, floored at -70) of block energies ``[channels, n_blocks]``
    (or one channel's ``[n_blocks]``), channel weights already applied: absolute gate at -70,
    relative gate 10 LU below the loudness of the blocks that pass it."""
    weighted = np.asarray(energies, dtype=np.float64)
    if weighted.ndim == 1:
        weighted = weighted[None]
    if weighted.shape[1] == 0:
        return MIN_LOUDNESS_DB
    with np.errstate(divide="ignore", invalid="ignore"):
        block_loudness = -0.691 + 10.0 * np.log10(np.maximum(weighted.sum(0), 0.0))
        gated = block_loudness > MIN_LOUDNESS_DB
        if not gated.any():
            return MIN_LOUDNESS_DB
        relative = -0.691 + 10.0 * np.log10(weighted[:, gated].mean(1).sum()) - 10.0
        gated &= block_loudness > relative
        if not gated.any():
            return MIN_LOUDNESS_DB
        loudness = -0.691 + 10.0 * np.log10(weighted[:, gated].mean(1).sum())
    return float(max(loudness, MIN_LOUDNESS_DB))


def integrated_loudness(samples: torch.Tensor, sample_rate: int) -> float:
    """Loudness in LUFS of ``samples [channels, n]`` (up to 5 channels), floored at -70."""
    channels = samples.shape[0] if samples.ndim == 2 else 1
    if channels > len(_CHANNEL_GAINS):
        raise ValueError(f"loudness is defined for at most {len(_CHANNEL_GAINS)} channels, got {channels}")
    energy = block_energies(samples.detach().to(torch.float32), sample_rate, min_seconds=_MIN_SECONDS)
    return gated_loudness(np.asarray(_CHANNEL_GAINS[:channels])[:, None] * energy)


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
