"""The compression prompt: keep only the lowest codebooks."""

from __future__ import annotations

import attrs

from ..context import MaskContext
from ..errors import ParameterError
from ..mask import Mask
from ..params import param
from ..validators import non_negative


@attrs.frozen
class Codebooks:
    """Keep only the lowest `keep` codebooks (compression prompt, upstream upper_codebook_mask).

    On its own it keeps those codebooks in every frame; inside `any-of` with another prompt
    it keeps them only where that prompt keeps (upstream ``codebook_mask(mask, keep)``).
    """

    name = "codebooks"

    keep: int = param(4, doc="number of lowest codebooks kept", validator=non_negative)

    def __call__(self, ctx: MaskContext) -> Mask:
        if self.keep > ctx.n_codebooks:
            raise ParameterError(
                f"codebooks: keep={self.keep} is more than the grid's {ctx.n_codebooks} codebooks"
            )
        tensor = ctx.full()
        tensor[: self.keep] = False
        return Mask(tensor)
