"""Pipelines: recipes run as stages over inputs (load, encode, mask, vamp, decode, write...)."""

from .engine import Engine, Geometry, VampNetEngine
from .runner import Failure, RunResult, expand_inputs, run_recipe
from .stages import output_name
from .state import Env, Stage, State

__all__ = [
    "Engine",
    "Env",
    "Failure",
    "Geometry",
    "RunResult",
    "Stage",
    "State",
    "VampNetEngine",
    "expand_inputs",
    "output_name",
    "run_recipe",
]
