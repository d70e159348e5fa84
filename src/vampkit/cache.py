"""Where vampkit keeps downloaded weights and analysis results."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

CACHE_ENV = "VAMPKIT_CACHE"


def cache_dir(*parts: str) -> Path:
    """``$VAMPKIT_CACHE`` (or the platform's user cache dir for vampkit) joined with ``parts``,
    created if missing."""
    root = Path(os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("vampkit"))
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
