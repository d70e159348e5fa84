"""vampkit-loudness: a mask generator that keeps the loud (or quiet) frames of the input."""

from .loudness import Loudness, frame_levels_db

__all__ = ["Loudness", "frame_levels_db"]
