"""The plugin module named by the ``vampkit`` entry point: its hooks register what we provide."""

from __future__ import annotations

import vampkit

from .loudness import Loudness


@vampkit.hookimpl
def register_masks(register):  # noqa: ANN001, ANN201 - hook signature
    register(Loudness)
