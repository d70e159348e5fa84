"""Learning-rate schedules: upstream's Noam schedule and a constant rate after linear warmup."""

from __future__ import annotations


def noam_lr(update: int, d_model: int, factor: float = 2.0, warmup: int = 10000) -> float:
    """Upstream's ``factor * d^-0.5 * min(n^-0.5, n * warmup^-1.5)`` for update ``n >= 1``."""
    n = max(int(update), 1)
    if warmup <= 0:
        return factor * d_model ** -0.5 * n ** -0.5
    return factor * d_model ** -0.5 * min(n ** -0.5, n * warmup ** -1.5)


def constant_lr(update: int, lr: float, warmup: int) -> float:
    """``lr``, ramped linearly over the first ``warmup`` updates."""
    if warmup <= 0:
        return lr
    return lr * min(1.0, max(int(update), 1) / warmup)
