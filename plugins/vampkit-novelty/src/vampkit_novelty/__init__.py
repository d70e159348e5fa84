"""vampkit-novelty: a spectral-novelty analysis and a mask keeping frames around its peaks."""

from .analysis import Novelty, SpectralNovelty, spectral_novelty
from .mask import NoveltyPeaks

__all__ = ["Novelty", "NoveltyPeaks", "SpectralNovelty", "spectral_novelty"]
