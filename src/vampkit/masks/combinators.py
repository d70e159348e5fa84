"""Combine prompts: all-of (prompts add up), any-of (prompts intersect), not (swap)."""

from __future__ import annotations

from functools import reduce

import attrs

from ..context import MaskContext
from ..mask import Mask
from .spec import MaskGenerator, nested_mask, nested_masks


@attrs.frozen
class AllOf:
    """Keep every token that any member keeps: the prompts add up (upstream mask_and).

    Generates only where all members generate. With no members: generate everything.
    """

    name = "all-of"

    masks: tuple[MaskGenerator, ...] = nested_masks(doc="the masks whose prompts are combined")

    def __call__(self, ctx: MaskContext) -> Mask:
        return reduce(lambda a, b: a & b, (m(ctx) for m in self.masks), Mask(ctx.full()))


@attrs.frozen
class AnyOf:
    """Keep only tokens that every member keeps: the prompts intersect (upstream mask_or).

    Generates where any member generates. With no members: keep everything.
    """

    name = "any-of"

    masks: tuple[MaskGenerator, ...] = nested_masks(doc="the masks whose prompts are intersected")

    def __call__(self, ctx: MaskContext) -> Mask:
        return reduce(lambda a, b: a | b, (m(ctx) for m in self.masks), Mask(~ctx.full()))


@attrs.frozen
class Not:
    """Swap kept and generated tokens of a mask (no mask given: keep everything)."""

    name = "not"

    mask: MaskGenerator | None = nested_mask(doc="the mask to invert", positional=True)

    def __call__(self, ctx: MaskContext) -> Mask:
        return ~(self.mask(ctx) if self.mask is not None else Mask(ctx.full()))
