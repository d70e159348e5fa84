"""Audio in and out of vampkit: files, resampling, loudness, and codec round trips."""

from __future__ import annotations

from .encoding import EncodedAudio, decode_audio, encode_audio
from .io import Audio, load_audio, save_audio
from .loudness import VAMPNET_LOUDNESS_DB, integrated_loudness, limit_peak, normalize_loudness
from .resample import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, check_sample_rate, resample

__all__ = [
    "MAX_SAMPLE_RATE",
    "MIN_SAMPLE_RATE",
    "VAMPNET_LOUDNESS_DB",
    "Audio",
    "EncodedAudio",
    "check_sample_rate",
    "decode_audio",
    "encode_audio",
    "integrated_loudness",
    "limit_peak",
    "load_audio",
    "normalize_loudness",
    "resample",
    "save_audio",
]
