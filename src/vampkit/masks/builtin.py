"""The built-in mask generators, registered through the same hook as any plugin's."""

from __future__ import annotations

from ..hookspecs import hookimpl
from .beat import Beat, Onset
from .codebooks import Codebooks
from .combinators import AllOf, AnyOf, Not
from .periodic import Periodic
from .random import Dropout, RandomMask
from .time import Inpaint, Prefix, Region, Suffix

BUILTIN_MASKS = (Periodic, Prefix, Suffix, Inpaint, Region, Codebooks, RandomMask, Dropout, AllOf, AnyOf, Not,
                 Beat, Onset)


@hookimpl
def register_masks(register):  # noqa: ANN001, ANN201 - hook signature
    for generator in BUILTIN_MASKS:
        register(generator)
