"""Audio <-> codec tokens, the one path every caller takes (pipeline engine, Python API, eval,
app): channels as a batch (or mixed to mono, as VampNet does), resampled to the codec's rate,
loudness normalised before encoding; after decoding, the input's rate and length are put back
and the loudness restored the way upstream's apps do it (re-measure the decoded audio and
normalise it to the input's loudness).

Silent input (every sample zero) is refused with an ``AudioError``: there is no loudness to
normalise or restore, and a model prompted with silence has nothing to vamp on. The pipeline
follows the same policy (the input fails with that message; the batch goes on).
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import attrs
import torch

from ..bundles import VAMPNET
from ..errors import AudioError, CodecError
from .io import Audio
from .loudness import MIN_LOUDNESS_DB, db_to_gain, integrated_loudness, limit_peak
from .resample import check_sample_rate, resample

if TYPE_CHECKING:
    from ..codecs import Codec

#: a mono mix this many dB below its channels' mean energy means they (nearly) cancel
CANCELLING_MIX_DB = -20.0


class MonoMixWarning(UserWarning):
    """The channels of a stereo input cancel in the mono mix the model hears."""


@attrs.frozen
class EncodedAudio:
    """Codes ``[channels, n_codebooks, frames]`` plus what decoding needs to restore the input.

    ``loudness`` is the input's integrated loudness (LUFS) measured before normalising; decoding
    brings the output back to it. ``channels`` is the number of encoded rows (1 when mixed to
    mono); ``sample_rate`` and ``length`` are the input's.
    """

    codes: torch.Tensor
    loudness: float
    sample_rate: int
    length: int
    channels: int
    codec_sample_rate: int
    path: str | None = None

    @property
    def n_frames(self) -> int:
        return int(self.codes.shape[-1])


def check_audio(audio: Audio) -> None:
    """An ``AudioError`` for audio that cannot be encoded: wrong shape, empty, NaN/inf, or silent."""
    samples = audio.samples
    if not isinstance(samples, torch.Tensor) or samples.ndim != 2 or samples.shape[0] == 0:
        raise AudioError(f"{audio.label}: samples must be [channels, n], got {getattr(samples, 'shape', samples)!r}")
    if samples.shape[-1] == 0:
        raise AudioError(f"{audio.label} contains no samples")
    if not bool(torch.isfinite(samples).all()):
        raise AudioError(f"{audio.label} contains NaN or infinite samples")
    if not bool(samples.abs().amax() > 0):
        raise AudioError(f"{audio.label} is silent (every sample is zero); there is nothing to encode")


def mono_mix(audio: Audio) -> Audio:
    """The channels averaged (upstream's mono mix); warns (``MonoMixWarning``) when they cancel."""
    if audio.channels == 1:
        return audio
    samples = audio.samples.to(torch.float32)
    mixed = samples.mean(dim=0, keepdim=True)
    channel_energy = float(samples.double().square().mean())
    mix_energy = float(mixed.double().square().mean())
    if channel_energy > 0 and (mix_energy == 0 or 10 * math.log10(mix_energy / channel_energy) < CANCELLING_MIX_DB):
        level = "silent" if mix_energy == 0 else f"{10 * math.log10(mix_energy / channel_energy):.0f} dB below its channels"
        warnings.warn(
            f"{audio.label}: its {audio.channels} channels cancel in the mono mix the model hears (the mix is "
            f"{level}; out-of-phase channels?)", MonoMixWarning, stacklevel=3)
    return attrs.evolve(audio, samples=mixed)


def encode_audio(
    codec: Codec,
    audio: Audio,
    *,
    loudness_db: float = VAMPNET.loudness_db,
    chunk_seconds: float | None = None,
    mono: bool = False,
) -> EncodedAudio:
    """Encode ``audio`` after resampling to the codec's rate, normalising to ``loudness_db``
    LUFS (one gain for all channels) and limiting peaks to 1. Every channel is encoded (as a
    batch), or their mono mix with ``mono=True``. Silent audio is an ``AudioError``."""
    check_audio(audio)
    rate = check_sample_rate(audio.sample_rate, audio.label)
    if mono:
        audio = mono_mix(audio)
        check_audio(audio)
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


def restore_loudness(samples: torch.Tensor, sample_rate: int, loudness: float) -> torch.Tensor:
    """``samples`` normalised to ``loudness`` LUFS (upstream's restore: re-measure, then one gain);
    unchanged when the decoded audio is below the -70 LUFS gate (nothing to measure)."""
    measured = integrated_loudness(samples, sample_rate)
    if measured <= MIN_LOUDNESS_DB:
        return samples
    return samples * db_to_gain(loudness - measured)


def decode_audio(
    codec: Codec,
    encoded: EncodedAudio,
    codes: torch.Tensor | None = None,
    *,
    chunk_seconds: float | None = None,
) -> Audio:
    """``Audio`` of ``codes`` (default: ``encoded.codes``) at the input's rate, with the input's
    loudness; its length is the input's when the frame count is unchanged."""
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
    audio = restore_loudness(audio, encoded.sample_rate, encoded.loudness)
    return Audio(audio.contiguous(), encoded.sample_rate)
