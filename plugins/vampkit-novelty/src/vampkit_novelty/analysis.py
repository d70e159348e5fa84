"""Spectral novelty: the half-wave rectified rise of log-magnitude spectra (spectral flux)."""

from __future__ import annotations

import attrs
import torch

import vampkit


def _curve(value: object) -> torch.Tensor:
    curve = torch.as_tensor(value, dtype=torch.float64).reshape(-1)
    if not bool(torch.isfinite(curve).all()):
        raise vampkit.AnalysisError("novelty: the curve has NaN or infinite values")
    return curve


@attrs.frozen(eq=False)
class Novelty:
    """A novelty curve, one value per analysis frame (frame ``i`` is at ``i / frame_rate`` s)."""

    curve: torch.Tensor = attrs.field(converter=_curve)
    frame_rate: float = attrs.field(converter=float)

    def __attrs_post_init__(self) -> None:
        if not self.frame_rate > 0:
            raise vampkit.AnalysisError(f"novelty: frame_rate must be > 0, got {self.frame_rate}")

    def peak_times(self, threshold: float) -> torch.Tensor:
        """Times (s) of local maxima at least ``threshold`` high: rises (from 0 before the start)
        that then hold or fall."""
        c = self.curve
        if c.numel() == 0:
            return torch.zeros(0, dtype=torch.float64)
        before = torch.cat([c.new_zeros(1), c[:-1]])  # no novelty before the start
        after = torch.cat([c[1:], c.new_full((1,), -torch.inf)])
        peaks = (c > before) & (c >= after) & (c >= threshold)
        return torch.nonzero(peaks).reshape(-1).to(torch.float64) / self.frame_rate


def spectral_novelty(audio: torch.Tensor, sample_rate: int, *, n_fft: int = 2048, hop: int = 512) -> Novelty:
    """Spectral flux of ``audio`` (``(channels, samples)`` or mono), normalised to a maximum of 1."""
    audio = torch.as_tensor(audio)
    if audio.dim() == 2:
        audio = audio.mean(dim=0)
    if audio.dim() != 1 or audio.numel() == 0:
        raise vampkit.AudioError(f"novelty: expected (channels, samples) audio, got shape {tuple(audio.shape)}")
    mono = audio.to(torch.float64)
    if mono.numel() < n_fft // 2 + 1:  # reflect padding needs this much
        mono = torch.nn.functional.pad(mono, (0, n_fft // 2 + 1 - mono.numel()))
    spectra = torch.stft(mono, n_fft=n_fft, hop_length=hop, window=torch.hann_window(n_fft, dtype=torch.float64),
                         center=True, return_complex=True).abs()
    log_spectra = torch.log1p(100.0 * spectra)
    flux = torch.relu(log_spectra[:, 1:] - log_spectra[:, :-1]).sum(dim=0)
    curve = torch.cat([flux.new_zeros(1), flux])
    peak = float(curve.max())
    return Novelty(curve / peak if peak > 0 else curve, sample_rate / hop)


def _positive(instance: object, attribute: attrs.Attribute, value: int) -> None:
    if value <= 0:
        raise vampkit.ParameterError(f"novelty analysis: {attribute.name} must be > 0, got {value}")


@attrs.frozen
class SpectralNovelty:
    """The ``novelty`` analysis: ``analysis(audio, sample_rate) -> Novelty`` (spectral flux)."""

    name = "novelty"

    n_fft: int = vampkit.param(2048, doc="STFT size in samples", validator=_positive)
    hop: int = vampkit.param(512, doc="STFT hop in samples (the curve's resolution)", validator=_positive)

    def __call__(self, audio: torch.Tensor, sample_rate: int, **options: object) -> Novelty:
        return spectral_novelty(audio, sample_rate, n_fft=self.n_fft, hop=self.hop)
