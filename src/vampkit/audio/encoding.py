"""Audio files <-> codec tokens as upstream does it: channels as a batch, loudness normalised
before encoding and restored after decoding, original rate and length put back."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import torch

from ..errors import AudioError, CodecError
from .io import Audio
from .loudness import (
    MIN_LOUDNESS_DB,
    VAMPNET_LOUDNESS_DB,
    db_to_gain,
    integrated_loudness,
    limit_peak,
)
from .resample import check_sample_rate, resample

if TYPE_CHECKING:
    from ..codecs import Codec


@attrs.frozen
class EncodedAudio:
    """Codes ``[channels, n_codebooks, frames]`` plus what decoding needs to restore the input."""

    codes: torch.Tensor
    loudness: float
    sample_rate: int
    length: int
    channels: int
    codec_sample_rate: int
    path: str | None = None


def _check(audio: Audio) -> None:
    samples = audio.samples
    if not isinstance(samples, torch.Tensor) or samples.ndim != 2 or samples.shape[0] == 0:
        raise AudioError(f"{audio.label}: samples must be [channels, n], got {getattr(samples, 'shape', samples)!r}")
    if samples.shape[-1] == 0:
        raise AudioError(f"{audio.label} contains no samples")
    if not bool(torch.isfinite(samples).all()):
        raise AudioError(f"{audio.label} contains NaN or infinite samples")
    if not bool(samples.abs().amax() > 0):
        raise AudioError(f"{audio.label} is silent (every sample is zero); there is nothing to encode")


def encode_audio(
    codec: Codec,
    audio: Audio,
    *,
    loudness_db: float = VAMPNET_LOUDNESS_DB,
    chunk_seconds: float | None = None,
) -> EncodedAudio:
    """Encode every channel of ``audio`` (as a batch) after resampling to the codec's rate,
    normalising to ``loudness_db`` LUFS (one gain for all channels) and limiting peaks to 1."""
    _check(audio)
    rate = check_sample_rate(audio.sample_rate, audio.label)
    min_length = -(-codec.hop_length * rate // codec.sample_rate)
    if audio.length < min_length:
        raise AudioError(
            f"{audio.label} is shorter than one codec frame: {audio.length} samples at {rate} Hz, "
            f"the codec needs at least {codec.hop_length} samples at {codec.sample_rate} Hz"
        )
    samples = resample(audio.samples.to(torch.float32), rate, codec.sample_rate)
    loudness = integrated_loudness(samples, codec.sample_rate)
    samples = limit_peak(samples * db_to_gain(loudness_db - loudness))
    codes = codec.encode(samples[:, None, :], codec.sample_rate, chunk_seconds=chunk_seconds)
    return EncodedAudio(
        codes=codes,
        loudness=loudness,
        sample_rate=rate,
        length=audio.length,
        channels=audio.channels,
        codec_sample_rate=codec.sample_rate,
        path=str(audio.path) if audio.path is not None else None,
    )


def decode_audio(
    codec: Codec,
    encoded: EncodedAudio,
    codes: torch.Tensor | None = None,
    *,
    chunk_seconds: float | None = None,
) -> torch.Tensor:
    """Audio ``[channels, n]`` of ``codes`` (default: ``encoded.codes``) at the input's rate,
    with the input's loudness; ``n`` is the input's length when the frame count is unchanged."""
    codes = encoded.codes if codes is None else codes
    if encoded.codec_sample_rate != codec.sample_rate:
        raise CodecError(
            f"codes were made by a {encoded.codec_sample_rate} Hz codec, not this {codec.sample_rate} Hz one"
        )
    if not isinstance(codes, torch.Tensor) or codes.ndim != 3:
        raise CodecError(f"decode_audio needs codes [channels, codebooks, frames], got {getattr(codes, 'shape', codes)!r}")
    audio = codec.decode(codes, chunk_seconds=chunk_seconds)[:, 0, :]
    audio = resample(audio, codec.sample_rate, encoded.sample_rate)
    if codes.shape[-1] == encoded.codes.shape[-1]:
        if audio.shape[-1] < encoded.length:
            audio = torch.nn.functional.pad(audio, (0, encoded.length - audio.shape[-1]))
        audio = audio[:, : encoded.length]
    out_loudness = integrated_loudness(audio, encoded.sample_rate)
    if out_loudness > MIN_LOUDNESS_DB:
        audio = audio * db_to_gain(encoded.loudness - out_loudness)
    return audio.contiguous()
