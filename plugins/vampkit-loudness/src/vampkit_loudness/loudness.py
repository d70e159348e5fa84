"""The loudness prompt: keep token frames whose RMS level is above a threshold."""

from __future__ import annotations

import math
from typing import Literal

import attrs
import torch

import vampkit

#: RMS floor for the dB conversion (digital silence reads as -200 dB, not -inf)
_FLOOR = 1e-10


def frame_levels_db(audio: torch.Tensor, n_frames: int, hop_length: int) -> torch.Tensor:
    """RMS level in dB re full scale of each ``hop_length``-sample frame, ``(n_frames,)``.

    Channels are averaged first; audio shorter than the grid is padded with silence, longer
    audio is cut at the grid's end.
    """
    if audio.dim() == 1:
        audio = audio.unsqueeze(0)
    if audio.dim() != 2:
        raise vampkit.AudioError(
            f"loudness: the context's audio must be shaped (channels, samples), got {tuple(audio.shape)}"
        )
    mono = audio.to(torch.float64).mean(dim=0)
    wanted = n_frames * hop_length
    if mono.numel() < wanted:
        mono = torch.nn.functional.pad(mono, (0, wanted - mono.numel()))
    frames = mono[:wanted].reshape(n_frames, hop_length)
    rms = frames.pow(2).mean(dim=1).sqrt()
    return 20.0 * torch.log10(rms.clamp_min(_FLOOR))


def _finite_at_most_zero(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not math.isfinite(value) or value > 0:
        raise vampkit.ParameterError(f"loudness: {attribute.name} must be a finite level <= 0 dB, got {value}")


def _quantile(instance: object, attribute: attrs.Attribute, value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise vampkit.ParameterError(f"loudness: {attribute.name} must be between 0 and 1, got {value}")


@attrs.frozen
class Loudness:
    """Keep the frames where the input is loud (RMS per token frame above a threshold).

    The threshold is `threshold_db` (dB re full scale), or, when `quantile` is given, that
    quantile of the input's own frame levels (0.7 keeps about the loudest 30 %).
    """

    name = "loudness"

    threshold_db: float = vampkit.param(
        -30.0, doc="keep frames whose RMS level is at least this (dB re full scale, <= 0)",
        validator=_finite_at_most_zero,
    )
    quantile: float | None = vampkit.param(
        None, doc="use this quantile (0-1) of the input's frame levels as the threshold instead",
        validator=_quantile,
    )
    keep: Literal["loud", "quiet"] = vampkit.param(
        "loud", doc="keep the frames above the threshold (loud) or below it (quiet)"
    )

    def __call__(self, ctx: vampkit.MaskContext) -> vampkit.Mask:
        levels = frame_levels_db(ctx.audio, ctx.n_frames, ctx.hop_length)
        if self.quantile is None:
            threshold = torch.tensor(self.threshold_db, dtype=levels.dtype)
        else:
            threshold = torch.quantile(levels, self.quantile)
        loud = levels >= threshold
        kept = loud if self.keep == "loud" else ~loud
        return vampkit.Mask(ctx.frames_mask(kept).to(ctx.device))
