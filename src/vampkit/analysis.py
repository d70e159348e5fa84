"""``analyses_for``: the lazy, cached analyses of one input, as ``MaskContext(analyses=...)`` takes them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import plugins
from .beats.base import mono
from .errors import ParameterError
from .naming import did_you_mean


def analyses_for(audio: Any, sample_rate: int, *, beat_tracker: str = "madmom", onset_detector: str = "madmom",
                 options: Mapping[str, Mapping[str, Any]] | None = None, cache: bool = True,
                 cache_dir: str | Path | None = None) -> dict[str, Callable[[], Any]]:
    """One zero-argument callable per registered analysis (``"beats"``, ``"onsets"``, plugins').

    Nothing runs until a mask asks (``ctx.analysis(name)``); cacheable analyses then reuse
    on-disk results for the same audio content and settings. ``options`` maps an analysis name
    to its keyword options (e.g. ``{"beats": {"max_bpm": 180}}``); ``beat_tracker`` and
    ``onset_detector`` pick the built-in analyses' back ends. ``cache=False`` always recomputes.
    """
    registry = plugins.registered("analyses")
    options = dict(options or {})
    for name in options:
        if name not in registry:
            raise ParameterError(f"options for unknown analysis '{name}'{did_you_mean(name, registry)}"
                                 f" (analyses: {', '.join(sorted(registry)) or 'none'})", path=(name,))
    samples = mono(audio)  # validates now; each analysis reuses the one mono mix
    per_analysis: dict[str, dict[str, Any]] = {name: dict(options.get(name, {})) for name in registry}
    if "beats" in per_analysis:
        per_analysis["beats"].setdefault("tracker", beat_tracker)
    if "onsets" in per_analysis:
        per_analysis["onsets"].setdefault("detector", onset_detector)
    for name, reg in registry.items():
        if getattr(reg.obj, "cached", False):
            per_analysis[name].setdefault("cache", cache)
            per_analysis[name].setdefault("cache_dir", cache_dir)

    def lazy(analysis: Any, kwargs: dict[str, Any]) -> Callable[[], Any]:
        def run() -> Any:
            from .timing import timed

            with timed("analyse"):
                return analysis(samples, sample_rate, **kwargs)

        return run

    return {name: lazy(reg.obj, per_analysis[name]) for name, reg in registry.items()}
