"""On-disk analysis cache: results keyed by audio content hash + analyser + its parameters.

Files are small JSON documents in ``vampkit.cache.cache_dir("analysis")``, written atomically
(temporary file + ``os.replace``). A file that cannot be read or decoded is recomputed and
overwritten, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs
import numpy as np

from ..atomic import write_text
from ..cache import cache_dir
from ..errors import CacheError
from ..paths import output_path

#: bump when the meaning of cached results changes (invalidates older files)
FORMAT_VERSION = 1

T = TypeVar("T")


def audio_digest(samples: np.ndarray, sample_rate: int) -> str:
    """Content hash of mono float32 ``samples`` at ``sample_rate``."""
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{int(sample_rate)}:{samples.shape[0]}:".encode())
    digest.update(samples.tobytes())
    return digest.hexdigest()


def parameters_of(obj: Any) -> dict[str, Any]:
    """The parameters of an attrs analyser (its fields) as JSON-able plain data."""
    return json.loads(json.dumps(attrs.asdict(obj, recurse=True), sort_keys=True, default=str))


def cache_key(kind: str, digest: str, analyser: str, params: Mapping[str, Any], version: str = "") -> str:
    """The file stem for one analysis of one audio content by one configured analyser."""
    blob = json.dumps({"format": FORMAT_VERSION, "kind": kind, "audio": digest, "analyser": analyser,
                       "params": params, "version": version}, sort_keys=True, default=str)
    return f"{kind}-{analyser}-{hashlib.blake2b(blob.encode(), digest_size=16).hexdigest()}"


@attrs.frozen
class AnalysisCache:
    """A directory of cached analysis results (default: the vampkit cache's ``analysis``)."""

    directory: Path | None = attrs.field(default=None, converter=lambda p: None if p is None else Path(p))

    def path(self, key: str) -> Path:
        """The cache file of ``key``, inside the cache folder (``vampkit.paths`` policy)."""
        root = self.directory if self.directory is not None else cache_dir("analysis")
        return output_path(root, f"{key}.json", key="analysis cache key")

    def load(self, key: str) -> Any | None:
        """The cached result for ``key``, or None when absent or unreadable (or the cache folder
        is unusable: the analysis then runs without it)."""
        try:
            path = self.path(key)
        except CacheError as exc:
            warnings.warn(f"{exc}: analyses are computed without the cache", stacklevel=3)
            return None
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            warnings.warn(f"analysis cache file {path} is unreadable; recomputing it", stacklevel=3)
            return None
        if not isinstance(document, dict) or document.get("key") != key or "result" not in document:
            warnings.warn(f"analysis cache file {path} is malformed; recomputing it", stacklevel=3)
            return None
        return document["result"]

    def store(self, key: str, result: Any) -> Path:
        """Write ``result`` (JSON-able) for ``key`` atomically; returns the file."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"key": key, "format": FORMAT_VERSION, "result": result}, sort_keys=True)
        return write_text(path, text)

    def get_or_compute(self, key: str, compute: Callable[[], T], encode: Callable[[T], Any],
                       decode: Callable[[Any], T]) -> T:
        """The cached result for ``key`` if it decodes, else ``compute()`` (stored for next time)."""
        raw = self.load(key)
        if raw is not None:
            try:
                return decode(raw)
            except Exception as exc:  # noqa: BLE001 - any decoding failure means "recompute"
                warnings.warn(f"analysis cache file {self.path(key)} does not decode ({exc}); "
                              f"recomputing it", stacklevel=2)
        result = compute()
        try:
            self.store(key, encode(result))
        except CacheError:  # said once, by load
            pass
        except OSError as exc:  # a read-only or full cache must not break the analysis
            warnings.warn(f"could not write analysis cache file for {key}: {exc}", stacklevel=2)
        return result
