"""Strict loading of codec checkpoint tensors into a module, and checks of their kwargs.

Reading the file is ``vampkit.checkpoint.read_checkpoint`` (weights only, no pickled code)."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..checkpoint import RawCheckpoint, read_checkpoint
from ..errors import CheckpointError

__all__ = ["RawCheckpoint", "check_product", "codebook_dims", "load_strict", "positive_int", "positive_ints",
           "read_checkpoint"]

_LIST_LIMIT = 8


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:_LIST_LIMIT])
    return shown + (f" ... ({len(keys)} in all)" if len(keys) > _LIST_LIMIT else "")


def load_strict(module: torch.nn.Module, checkpoint: RawCheckpoint, *, what: str) -> None:
    """Put every tensor of ``checkpoint`` into ``module`` (built on any device, meta included);
    a missing, unexpected, mis-shaped, non-float or non-finite tensor is a CheckpointError."""
    expected = module.state_dict()
    given = checkpoint.state_dict
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    problems = []
    if missing:
        problems.append(f"missing keys: {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_listing(unexpected)}")
    shapes = [
        f"{key} (file {list(given[key].shape)}, expected {list(expected[key].shape)})"
        for key in sorted(set(expected) & set(given))
        if tuple(given[key].shape) != tuple(expected[key].shape)
    ]
    if shapes:
        problems.append(f"wrong shapes: {_listing(shapes)}")
    if problems:
        raise CheckpointError(
            f"checkpoint '{checkpoint.path}' does not fit a {what} built from its kwargs: " + "; ".join(problems)
        )
    tensors = {}
    for key, value in given.items():
        if not value.is_floating_point():
            raise CheckpointError(f"checkpoint '{checkpoint.path}': tensor '{key}' has dtype {value.dtype}, not float")
        value = value.to(torch.float32).contiguous()
        if not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"checkpoint '{checkpoint.path}': tensor '{key}' holds NaN or infinite values")
        tensors[key] = value
    module.load_state_dict(tensors, strict=True, assign=True)


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
