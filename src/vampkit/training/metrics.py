"""Upstream's training loss and the validation metrics, over masked positions only."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def masked_targets(codes: torch.Tensor, mask: torch.Tensor, n_conditioning: int) -> torch.Tensor:
    """Targets ``[B, P, T]`` of the predicted codebooks, ``-100`` (ignored) where not masked."""
    target = codes[:, n_conditioning:]
    return target.masked_fill(~mask[:, n_conditioning:], -100)


def loss_sum(scores: torch.Tensor, targets: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    """Summed cross-entropy (with label smoothing) over the masked positions of
    ``scores [B, T, P, vocab]`` (the model's output) against ``targets [B, P, T]``; divided by
    the masked count this is upstream's mean loss."""
    flat = scores.reshape(-1, scores.shape[-1]).float()
    return F.cross_entropy(flat, targets.transpose(1, 2).reshape(-1), ignore_index=-100,
                           reduction="sum", label_smoothing=label_smoothing)


def topk_hits(scores: torch.Tensor, targets: torch.Tensor, ks: tuple[int, ...] = (1, 25)) -> dict[int, int]:
    """How many masked targets are among the ``k`` best scores, for each ``k``."""
    flat = scores.reshape(-1, scores.shape[-1])
    target = targets.transpose(1, 2).reshape(-1)
    keep = target != -100
    flat, target = flat[keep], target[keep]
    if not len(target):
        return {k: 0 for k in ks}
    top = flat.topk(min(max(ks), flat.shape[-1]), dim=-1).indices
    return {k: int((top[:, :k] == target[:, None]).any(-1).sum()) for k in ks}
