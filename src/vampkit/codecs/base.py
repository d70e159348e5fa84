"""The ``Codec`` interface: audio <-> integer token grids ``[batch, codebook, frame]``.

Concrete codecs implement ``_encode_padded``/``_decode_codes`` on hop-aligned chunks; this base
class does the checking, resampling, padding and the chunking shared by every codec.
"""

from __future__ import annotations

import abc
import math
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import torch

from ..errors import CodecError, ParameterError
from .chunking import chunked_decode, chunked_encode

if TYPE_CHECKING:
    from .checkpoint import RawCheckpoint

#: inputs longer than this many seconds are chunked when ``chunk_seconds`` is left as None
AUTO_CHUNK_SECONDS = 60.0
#: chunk length used by the automatic chunking
DEFAULT_CHUNK_SECONDS = 20.0


class Codec(abc.ABC):
    """A neural audio codec. Subclasses set the attributes below in ``__init__`` and register
    through the ``register_codecs`` hook; ``load_codec`` calls their class methods."""

    name: ClassVar[str]
    sample_rate: int
    hop_length: int
    n_codebooks: int
    codebook_size: int
    codebook_dim: int
    #: frames of context each side that make a chunk's codes / audio equal the whole file's
    encode_margin: int
    decode_margin: int
    device: torch.device

    # -- loading (class methods used by vampkit.codecs.load_codec) --------------------------

    @classmethod
    def from_pretrained(cls, variant: str | None, device: str | torch.device = "cpu") -> Codec:
        """The published model ``variant`` (``"<name>:<variant>"`` specs), fetched if needed."""
        raise CodecError(f"codec '{cls.name}' has no published models to load by name")

    @classmethod
    def claims(cls, checkpoint: RawCheckpoint) -> bool:
        """Whether a checkpoint file is this codec's (decided from its keys and kwargs)."""
        return False

    @classmethod
    def from_checkpoint(cls, checkpoint: RawCheckpoint, device: str | torch.device = "cpu") -> Codec:
        """Build the codec from a checkpoint this class ``claims``."""
        raise CodecError(f"codec '{cls.name}' cannot load checkpoint files ('{checkpoint.path}')")

    def speed_up(self, precision: str = "fp32", compile: bool = False) -> None:
        """Reduced precision / compiled decoding, where the codec offers it; this default runs
        float32 eager and says so with a warning when asked for more."""
        if precision not in ("fp32", "auto") or compile:
            import warnings

            warnings.warn(f"codec '{self.name}' has no reduced-precision or compiled path; it runs fp32 eager",
                          stacklevel=2)

    # -- what concrete codecs implement -----------------------------------------------------

    @abc.abstractmethod
    def _encode_padded(self, audio: torch.Tensor) -> torch.Tensor:
        """Codes ``[B, n_codebooks, k]`` of ``audio [B, 1, k * hop]`` on ``self.device``."""

    @abc.abstractmethod
    def _decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Audio ``[B, 1, k * hop]`` of ``codes [B, c, k]`` (c <= n_codebooks) on ``self.device``."""

    @abc.abstractmethod
    def codebook_tables(self) -> torch.Tensor:
        """Raw quantizer codebooks ``[n_codebooks, codebook_size, codebook_dim]`` (float32, CPU)."""

    # -- the shared interface ---------------------------------------------------------------

    @property
    def frame_rate(self) -> float:
        """Token frames per second."""
        return self.sample_rate / self.hop_length

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} '{self.name}' {self.sample_rate} Hz, hop {self.hop_length}, "
            f"{self.n_codebooks} x {self.codebook_size} codes>"
        )

    def encode(
        self, audio: torch.Tensor, sample_rate: int, *, chunk_seconds: float | None = None
    ) -> torch.Tensor:
        """Codes ``long [B, n_codebooks, ceil(S' / hop)]`` of mono ``audio [B, 1, S]`` at
        ``sample_rate`` (resampled to the codec's rate first: S' samples). Chunked above
        ``AUTO_CHUNK_SECONDS`` unless ``chunk_seconds`` says otherwise (``math.inf``: never)."""
        audio, n_frames = self._prepared(audio, sample_rate)
        chunk = self._chunk_frames(n_frames, chunk_seconds)
        with torch.inference_mode():
            if chunk >= n_frames:
                codes = self._encode_padded(audio.to(self.device))
            else:
                codes = chunked_encode(
                    lambda x: self._encode_padded(x.to(self.device)),
                    audio,
                    self.hop_length,
                    chunk,
                    self.encode_margin,
                )
        return codes.to(device=audio.device, dtype=torch.long)

    def latents(self, audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """The encoder's quantized latents ``float32 [B, dim, frames]`` of mono ``audio [B, 1, S]``
        (what a codec-latent FAD embeds); ``CodecError`` for a codec that has none."""
        audio, _ = self._prepared(audio, sample_rate)
        with torch.inference_mode():
            z = self._latents_padded(audio.to(self.device))
        return z.float().to(audio.device)

    def _prepared(self, audio: torch.Tensor, sample_rate: int) -> tuple[torch.Tensor, int]:
        """Checked float32 audio at the codec's rate, padded to whole frames, and its frames."""
        from ..audio.resample import resample

        if not isinstance(audio, torch.Tensor) or audio.ndim != 3 or audio.shape[1] != 1:
            shape = list(audio.shape) if isinstance(audio, torch.Tensor) else type(audio).__name__
            raise CodecError(f"codec '{self.name}' encodes mono audio shaped [batch, 1, samples], got {shape}")
        if audio.shape[0] == 0 or audio.shape[-1] == 0:
            raise CodecError(f"codec '{self.name}' got empty audio {list(audio.shape)}")
        if not audio.is_floating_point():
            raise CodecError(f"codec '{self.name}' encodes float audio, got {audio.dtype}")
        if not bool(torch.isfinite(audio).all()):
            raise CodecError(f"codec '{self.name}' got audio with NaN or infinite samples")
        if sample_rate != self.sample_rate:
            audio = resample(audio, sample_rate, self.sample_rate)
        audio = audio.to(torch.float32)
        n_frames = math.ceil(audio.shape[-1] / self.hop_length)
        return torch.nn.functional.pad(audio, (0, n_frames * self.hop_length - audio.shape[-1])), n_frames

    #: whether ``latents`` works (codecs with an encoder/quantizer pair set it and override
    #: ``_latents_padded``)
    has_latents = False

    def _latents_padded(self, audio: torch.Tensor) -> torch.Tensor:
        """Quantized latents ``[B, dim, k]`` of ``audio [B, 1, k * hop]``."""
        raise CodecError(f"codec '{self.name}' does not expose encoder latents")

    def decode(self, codes: torch.Tensor, *, chunk_seconds: float | None = None) -> torch.Tensor:
        """Audio ``float32 [B, 1, T * hop]`` at ``sample_rate`` from ``codes [B, c, T]``, where
        the c <= n_codebooks rows are the leading codebooks. Chunked like ``encode``."""
        if not isinstance(codes, torch.Tensor) or codes.ndim != 3:
            shape = list(codes.shape) if isinstance(codes, torch.Tensor) else type(codes).__name__
            raise CodecError(f"codec '{self.name}' decodes codes shaped [batch, codebooks, frames], got {shape}")
        if codes.dtype.is_floating_point or codes.dtype.is_complex or codes.dtype == torch.bool:
            raise CodecError(f"codec '{self.name}' decodes integer codes, got {codes.dtype}")
        batch, n_books, n_frames = codes.shape
        if batch == 0 or n_frames == 0 or not 1 <= n_books <= self.n_codebooks:
            raise CodecError(
                f"codec '{self.name}' needs codes [batch>=1, 1..{self.n_codebooks}, frames>=1], "
                f"got {list(codes.shape)}"
            )
        low, high = int(codes.min()), int(codes.max())
        if low < 0 or high >= self.codebook_size:
            raise CodecError(
                f"codec '{self.name}' got codes outside 0..{self.codebook_size - 1} "
                f"(min {low}, max {high}; mask tokens must be replaced before decoding)"
            )
        codes = codes.long()
        chunk = self._chunk_frames(n_frames, chunk_seconds)
        with torch.inference_mode():
            if chunk >= n_frames:
                audio = self._decode_codes(codes.to(self.device))
            else:
                audio = chunked_decode(
                    lambda c: self._decode_codes(c.to(self.device)),
                    codes,
                    self.hop_length,
                    chunk,
                    self.decode_margin,
                )
        return audio.to(device=codes.device, dtype=torch.float32)

    def _chunk_frames(self, n_frames: int, chunk_seconds: float | None) -> int:
        if chunk_seconds is None:
            seconds = n_frames * self.hop_length / self.sample_rate
            chunk_seconds = DEFAULT_CHUNK_SECONDS if seconds > AUTO_CHUNK_SECONDS else math.inf
        if isinstance(chunk_seconds, bool) or not isinstance(chunk_seconds, (int, float)) or not chunk_seconds > 0:
            raise ParameterError(f"chunk_seconds must be a positive number of seconds or math.inf, got {chunk_seconds!r}")
        if math.isinf(chunk_seconds):
            return n_frames
        return max(1, math.ceil(chunk_seconds * self.sample_rate / self.hop_length))


def as_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch.device, with a CodecError for an unusable name."""
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise CodecError(f"unknown device {device!r}: {exc}") from exc


def is_path_like(spec: str | Path) -> bool:
    """Whether a codec spec names a file rather than ``<codec>[:<variant>]``."""
    return isinstance(spec, Path) or "/" in spec or "\\" in spec or spec.endswith((".pth", ".pt", ".ckpt"))
