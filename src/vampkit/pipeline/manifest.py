"""The JSON manifest written next to a run's outputs: what ran, on what, with which weights."""

from __future__ import annotations

import importlib.metadata
import json
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ..recipes.schema import Recipe
from .engine import sha256_file
from ..atomic import write_text
from ..plaindata import jsonable

MANIFEST_VERSION = 1


def package_versions() -> dict[str, str | None]:
    """Versions of vampkit and the packages its results depend on."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("vampkit", "torch", "descript-audio-codec", "numpy", "madmom"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def resolved_recipe(recipe: Recipe) -> dict[str, Any]:
    """The recipe as it ran: every setting with its default filled in."""
    return {
        "name": recipe.name,
        "file": recipe.path,
        "description": recipe.description,
        "weights": recipe.weights.describe(),
        "seed": recipe.seed,
        "variations": recipe.variations,
        "device": recipe.device,
        "mask": jsonable(recipe.data.get("mask")),
        "sampling": jsonable(attrs.asdict(recipe.sampling)),
        "c2f": jsonable(attrs.asdict(recipe.c2f)),
        "analysis": jsonable(recipe.analysis),
        "output": jsonable(attrs.asdict(recipe.output)),
        "pipeline": [{"name": s.name, "params": jsonable(s.params)} for s in recipe.pipeline],
        "source": jsonable(recipe.data),
        "overrides": sorted(set(recipe.source.overrides.values())),
    }


def checkpoint_hashes(checkpoints: Mapping[str, str]) -> dict[str, dict[str, str | None]]:
    out: dict[str, dict[str, str | None]] = {}
    for role, path in checkpoints.items():
        try:
            digest = sha256_file(path)
        except OSError:
            digest = None
        out[role] = {"path": str(path), "sha256": digest}
    return out


def build_manifest(recipe: Recipe, *, device: str, dry_run: bool, checkpoints: Mapping[str, str],
                   inputs: list[dict[str, Any]], timings: Mapping[str, float]) -> dict[str, Any]:
    return {
        "manifest_version": MANIFEST_VERSION,
        "recipe": resolved_recipe(recipe),
        "seed": recipe.seed,
        "variations": recipe.variations,
        "device": device,
        "dry_run": dry_run,
        "versions": package_versions(),
        "checkpoints": checkpoint_hashes(checkpoints),
        "inputs": jsonable(inputs),
        "timings": {k: round(v, 4) for k, v in timings.items()},
    }


def manifest_path(out_dir: Path, recipe: Recipe) -> Path:
    return Path(out_dir) / f"{recipe.name}.{recipe.seed}.manifest.json"


def write_manifest(path: Path, manifest: Mapping[str, Any]) -> Path:
    return write_text(path, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
