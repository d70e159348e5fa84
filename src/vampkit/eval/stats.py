"""Per-condition aggregates: mean with a percentile bootstrap 95% interval over excerpts."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

BOOTSTRAP_RESAMPLES = 1000


def bootstrap_mean(values: Sequence[float], *, seed: int = 0, resamples: int = BOOTSTRAP_RESAMPLES,
                   level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of the finite values and a percentile bootstrap interval
    (seeded, so the same values give the same interval). NaNs are left out; none left: NaNs."""
    finite = torch.tensor([v for v in values if v is not None and math.isfinite(v)], dtype=torch.float64)
    if finite.numel() == 0:
        return math.nan, math.nan, math.nan
    mean = float(finite.mean())
    if finite.numel() == 1:
        return mean, mean, mean
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(0, finite.numel(), (resamples, finite.numel()), generator=generator)
    means = finite[picks].mean(dim=1)
    tail = (1 - level) / 2
    low, high = torch.quantile(means, torch.tensor([tail, 1 - tail], dtype=torch.float64)).tolist()
    return mean, float(low), float(high)
