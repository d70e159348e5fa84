"""Time <-> token-frame conversions with upstream VampNet's rounding."""

from __future__ import annotations

import math


def seconds_to_frames(seconds: float, sample_rate: int, hop_length: int) -> int:
    """Frames covering ``seconds``: ``ceil(seconds * sample_rate / hop_length)`` (upstream ``s2t``)."""
    return int(math.ceil(seconds * sample_rate / hop_length))


def frames_to_seconds(frames: int, sample_rate: int, hop_length: int) -> float:
    """Duration of ``frames`` token frames in seconds (upstream ``t2s``)."""
    return frames * hop_length / sample_rate
