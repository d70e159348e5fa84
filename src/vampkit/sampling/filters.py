"""Logit filters applied before sampling: top-k, top-p (nucleus) and typical filtering."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` highest logits of the last axis (ties at the k-th value kept), rest -inf."""
    if k >= logits.shape[-1]:
        return logits
    kth = logits.topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Nucleus filter as upstream: drop tokens past cumulative probability ``top_p``,
    keeping the first one to cross it (so the top token always survives)."""
    if top_p >= 1.0:
        return logits
    values, order = logits.sort(dim=-1, descending=True)
    cumulative = values.softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = F.pad(cumulative > top_p, (1, 0), value=False)[..., :-1]
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))


def typical_filter(logits: torch.Tensor, mass: float, min_tokens: int = 1) -> torch.Tensor:
    """Locally typical sampling (Meister et al. 2022): keep the tokens whose surprisal is
    closest to the entropy, up to probability ``mass`` (at least ``min_tokens``).

    Upstream calls a filter like this but discards its result; this one is applied.
    """
    logp = logits.log_softmax(dim=-1)
    p = logp.exp()
    entropy = -(logp * p).nansum(dim=-1, keepdim=True)
    score = (-logp - entropy).abs()
    score_sorted, order = score.sort(dim=-1)
    cumulative = p.gather(-1, order).cumsum(dim=-1)
    last = (cumulative < mass).sum(dim=-1, keepdim=True).clamp(max=logits.shape[-1] - 1)
    remove_sorted = score_sorted > score_sorted.gather(-1, last)
    remove_sorted[..., :min_tokens] = False
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))
