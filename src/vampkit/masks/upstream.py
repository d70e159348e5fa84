"""Upstream VampNet's mask builders by their upstream names, on token grids ``z [B, C, T]``.

For porting code and checking parity: each returns upstream's ``long`` mask (1 = generate,
0 = keep), built with the same vectorised helpers as the generators (``periodic``,
``inpaint``, ``codebooks``...). Randomness comes from an explicit ``generator`` instead of
upstream's global RNG, so seeded results match the generators', not upstream's bit stream.
"""

from __future__ import annotations

import torch

from ..errors import ParameterError
from .periodic import periodic_kept_frames


def _shape(z: torch.Tensor) -> tuple[int, int, int]:
    if z.dim() != 3:
        raise ParameterError(f"expected a token grid [batch, codebooks, frames], got {tuple(z.shape)}")
    return z.shape[0], z.shape[1], z.shape[2]


def _frames(z: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    batch, n_codebooks, _ = _shape(z)
    return (~kept).long().to(z.device).expand(batch, n_codebooks, -1).clone()


def full_mask(z: torch.Tensor) -> torch.Tensor:
    """Generate everything."""
    return torch.ones_like(z, dtype=torch.long)


def empty_mask(z: torch.Tensor) -> torch.Tensor:
    """Keep everything."""
    return torch.zeros_like(z, dtype=torch.long)


def periodic_mask(z: torch.Tensor, period: int, width: int = 1, random_roll: bool = False,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Keep frames within ``width // 2`` of every multiple of ``period``; ``period == 0``
    generates everything. ``random_roll`` rolls by ``randint(0, period)`` drawn from
    ``generator``."""
    _, _, n_frames = _shape(z)
    kept = periodic_kept_frames(n_frames, int(period), int(width))
    if period and random_roll:
        kept = torch.roll(kept, int(torch.randint(0, int(period), (1,), generator=generator)))
    return _frames(z, kept)


def inpaint(z: torch.Tensor, n_prefix: int, n_suffix: int) -> torch.Tensor:
    """Keep the first ``n_prefix`` and the last ``n_suffix`` frames (0 leaves a side alone)."""
    _, _, n_frames = _shape(z)
    t = torch.arange(n_frames)
    kept = (t < n_prefix) | ((t >= n_frames - n_suffix) if n_suffix > 0 else torch.zeros_like(t, dtype=torch.bool))
    return _frames(z, kept)


def codebook_mask(mask: torch.Tensor, start: int) -> torch.Tensor:
    """Generate every codebook from ``start`` up (upstream's ``upper_codebook_mask``)."""
    out = mask.clone().long()
    out[:, start:, :] = 1
    return out


def codebook_unmask(mask: torch.Tensor, n: int | None) -> torch.Tensor:
    """Keep the ``n`` lowest codebooks everywhere (``None``: unchanged)."""
    out = mask.clone().long()
    if n is not None:
        out[:, :n, :] = 0
    return out


def mask_and(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Generate only where both generate: the prompts add up."""
    return torch.minimum(a.long(), b.long())


def mask_or(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Generate where either generates: only tokens both keep stay prompts."""
    return (a.long() + b.long()).clamp(0, 1)


def linear_random(z: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Generate each token independently with probability ``p``."""
    draws = torch.rand(z.shape, generator=generator)
    return (draws < p).long().to(z.device)
