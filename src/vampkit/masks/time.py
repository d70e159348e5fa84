"""Prompts defined by time: prefix, suffix, inpaint (keep both ends), region (generate a span)."""

from __future__ import annotations

import attrs
import torch

from ..context import MaskContext
from ..errors import ParameterError
from ..mask import Mask
from ..params import param
from ..validators import check_within_grid, duration


def _span(n_frames: int, start: int, stop: int) -> torch.Tensor:
    t = torch.arange(n_frames)
    return (t >= start) & (t < stop)


@attrs.frozen
class Prefix:
    """Keep the first `seconds` of the input; generate the rest (continuation)."""

    name = "prefix"

    seconds: float = param(1.0, doc="seconds kept at the start", validator=duration)

    def __call__(self, ctx: MaskContext) -> Mask:
        frames = ctx.seconds_to_frames(self.seconds)
        check_within_grid(self, "seconds", frames, ctx.n_frames, self.seconds)
        return Mask(ctx.frames_mask(_span(ctx.n_frames, 0, frames)))


@attrs.frozen
class Suffix:
    """Keep the last `seconds` of the input; generate what comes before."""

    name = "suffix"

    seconds: float = param(1.0, doc="seconds kept at the end", validator=duration)

    def __call__(self, ctx: MaskContext) -> Mask:
        frames = ctx.seconds_to_frames(self.seconds)
        check_within_grid(self, "seconds", frames, ctx.n_frames, self.seconds)
        return Mask(ctx.frames_mask(_span(ctx.n_frames, ctx.n_frames - frames, ctx.n_frames)))


@attrs.frozen
class Inpaint:
    """Keep `prefix` seconds at the start and `suffix` at the end; generate the middle."""

    name = "inpaint"

    prefix: float = param(1.0, doc="seconds kept at the start", validator=duration)
    suffix: float = param(1.0, doc="seconds kept at the end", validator=duration)

    def __call__(self, ctx: MaskContext) -> Mask:
        head = ctx.seconds_to_frames(self.prefix)
        tail = ctx.seconds_to_frames(self.suffix)
        if head + tail > ctx.n_frames:
            raise ParameterError(
                f"inpaint: prefix={self.prefix} s + suffix={self.suffix} s is past the end of the "
                f"input ({ctx.duration:.3f} s, {ctx.n_frames} frames)"
            )
        kept = _span(ctx.n_frames, 0, head) | _span(ctx.n_frames, ctx.n_frames - tail, ctx.n_frames)
        return Mask(ctx.frames_mask(kept))


@attrs.frozen
class Region:
    """Generate between `start` and `end` seconds; keep everything else (inpaint a span)."""

    name = "region"

    start: float = param(0.0, doc="start of the regenerated span (s)", validator=duration)
    end: float = param(1.0, doc="end of the regenerated span (s)", validator=duration)

    def __attrs_post_init__(self) -> None:
        if self.end <= self.start:
            raise ParameterError(f"region: end ({self.end}) must be after start ({self.start})")

    def __call__(self, ctx: MaskContext) -> Mask:
        first = ctx.seconds_to_frames(self.start)
        stop = ctx.seconds_to_frames(self.end)
        check_within_grid(self, "end", stop, ctx.n_frames, self.end)
        return Mask(ctx.frames_mask(~_span(ctx.n_frames, first, stop)))
