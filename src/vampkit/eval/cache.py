"""The resume cache: one JSON entry per (excerpt, condition, seed), written atomically once
all of its metrics are computed, plus each set metric's features as ``.npy`` beside it.

A run stopped by Ctrl-C or a crash leaves only complete entries; the next run reads them
instead of generating again, so it continues where it stopped with the same numbers.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path, write_text

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(text: str) -> str:
    """A file-name-safe version of a label (no separators, no leading dots)."""
    return _SAFE.sub("_", text).strip("._") or "x"


class ResultCache:
    """Entries under ``root/<condition fingerprint>/<excerpt key>-s<seed>.json``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _base(self, fingerprint: str, excerpt_key: str, seed: int) -> Path:
        return self.root / fingerprint / f"{excerpt_key}-s{seed}"

    def get(self, fingerprint: str, excerpt_key: str, seed: int) -> dict[str, Any] | None:
        path = self._base(fingerprint, excerpt_key, seed).with_suffix(".json")
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # an unreadable entry is recomputed

    def put(self, fingerprint: str, excerpt_key: str, seed: int, entry: dict[str, Any],
            features: dict[str, np.ndarray]) -> None:
        base = self._base(fingerprint, excerpt_key, seed)
        base.parent.mkdir(parents=True, exist_ok=True)
        names = {}
        for label, array in features.items():
            target = base.parent / f"{base.name}.{safe_name(label)}.npy"
            save_array(target, array)
            names[label] = target.name
        write_text(base.with_suffix(".json"), json.dumps({**entry, "features": names}, sort_keys=True))

    def features(self, fingerprint: str, entry: dict[str, Any], label: str) -> np.ndarray | None:
        name = (entry.get("features") or {}).get(label)
        if not name:
            return None
        return load_array(self.root / fingerprint / name)

    def reference_features(self, excerpt_key: str, label: str, trim: float) -> np.ndarray | None:
        return load_array(self.root / "references" / f"{excerpt_key}.{safe_name(label)}.t{trim:g}.npy")

    def put_reference_features(self, excerpt_key: str, label: str, trim: float, array: np.ndarray) -> None:
        path = self.root / "references" / f"{excerpt_key}.{safe_name(label)}.t{trim:g}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_array(path, array)


def save_array(path: Path, array: np.ndarray) -> None:
    """``np.save`` atomically (never pickles)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    with atomic_path(path) as temp:
        temp.write_bytes(buffer.getvalue())


def load_array(path: Path) -> np.ndarray | None:
    if not path.is_file():
        return None
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
