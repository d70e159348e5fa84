"""``Prompt``: a token grid plus the ``Mask`` saying which of its tokens the model re-generates."""

from __future__ import annotations

import attrs
import torch

from .errors import ParameterError
from .mask import Mask


def _as_codes(value: object) -> torch.Tensor:
    codes = torch.as_tensor(value)
    if codes.dtype != torch.long:
        if codes.is_floating_point():
            raise ParameterError(f"Prompt codes must be integer token ids, got dtype {codes.dtype}")
        codes = codes.long()
    if codes.dim() == 2:
        codes = codes.unsqueeze(0)
    if codes.dim() != 3:
        raise ParameterError(f"Prompt codes must be (batch, n_codebooks, n_frames), got {tuple(codes.shape)}")
    return codes


@attrs.frozen(eq=False)
class Prompt:
    """Codes ``(batch, n_codebooks, n_frames)`` + a ``Mask`` (True = generate) + the grid's units.

    The mask may be unbatched ``(n_codebooks, n_frames)``: it then applies to every batch item.
    """

    codes: torch.Tensor = attrs.field(converter=_as_codes)
    mask: Mask = attrs.field()
    frame_rate: float = attrs.field(converter=float)
    codebook_size: int = attrs.field(converter=int)

    @mask.validator
    def _check_mask(self, _attribute: attrs.Attribute, mask: Mask) -> None:
        if not isinstance(mask, Mask):
            raise ParameterError(f"Prompt.mask must be a vampkit.Mask, got {type(mask).__name__}")
        if mask.shape[-2:] != self.codes.shape[-2:] or (
            mask.is_batched and mask.shape[0] not in (1, self.codes.shape[0])
        ):
            raise ParameterError(
                f"mask shape {mask.shape} does not fit codes shape {tuple(self.codes.shape)}"
            )

    @codebook_size.validator
    def _check_codebook_size(self, _attribute: attrs.Attribute, size: int) -> None:
        if size < 2:
            raise ParameterError(f"codebook_size must be >= 2, got {size}")
        if self.codes.numel():
            lo, hi = int(self.codes.min()), int(self.codes.max())
            if lo < 0 or hi > size:  # == size is the mask token, allowed in generated positions
                raise ParameterError(f"codes must lie in [0, {size}) (got values in [{lo}, {hi}])")

    @property
    def mask_token(self) -> int:
        """The id fed to the model for a generated position (upstream: ``vocab_size``)."""
        return self.codebook_size

    @property
    def batch_size(self) -> int:
        return self.codes.shape[0]

    @property
    def n_codebooks(self) -> int:
        return self.codes.shape[1]

    @property
    def n_frames(self) -> int:
        return self.codes.shape[2]

    @property
    def duration(self) -> float:
        """Seconds covered by the grid."""
        return self.n_frames / self.frame_rate

    def batched_mask(self) -> Mask:
        """The mask expanded to the codes' batch size."""
        return self.mask.to(self.codes.device).batched(self.codes.shape[0])

    def model_input(self) -> torch.Tensor:
        """Codes with ``mask_token`` in every generated position: what the model sees."""
        mask = self.batched_mask().tensor
        return torch.where(mask, torch.full_like(self.codes, self.mask_token), self.codes)

    def kept_fraction(self) -> float:
        return self.mask.kept_fraction()

    def bitrate(self) -> float:
        """Prompt bitrate in bits/s (see ``Mask.bitrate``)."""
        return self.mask.bitrate(self.frame_rate, self.codebook_size)

    def with_mask(self, mask: Mask) -> "Prompt":
        return attrs.evolve(self, mask=mask)

    def with_codes(self, codes: torch.Tensor) -> "Prompt":
        return attrs.evolve(self, codes=codes)
