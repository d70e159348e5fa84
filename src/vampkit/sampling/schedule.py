"""The cosine masking schedule: how many tokens stay masked after each decoding step."""

from __future__ import annotations

import math

import torch


def gamma(r: torch.Tensor) -> torch.Tensor:
    """Fraction left masked at progress ``r`` in (0, 1]: ``clamp(cos(pi r / 2), 1e-10, 1)`` (float32)."""
    return (r * math.pi / 2).cos().clamp(1e-10, 1.0)


def step_progress(step: int, steps: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``r = (step + 1) / steps`` as float32, as upstream computes it."""
    return torch.tensor((step + 1) / steps, dtype=torch.float32, device=device)


def schedule(steps: int) -> list[float]:
    """``gamma((i + 1) / steps)`` for every step, float32 values (the last is 1e-10)."""
    return [float(gamma(step_progress(i, steps))) for i in range(steps)]


def num_to_mask(step: int, steps: int, n_start: torch.Tensor, n_masked: torch.Tensor) -> torch.Tensor:
    """Per row: tokens left masked after ``step`` (upstream's k).

    ``floor(gamma(r) * n_start)``, then (except at the last step) clamped to
    ``[1, n_masked - 1]`` so each step commits at least one token and leaves at least one.
    """
    # the schedule is a CPU scalar (no device transfer per step); the product lands on n_start's device
    k = torch.floor(gamma(step_progress(step, steps)) * n_start).long()
    if step != steps - 1:
        k = torch.clamp(torch.minimum(n_masked - 1, k), min=1)
    return k


def masked_counts(steps: int, n_start: int) -> list[int]:
    """Tokens left masked after each step for one row where ``n_start`` tokens start masked and
    every step commits all it may (the deterministic sequence of spec 8.5 / 8.6)."""
    left = torch.tensor([n_start])
    start = torch.tensor([n_start])
    out = []
    for i in range(steps):
        left = num_to_mask(i, steps, start, left)
        out.append(int(left))
    return out
