"""``Mask``: which tokens of a token grid the model generates (True) and which it keeps (False)."""

from __future__ import annotations

import math

import attrs
import torch

from .errors import ParameterError


def _as_bool_tensor(value: object) -> torch.Tensor:
    tensor = torch.as_tensor(value)
    if tensor.dtype != torch.bool:
        if tensor.is_floating_point() or tensor.is_complex():
            raise ParameterError(f"Mask needs a bool or 0/1 integer tensor, got dtype {tensor.dtype}")
        if tensor.numel() and not bool(((tensor == 0) | (tensor == 1)).all()):
            raise ParameterError("Mask values must be 0/1 (1 = generate, 0 = keep)")
        tensor = tensor.bool()
    if tensor.dim() not in (2, 3):
        raise ParameterError(
            f"Mask must be shaped (n_codebooks, n_frames) or (batch, n_codebooks, n_frames), "
            f"got {tuple(tensor.shape)}"
        )
    return tensor


@attrs.frozen(eq=False)
class Mask:
    """A boolean token mask: **True = the model generates this token, False = kept prompt token**.

    Shaped ``(n_codebooks, n_frames)`` or ``(batch, n_codebooks, n_frames)``. This is upstream
    VampNet's 1/0 convention. ``a & b`` generates only where both generate (their prompts add
    up, upstream ``mask_and``); ``a | b`` generates where either does (only tokens both keep
    stay prompts, upstream ``mask_or``); ``~a`` swaps kept and generated.
    """

    tensor: torch.Tensor = attrs.field(converter=_as_bool_tensor)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def full(cls, n_codebooks: int, n_frames: int, device: torch.device | str = "cpu") -> "Mask":
        """Generate everything (no prompt)."""
        return cls(torch.ones(n_codebooks, n_frames, dtype=torch.bool, device=device))

    @classmethod
    def empty(cls, n_codebooks: int, n_frames: int, device: torch.device | str = "cpu") -> "Mask":
        """Keep everything (nothing generated)."""
        return cls(torch.zeros(n_codebooks, n_frames, dtype=torch.bool, device=device))

    @classmethod
    def from_upstream(cls, mask: torch.Tensor) -> "Mask":
        """From upstream VampNet's integer mask (1 = generate, 0 = keep)."""
        return cls(mask)

    def to_upstream(self) -> torch.Tensor:
        """Upstream VampNet's ``long`` mask: 1 = generate, 0 = keep."""
        return self.tensor.long()

    # -- shape --------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.tensor.shape)

    @property
    def n_codebooks(self) -> int:
        return self.tensor.shape[-2]

    @property
    def n_frames(self) -> int:
        return self.tensor.shape[-1]

    @property
    def is_batched(self) -> bool:
        return self.tensor.dim() == 3

    @property
    def device(self) -> torch.device:
        return self.tensor.device

    def batched(self, batch: int = 1) -> "Mask":
        """This mask as ``(batch, n_codebooks, n_frames)``; an unbatched mask is repeated."""
        if self.is_batched:
            if self.tensor.shape[0] == batch:
                return self
            if self.tensor.shape[0] != 1:
                raise ParameterError(f"cannot expand a mask of batch {self.tensor.shape[0]} to {batch}")
            return Mask(self.tensor.expand(batch, -1, -1).clone())
        return Mask(self.tensor.unsqueeze(0).expand(batch, -1, -1).clone())

    def to(self, device: torch.device | str) -> "Mask":
        return Mask(self.tensor.to(device))

    # -- algebra ------------------------------------------------------------------------
    def __and__(self, other: "Mask") -> "Mask":
        return Mask(self.tensor & _tensor_of(other))

    def __or__(self, other: "Mask") -> "Mask":
        return Mask(self.tensor | _tensor_of(other))

    def __invert__(self) -> "Mask":
        return Mask(~self.tensor)

    def equals(self, other: "Mask") -> bool:
        """Same shape and same values."""
        other_t = _tensor_of(other)
        return self.tensor.shape == other_t.shape and bool(torch.equal(self.tensor, other_t.to(self.device)))

    # -- measures -----------------------------------------------------------------------
    @property
    def kept(self) -> torch.Tensor:
        """Boolean tensor of the prompt (kept) tokens: ``~tensor``."""
        return ~self.tensor

    def kept_fraction(self) -> float:
        """Fraction of tokens kept as prompt (0 = generate everything, 1 = keep everything)."""
        if self.tensor.numel() == 0:
            return 0.0
        return float((~self.tensor).float().mean())

    def kept_tokens(self) -> float:
        """Kept tokens per batch item (the mean over the batch for a batched mask)."""
        kept = int((~self.tensor).sum())
        return kept / (self.tensor.shape[0] if self.is_batched else 1)

    def bitrate(self, frame_rate: float, codebook_size: int) -> float:
        """Prompt bitrate in bits/s: kept tokens x log2(codebook size) / duration.

        This is what the prompt costs when VampNet is used as a codec (compression prompts).
        """
        if frame_rate <= 0 or codebook_size < 2:
            raise ParameterError("bitrate needs frame_rate > 0 and codebook_size >= 2")
        if self.n_frames == 0:
            return 0.0
        duration = self.n_frames / frame_rate
        return self.kept_tokens() * math.log2(codebook_size) / duration


def _tensor_of(other: object) -> torch.Tensor:
    if isinstance(other, Mask):
        return other.tensor
    raise TypeError(f"expected a vampkit.Mask, got {type(other).__name__}")
