"""``sha256_file``: the one file hash vampkit computes (manifests, downloaded weights)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from pathlib import Path

_CHUNK_BYTES = 1 << 20
_HEX = re.compile(r"[0-9a-f]{64}")
_cache: dict[tuple[str, int, int, int, int], str] = {}


def forget() -> None:
    """Forget the hashes this process computed (the stored ones stay): a new run's view."""
    _cache.clear()


def _key(path: str | os.PathLike) -> tuple[str, int, int, int, int]:
    stat = os.stat(path)
    return (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_dev)


def _stored(key: tuple) -> Path:
    """Where the digest of ``key`` is kept across runs (``$VAMPKIT_CACHE/hashes``)."""
    from .cache import cache_dir

    name = hashlib.sha256(json.dumps(key).encode("utf-8", "surrogateescape")).hexdigest()
    return cache_dir("hashes") / f"{name}.sha256"


def sha256_file(path: str | os.PathLike, *, persist: bool = False) -> str:
    """Hex sha256 of a file, read in chunks; cached per (path, size, mtime, inode) for the
    process and, with ``persist``, across runs in vampkit's cache folder (a checkpoint of a
    gigabyte is then hashed once, not on every run's manifest)."""
    key = _key(path)
    if key in _cache:
        return _cache[key]
    stored = None
    if persist:
        with contextlib.suppress(OSError, ValueError):  # unreadable or garbled: hash the file
            stored = _stored(key)
            text = stored.read_text(encoding="ascii").strip() if stored.is_file() else ""
            if _HEX.fullmatch(text):
                _cache[key] = text
                return text
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK_BYTES), b""):
            digest.update(block)
    _cache[key] = digest.hexdigest()
    if stored is not None and _key(path) == key:  # unchanged while it was read
        from .atomic import write_text

        with contextlib.suppress(OSError):  # a read-only cache only costs the next run a re-hash
            write_text(stored, _cache[key])
    return _cache[key]
