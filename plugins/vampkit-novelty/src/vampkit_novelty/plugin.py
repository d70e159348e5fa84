"""The plugin module named by the ``vampkit`` entry point: one analysis and one mask generator."""

from __future__ import annotations

import vampkit

from .analysis import SpectralNovelty
from .mask import NoveltyPeaks


@vampkit.hookimpl
def register_analyses(register):  # noqa: ANN001, ANN201 - hook signature
    register(SpectralNovelty())


@vampkit.hookimpl
def register_masks(register):  # noqa: ANN001, ANN201 - hook signature
    register(NoveltyPeaks)
