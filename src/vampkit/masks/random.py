"""Seeded random prompts: random tokens, and dropout of an existing prompt's kept tokens."""

from __future__ import annotations

from typing import Literal

import attrs
import torch

from ..context import MaskContext
from ..mask import Mask
from ..params import param
from ..validators import probability
from .spec import MaskGenerator, nested_mask


@attrs.frozen
class RandomMask:
    """Generate each token independently with probability `p` (upstream linear_random)."""

    name = "random"

    p: float = param(0.5, doc="probability that a token is generated", validator=probability)

    def __call__(self, ctx: MaskContext) -> Mask:
        draws = torch.rand(ctx.n_codebooks, ctx.n_frames, generator=ctx.generator)
        return Mask(draws < self.p)


@attrs.frozen
class Dropout:
    """Turn about a fraction `p` of a prompt's kept tokens into generated ones (seeded).

    `unit: frame` (upstream main): int(n_frames * p) frames drawn with replacement are
    generated in every codebook. `unit: token` (upstream ismir-2023): each kept token is
    generated with probability p.
    """

    name = "dropout"

    p: float = param(0.1, doc="fraction of kept tokens (or frames) turned into generated ones",
                     validator=probability)
    unit: Literal["frame", "token"] = param("frame", doc="drop whole frames or single tokens")
    mask: MaskGenerator | None = nested_mask(doc="the prompt to thin out (default: keep everything)")

    def __call__(self, ctx: MaskContext) -> Mask:
        base = self.mask(ctx).tensor if self.mask is not None else ~ctx.full()
        if self.unit == "token":
            dropped = torch.rand(base.shape, generator=ctx.generator) < self.p
        else:
            frames = torch.randint(0, ctx.n_frames, (int(ctx.n_frames * self.p),), generator=ctx.generator)
            dropped_frames = torch.zeros(ctx.n_frames, dtype=torch.bool)
            dropped_frames[frames] = True
            dropped = dropped_frames.expand(base.shape)
        return Mask(base | dropped)
