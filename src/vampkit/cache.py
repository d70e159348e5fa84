"""Where vampkit keeps downloaded weights and analysis results."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

CACHE_ENV = "VAMPKIT_CACHE"


def cache_dir(*parts: str) -> Path:
    """``$VAMPKIT_CACHE`` (or the platform's user cache dir for vampkit) joined with ``parts``,
    created if missing (a ``CacheError`` naming the folder when it cannot be)."""
    root = Path(os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("vampkit"))
    path = root.joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from .errors import CacheError

        raise CacheError(f"the vampkit cache folder '{path}' cannot be created ({exc.strerror or exc}); "
                         f"set {CACHE_ENV} to a writable folder") from exc
    return path
