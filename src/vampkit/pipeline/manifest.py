"""The JSON manifest written next to a run's outputs: what ran, on what, with which weights."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ..atomic import atomic_path
from ..errors import OutputError, OutputPathError
from ..paths import make_folder, output_path
from ..plaindata import jsonable
from ..recipes.schema import Recipe
from .engine import sha256_file
from .state import SEED_DERIVATION

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
        "precision": recipe.precision,
        "compile": recipe.compile,
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
            digest = sha256_file(path, persist=True)
        except OSError:
            digest = None
        out[role] = {"path": str(path), "sha256": digest}
    return out


def new_run_id() -> str:
    """A run's id: UTC start time plus random bits, unique across runs into one folder."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(4)


def bundle_facts(bundle: Any) -> dict[str, str] | None:
    """What a manifest says of the model bundle the checkpoints came from (its terms of use)."""
    if bundle is None:
        return None
    return {"name": bundle.name, "license": bundle.license, "repo_id": bundle.repo_id, "revision": bundle.revision}


def build_manifest(recipe: Recipe, *, device: str, dry_run: bool, checkpoints: Mapping[str, str],
                   inputs: list[dict[str, Any]], timings: Mapping[str, float], run_id: str = "",
                   bundle: Any = None) -> dict[str, Any]:
    return {
        "manifest_version": MANIFEST_VERSION,
        "run_id": run_id,
        "recipe": resolved_recipe(recipe),
        "seed": recipe.seed,
        "seed_derivation": SEED_DERIVATION,
        "variations": recipe.variations,
        "device": device,
        "dry_run": dry_run,
        "versions": package_versions(),
        "checkpoints": checkpoint_hashes(checkpoints),
        "bundle": bundle_facts(bundle),
        "inputs": jsonable(inputs),
        "timings": {k: round(v, 4) for k, v in timings.items()},
    }


def manifest_path(out_dir: Path, recipe: Recipe, run_id: str) -> Path:
    """``NAME.SEED.RUN_ID.manifest.json`` inside ``out_dir`` (checked by the output-path policy)."""
    return output_path(out_dir, f"{recipe.name}.{recipe.seed}.{run_id}.manifest.json", key="name",
                       where=recipe.source.where(("name",)))


def write_manifest(out_dir: Path, recipe: Recipe, manifest: Mapping[str, Any]) -> Path:
    """Write the manifest as a new file (never over another run's); ``OutputError`` when it cannot be."""
    try:
        path = manifest_path(out_dir, recipe, str(manifest.get("run_id") or new_run_id()))
    except OutputPathError as exc:
        raise OutputError(f"cannot write the manifest: {exc}") from exc
    make_folder(out_dir, path)
    text = json.dumps(manifest, indent=2, sort_keys=False, ensure_ascii=True) + "\n"
    try:
        with atomic_path(path, overwrite=False) as temp:
            temp.write_text(text, encoding="utf-8")
    except OSError as exc:
        reason = "a file of that name exists" if isinstance(exc, FileExistsError) else (exc.strerror or str(exc))
        raise OutputError(f"cannot write the manifest '{os.fsdecode(path)}': {reason}") from exc
    return path
