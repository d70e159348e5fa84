"""The recipes a user can run: shipped ones (package data) and local YAML files, validated."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
from ..errors import RecipeError, VampkitError
from .loader import SHIPPED_DIR, TOP_LEVEL_KEYS, load_recipe, parse_yaml, read_text, shipped_recipes

RECIPE_SUFFIXES = (".yaml", ".yml")


@attrs.frozen
class RecipeInfo:
    """One listed recipe: how to name it on the command line, what it says it does, or why it
    does not load."""

    kind: str  # "shipped" or "local"
    name: str  # a shipped recipe's name, or a local file's path
    path: str
    description: str = ""
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def document_kind(data: Any) -> str | None:
    """What a parsed YAML file is: an experiment (``conditions``), a training recipe (a
    ``model`` to train), a recipe (any recipe key), or None (a CI config, a compose file)."""
    if not isinstance(data, dict):
        return None
    if "conditions" in data:
        return "experiment"
    if "model" in data:
        return "train"
    return "recipe" if any(key in TOP_LEVEL_KEYS for key in data) else None


def file_kind(name_or_path: str) -> str:
    """The kind of a file given to `vampkit validate`: by its content, or by the shipped name
    (a recipe unless only an experiment has that name). Unreadable: "recipe" (its loader says why)."""
    if not os.path.exists(name_or_path):
        from ..eval.experiment import SHIPPED_DIR as EXPERIMENTS

        name = Path(name_or_path).name
        shipped_experiment = len(Path(name_or_path).parts) == 1 and os.path.exists(EXPERIMENTS / f"{name}.yaml")
        return "experiment" if shipped_experiment and name not in shipped_recipes() else "recipe"
    try:  # the loader's YAML road: alias bombs, deep nesting and bad tags are errors, not hangs
        data, _ = parse_yaml(read_text(name_or_path), str(name_or_path))
    except RecipeError:
        return "recipe"
    return document_kind(data) or "recipe"


def looks_like_recipe(path: Path) -> bool:
    """True for a YAML file whose top level is a mapping with at least one recipe key (and not
    an experiment or a training recipe); other YAML files in a folder (CI configs, compose
    files) are not recipes and are not listed."""
    try:
        data, _ = parse_yaml(read_text(path), str(path))
    except RecipeError:
        return path.suffix in RECIPE_SUFFIXES  # unreadable: list it, with the loader's error
    return document_kind(data) == "recipe"


def describe_recipe(kind: str, name: str, path: Path) -> RecipeInfo:
    """Validate one recipe; a broken one keeps its error message instead of a description."""
    try:
        recipe = load_recipe(path)
    except VampkitError as exc:
        return RecipeInfo(kind, name, str(path), error=str(exc))
    return RecipeInfo(kind, name, str(path), description=recipe.description)


def list_recipes(folders: Iterable[Path] = (Path("."),)) -> list[RecipeInfo]:
    """Shipped recipes by name, then the recipe files in ``folders`` (not recursive), sorted."""
    infos = [describe_recipe("shipped", name, SHIPPED_DIR / f"{name}.yaml") for name in shipped_recipes()]
    seen: set[Path] = set()
    for folder in folders:
        for path in sorted(p for p in Path(folder).iterdir() if p.suffix in RECIPE_SUFFIXES and p.is_file()):
            if path.resolve() in seen or path.resolve().parent == SHIPPED_DIR.resolve():
                continue
            seen.add(path.resolve())
            if looks_like_recipe(path):
                infos.append(describe_recipe("local", str(path), path))
    return infos
