"""The novelty prompt: keep the token frames around the peaks of the input's novelty curve."""

from __future__ import annotations

import attrs
import torch

import vampkit

from .analysis import Novelty, spectral_novelty


def _unit_interval(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise vampkit.ParameterError(f"novelty: {attribute.name} must be between 0 and 1, got {value}")


def _non_negative(instance: object, attribute: attrs.Attribute, value: int) -> None:
    if value < 0:
        raise vampkit.ParameterError(f"novelty: {attribute.name} must be >= 0, got {value}")


def frames_around(n_frames: int, centres: torch.Tensor, width: int) -> torch.Tensor:
    """Bool ``(n_frames,)``: frames within ``width`` of any centre frame (centres off the grid are dropped)."""
    marks = torch.zeros(1, 1, n_frames, dtype=torch.float32)
    centres = centres[(centres >= 0) & (centres < n_frames)]
    marks[0, 0, centres] = 1.0
    spread = torch.nn.functional.max_pool1d(marks, kernel_size=2 * width + 1, stride=1, padding=width)
    return spread[0, 0] > 0


@attrs.frozen
class NoveltyPeaks:
    """Keep `width` frames on each side of every novelty peak above `threshold`; generate the rest.

    The novelty curve is the context's `analysis` (the plugin's ``novelty`` analysis), or is
    computed from the context's audio when the context has no such analysis.
    """

    name = "novelty"

    threshold: float = vampkit.param(0.3, doc="keep around peaks at least this high (curve maximum: 1)",
                                     validator=_unit_interval)
    width: int = vampkit.param(2, doc="token frames kept on each side of a peak", validator=_non_negative)
    analysis: str = vampkit.param("novelty", doc="name of the context analysis holding the novelty curve")

    def novelty(self, ctx: vampkit.MaskContext) -> Novelty:
        """The curve from the context's analysis, else computed from its audio."""
        if ctx.has_analysis(self.analysis):
            value = ctx.analysis(self.analysis)
            if not isinstance(value, Novelty):
                raise vampkit.AnalysisError(
                    f"novelty: the '{self.analysis}' analysis gave {type(value).__name__}, expected a Novelty"
                )
            return value
        return spectral_novelty(ctx.audio, ctx.sample_rate)

    def __call__(self, ctx: vampkit.MaskContext) -> vampkit.Mask:
        times = self.novelty(ctx).peak_times(self.threshold)
        centres = torch.floor(times * ctx.sample_rate / ctx.hop_length).to(torch.int64)
        kept = frames_around(ctx.n_frames, centres, self.width)
        return vampkit.Mask(ctx.frames_mask(kept))
