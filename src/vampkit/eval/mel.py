"""Multi-scale mel distance equal to audiotools' ``MelSpectrogramLoss()`` with its defaults.

What upstream VampNet's ``eval.py`` scores each file with, written in torch so evaluating
needs neither audiotools nor librosa: per scale a Hann-window STFT (window w, hop w/4,
centred, reflect padding), magnitudes through a Slaney mel filterbank (librosa's default,
fmin 0, fmax Nyquist), then ``L1(log10(clamp(mel, 1e-5) ** 2))`` plus ``L1(mel)``, summed
over the scales (150 mels at 2048, 80 mels at 512).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from ..errors import ParameterError

N_MELS = (150, 80)
WINDOW_LENGTHS = (2048, 512)
CLAMP_EPS = 1e-5
POW = 2.0
MAG_WEIGHT = 1.0
LOG_WEIGHT = 1.0

_F_SP = 200.0 / 3  # Slaney's linear part: 200/3 Hz per mel below 1 kHz
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel scale (librosa's default, ``htk=False``)."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _F_SP
    return np.where(hz >= _MIN_LOG_HZ, _MIN_LOG_MEL + np.log(np.maximum(hz, 1e-12) / _MIN_LOG_HZ) / _LOGSTEP, linear)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel - _MIN_LOG_MEL)), _F_SP * mel)


@functools.lru_cache(maxsize=16)
def mel_filters(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> torch.Tensor:
    """Slaney-normalised triangular filters ``[n_mels, 1 + n_fft // 2]`` (float32), as librosa."""
    fmax = sample_rate / 2 if fmax is None else fmax
    fft_freqs = np.linspace(0, sample_rate / 2, 1 + n_fft // 2)
    mel_freqs = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper)).astype(np.float32)
    weights *= (2.0 / (mel_freqs[2:] - mel_freqs[:-2]))[:, None]
    return torch.from_numpy(weights.astype(np.float32))


@functools.lru_cache(maxsize=8)
def _window(length: int) -> torch.Tensor:
    return torch.hann_window(length, periodic=True, dtype=torch.float32)  # scipy's get_window("hann")


def mel_spectrogram(audio: torch.Tensor, sample_rate: int, n_mels: int, window_length: int) -> torch.Tensor:
    """Mel magnitudes ``[..., n_mels, frames]`` of ``audio [..., samples]`` as audiotools computes them."""
    flat = audio.reshape(-1, audio.shape[-1]).to(torch.float32)
    if flat.shape[-1] <= window_length // 2:
        raise ParameterError(f"mel distance needs more than {window_length // 2} samples, got {flat.shape[-1]}")
    spec = torch.stft(flat, n_fft=window_length, hop_length=window_length // 4,
                      window=_window(window_length).to(flat.device), center=True, pad_mode="reflect",
                      return_complex=True).abs()
    basis = mel_filters(int(sample_rate), window_length, n_mels).to(flat.device)
    mel = (spec.transpose(-1, -2) @ basis.T).transpose(-1, -2)
    return mel.reshape(*audio.shape[:-1], n_mels, mel.shape[-1])


def mel_distance(estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int) -> float:
    """audiotools ``MelSpectrogramLoss()(estimate, reference)`` for same-shaped audio tensors."""
    if estimate.shape != reference.shape:
        raise ParameterError(f"mel distance: shapes differ: {tuple(estimate.shape)} vs {tuple(reference.shape)}")
    total = 0.0
    with torch.no_grad():
        for n_mels, window in zip(N_MELS, WINDOW_LENGTHS):
            x = mel_spectrogram(estimate, sample_rate, n_mels, window)
            y = mel_spectrogram(reference, sample_rate, n_mels, window)
            log_x = x.clamp(CLAMP_EPS).pow(POW).log10()
            log_y = y.clamp(CLAMP_EPS).pow(POW).log10()
            total += LOG_WEIGHT * float((log_x - log_y).abs().mean()) + MAG_WEIGHT * float((x - y).abs().mean())
    return total
