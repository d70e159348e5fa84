"""Audio in and out of vampkit: files, resampling, loudness, and codec round trips."""

from __future__ import annotations

from .encoding import EncodedAudio, MonoMixWarning, check_audio, decode_audio, encode_audio, mono_mix, restore_loudness
from .io import Audio, load_audio, save_audio
from .loudness import integrated_loudness, limit_peak, normalize_loudness
from .resample import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, check_sample_rate, resample, resampled_length
from ..bundles import VAMPNET

#: the VampNet bundle's loudness target (``vampkit.bundles.VAMPNET.loudness_db``), under its old name
VAMPNET_LOUDNESS_DB = VAMPNET.loudness_db

__all__ = [
    "MAX_SAMPLE_RATE",
    "MIN_SAMPLE_RATE",
    "VAMPNET_LOUDNESS_DB",
    "Audio",
    "EncodedAudio",
    "MonoMixWarning",
    "check_audio",
    "check_sample_rate",
    "decode_audio",
    "encode_audio",
    "integrated_loudness",
    "limit_peak",
    "load_audio",
    "mono_mix",
    "normalize_loudness",
    "resample",
    "resampled_length",
    "restore_loudness",
    "save_audio",
]
