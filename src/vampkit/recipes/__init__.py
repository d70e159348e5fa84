"""Recipes: YAML files that compose mask generators and pipeline stages, validated up front."""

from .loader import (
    SourceMap,
    load_recipe,
    loads_recipe,
    override,
    parse_override,
    resolve_recipe_path,
    shipped_recipes,
)
from .schema import DEFAULT_PIPELINE, DEFAULT_TEMPLATE, OutputSpec, Recipe, StageSpec, WeightsSpec

__all__ = [
    "DEFAULT_PIPELINE",
    "DEFAULT_TEMPLATE",
    "OutputSpec",
    "Recipe",
    "SourceMap",
    "StageSpec",
    "WeightsSpec",
    "load_recipe",
    "loads_recipe",
    "override",
    "parse_override",
    "resolve_recipe_path",
    "shipped_recipes",
]
