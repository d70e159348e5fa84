"""Plain data of vampkit values: the one JSON converter (manifests, ``--json`` output) and the
YAML spelling of a value (what a user would write in a recipe)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import attrs
import yaml


def jsonable(value: Any) -> Any:
    """Plain JSON data of a value: tuples as lists, paths as strings, NaN (no value) as null,
    infinities as strings, attrs values as mappings with their ``name``; anything else as its repr.
    The result is strict JSON (``json.dumps(..., allow_nan=False)`` accepts it)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if attrs.has(type(value)):
        return {"name": getattr(value, "name", type(value).__name__), **jsonable(attrs.asdict(value, recurse=False))}
    if isinstance(value, PurePath):
        return str(value)
    return repr(value)


def yaml_text(value: Any) -> str:
    """A value as it is spelled in a recipe: ``false``, ``null``, ``[1, 2]``, ``0.5``."""
    text = yaml.safe_dump(jsonable(value), default_flow_style=True, width=math.inf, sort_keys=False)
    return text.removesuffix("\n...\n").strip()
