"""Built-in mask generators. Each is a frozen attrs class registered through ``register_masks``."""

from .codebooks import Codebooks
from .combinators import AllOf, AnyOf, Not
from .periodic import Periodic
from .random import Dropout, RandomMask
from .spec import MaskGenerator, build_mask_generator
from .time import Inpaint, Prefix, Region, Suffix

__all__ = [
    "AllOf",
    "AnyOf",
    "Codebooks",
    "Dropout",
    "Inpaint",
    "MaskGenerator",
    "Not",
    "Periodic",
    "Prefix",
    "RandomMask",
    "Region",
    "Suffix",
    "build_mask_generator",
]
