"""The periodic prompt: keep a window of frames every ``period`` frames."""

from __future__ import annotations

import attrs
import torch

from ..context import MaskContext
from ..errors import ParameterError
from ..mask import Mask
from ..params import param
from ..validators import non_negative


def periodic_kept_frames(n_frames: int, period: int, width: int) -> torch.Tensor:
    """Bool ``(n_frames,)``: frames within ``width // 2`` of a multiple of ``period`` inside the
    grid (upstream ``periodic_mask`` before its roll; ``period == 0`` keeps nothing)."""
    if period == 0:
        return torch.zeros(n_frames, dtype=torch.bool)
    t = torch.arange(n_frames)
    half = width // 2
    r = t % period
    after_previous = r <= half  # the multiple t - r >= 0 always exists
    before_next = ((period - r) <= half) & (t + period - r <= n_frames - 1)
    return after_previous | before_next


@attrs.frozen
class Periodic:
    """Keep one window of frames every `period` frames in all codebooks (periodic prompt)."""

    name = "periodic"

    period: int = param(7, doc="frames between kept windows; 0 keeps nothing (unconditional)",
                        validator=non_negative)
    width: int = param(1, doc="window width in frames (kept: 2*(width//2)+1 frames, as upstream)",
                       validator=non_negative)
    offset: int = param(0, doc="shift the pattern right by this many frames (circular, as upstream's roll)",
                        validator=non_negative)
    random_offset: bool = param(False, doc="draw the shift from [0, period) with the seeded generator")

    def __attrs_post_init__(self) -> None:
        if self.period and self.width > self.period:
            raise ParameterError(f"periodic: width ({self.width}) must not exceed period ({self.period})")

    def __call__(self, ctx: MaskContext) -> Mask:
        kept = periodic_kept_frames(ctx.n_frames, self.period, self.width)
        if self.period:
            shift = self.offset
            if self.random_offset:
                shift += int(torch.randint(0, self.period, (1,), generator=ctx.generator))
            kept = torch.roll(kept, shifts=shift % ctx.n_frames if ctx.n_frames else 0)
        return Mask(ctx.frames_mask(kept))
