"""Checks of codec checkpoint kwargs.

Reading the file (``read_checkpoint``, weights only, no pickled code) and loading its tensors
strictly into a module (``load_strict``) live in ``vampkit.checkpoint``, the one place for both;
they are re-exported here for the codecs."""

from __future__ import annotations

import math
from typing import Any

from ..checkpoint import RawCheckpoint, load_strict, read_checkpoint
from ..errors import CheckpointError

__all__ = ["RawCheckpoint", "check_product", "codebook_dims", "load_strict", "positive_int", "positive_ints",
           "read_checkpoint"]


def positive_int(checkpoint: RawCheckpoint, key: str, default: Any = None) -> int:
    """The kwarg ``key`` as a positive int, or a CheckpointError naming it."""
    value = checkpoint.kwargs.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise CheckpointError(f"checkpoint '{checkpoint.path}': kwarg '{key}' must be a positive int, got {value!r}")
    return value


def positive_ints(checkpoint: RawCheckpoint, key: str, default: Any = None) -> list[int]:
    """The kwarg ``key`` as a non-empty list of positive ints, or a CheckpointError naming it."""
    value = checkpoint.kwargs.get(key, default)
    if (
        not isinstance(value, (list, tuple))
        or not value
        or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in value)
    ):
        raise CheckpointError(
            f"checkpoint '{checkpoint.path}': kwarg '{key}' must be a non-empty list of positive ints, got {value!r}"
        )
    return [int(v) for v in value]


def codebook_dims(checkpoint: RawCheckpoint, n_codebooks: int, default: Any = 8) -> list[int]:
    """``codebook_dim`` (an int or one per codebook) as a list of ``n_codebooks`` ints."""
    value = checkpoint.kwargs.get("codebook_dim", default)
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value] * n_codebooks
    if not isinstance(value, (list, tuple)) or len(value) != n_codebooks:
        raise CheckpointError(
            f"checkpoint '{checkpoint.path}': kwarg 'codebook_dim' must be an int or a list of "
            f"{n_codebooks} ints, got {value!r}"
        )
    if any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in value):
        raise CheckpointError(f"checkpoint '{checkpoint.path}': kwarg 'codebook_dim' has a non-positive entry: {value!r}")
    return [int(v) for v in value]


def check_product(checkpoint: RawCheckpoint, encoder_rates: list[int], decoder_rates: list[int]) -> int:
    """The hop length; a CheckpointError when encoder and decoder rates disagree on it."""
    hop, up = math.prod(encoder_rates), math.prod(decoder_rates)
    if hop != up:
        raise CheckpointError(
            f"checkpoint '{checkpoint.path}': encoder_rates {encoder_rates} downsample by {hop} but "
            f"decoder_rates {decoder_rates} upsample by {up}; they must agree"
        )
    return hop
