"""Neural audio codecs behind one interface: ``Codec``, loaded with ``load_codec``."""

from __future__ import annotations

from .base import AUTO_CHUNK_SECONDS, DEFAULT_CHUNK_SECONDS, Codec
from .checkpoint import RawCheckpoint, read_checkpoint
from .loading import codec_classes, load_codec

__all__ = [
    "AUTO_CHUNK_SECONDS",
    "DEFAULT_CHUNK_SECONDS",
    "Codec",
    "RawCheckpoint",
    "codec_classes",
    "load_codec",
    "read_checkpoint",
]
