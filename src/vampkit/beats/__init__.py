"""Beat, downbeat and onset analysis: trackers, the analysis cache, the built-in analyses.

``madmom`` (accurate; its bundled models are CC BY-NC-SA 4.0) is the default tracker;
``simple`` is a less precise numpy-only fallback. Masks read results via ``MaskContext``.
"""

from .base import Beats, BeatTracker, OnsetDetector, mono
from .cache import AnalysisCache

__all__ = ["AnalysisCache", "BeatTracker", "Beats", "OnsetDetector", "mono"]
