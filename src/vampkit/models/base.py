"""``TokenModel``: what the sampler needs from a masked token model, whatever its architecture."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from ..errors import ParameterError
from ..mask import Mask


@runtime_checkable
class TokenModel(Protocol):
    """A bidirectional masked token model over a ``(batch, codebook, frame)`` grid.

    The first ``n_conditioning_codebooks`` codebooks are given, never predicted; ``logits``
    scores the other ``n_predict_codebooks``. ``mask_token`` (upstream: ``vocab_size``) marks
    a position to generate. ``context_frames`` is the longest grid the model is run on at once.
    """

    name: str
    n_codebooks: int
    n_conditioning_codebooks: int
    n_predict_codebooks: int
    vocab_size: int
    mask_token: int
    context_frames: int

    def logits(self, codes: torch.Tensor, mask: Mask | None = None) -> torch.Tensor:
        """Unnormalised scores ``(batch, n_predict_codebooks, n_frames, vocab_size)``.

        ``codes`` may already hold ``mask_token``; with ``mask``, every True position is
        replaced by ``mask_token`` first.
        """
        ...


def masked_codes(model: TokenModel, codes: torch.Tensor, mask: Mask | None) -> torch.Tensor:
    """``codes`` checked against ``model``'s grid, with ``mask_token`` where ``mask`` is True."""
    if not isinstance(codes, torch.Tensor) or codes.dtype != torch.long or codes.dim() != 3:
        shape = tuple(codes.shape) if isinstance(codes, torch.Tensor) else type(codes).__name__
        raise ParameterError(f"{model.name}: codes must be a LongTensor (batch, codebooks, frames), got {shape}")
    if codes.shape[1] != model.n_codebooks:
        raise ParameterError(
            f"{model.name}: codes have {codes.shape[1]} codebooks, the model takes {model.n_codebooks}"
        )
    if mask is not None:
        if not isinstance(mask, Mask):
            raise ParameterError(f"{model.name}: mask must be a vampkit.Mask, got {type(mask).__name__}")
        if mask.shape[-2:] != tuple(codes.shape[1:]):
            raise ParameterError(f"{model.name}: mask shape {mask.shape} does not fit codes {tuple(codes.shape)}")
        tensor = mask.to(codes.device).batched(codes.shape[0]).tensor
        codes = codes.masked_fill(tensor, model.mask_token)
    return codes
