"""The app's one door to the models: loaded once per process, runs go through ``run_recipe``.

Everything the page generates goes through ``vampkit.run_recipe`` with this shared engine,
so the app and ``vampkit run`` share one sampling path. When the way models are bundled and
loaded changes, this module is the only app code to re-point.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import RecipeError
from ..recipes.schema import WeightsSpec

_HOSTS: dict[tuple[Any, str], EngineHost] = {}
_HOSTS_LOCK = threading.Lock()


def weights_spec(weights: str | Mapping[str, str] | None) -> WeightsSpec:
    """``None``/a preset name, ``COARSE,C2F,CODEC`` or a mapping -> a recipe's weights value."""
    if weights is None:
        return WeightsSpec()
    if isinstance(weights, str):
        parts = [p.strip() for p in weights.split(",")]
        if len(parts) == 1:
            return WeightsSpec(preset=parts[0])
        if len(parts) != 3:
            raise RecipeError(f"--weights {weights}: give a preset name or three paths COARSE,C2F,CODEC")
        weights = dict(zip(("coarse", "c2f", "codec"), parts))
    paths = {k: str(Path(os.path.expanduser(str(weights[k]))).resolve()) for k in ("coarse", "c2f", "codec")
             if weights.get(k) is not None}
    return WeightsSpec(preset=None, **paths)


class EngineHost:
    """One loaded engine and a lock: a run owns the models from encode to decode."""

    def __init__(self, spec: WeightsSpec, device: str) -> None:
        from ..pipeline.engine import VampNetEngine, resolve_weights

        self.spec = spec
        self.engine = VampNetEngine(resolve_weights(spec), device, spec.lora)
        self.device = str(self.engine.device)
        self.geometry = self.engine.geometry
        self._lock = threading.Lock()

    def recipe_weights(self) -> str | dict[str, str]:
        """The weights as a recipe writes them (so a downloaded recipe reproduces the run)."""
        return self.spec.describe()

    def run(self, recipe: Any, input_path: Path, out_dir: Path, *,
            progress: Callable[[str, int], Callable[[int], None] | None] | None = None) -> Any:
        """``run_recipe`` over one input with the shared models; one run at a time per engine."""
        from ..pipeline import run_recipe

        with self._lock:
            return run_recipe(recipe, [input_path], out_dir, engine=self.engine, progress=progress)


def engine_host(weights: str | Mapping[str, str] | None, device: str = "auto") -> EngineHost:
    """The process's engine for these weights and device, loaded on first use and then shared."""
    spec = weights_spec(weights)
    key = (spec, device)
    with _HOSTS_LOCK:
        if key not in _HOSTS:
            _HOSTS[key] = EngineHost(spec, device)
        return _HOSTS[key]
