"""``vampkit eval``: score prompt types (recipes, mask plugins) the way the VampNet paper did."""

from __future__ import annotations

from .experiment import Condition, Experiment, load_experiment, loads_experiment
from .fad import frechet_distance
from .mel import mel_distance
from .runner import EvalResult, evaluate

__all__ = ["Condition", "EvalResult", "Experiment", "evaluate", "frechet_distance", "load_experiment",
           "loads_experiment", "mel_distance"]
