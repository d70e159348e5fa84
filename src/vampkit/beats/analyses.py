"""The ``beats`` and ``onsets`` analyses mask generators read through ``MaskContext``.

Each is called as ``analysis(audio, sample_rate, **options)`` and caches its result on disk
(``vampkit.beats.cache``), so a second run on the same audio does not run the RNNs again.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any, ClassVar

import attrs

from .. import plugins
from ..params import build
from .base import Beats, BeatTracker, OnsetDetector, mono
from .cache import AnalysisCache, audio_digest, cache_key, parameters_of


def analyser_version(analyser: Any) -> str:
    """What besides parameters changes an analyser's results: the version of its package."""
    package = "madmom" if getattr(analyser, "name", "") == "madmom" else type(analyser).__module__.split(".")[0]
    try:
        return f"{package}-{importlib.metadata.version(package)}"
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return package


def _cached(kind: str, analyser: Any, samples: Any, sample_rate: int, compute: Any, encode: Any,
            decode: Any, cache: bool, cache_dir: str | Path | None) -> Any:
    if not cache:
        return compute()
    key = cache_key(kind, audio_digest(samples, sample_rate), analyser.name, parameters_of(analyser),
                    analyser_version(analyser))
    return AnalysisCache(cache_dir).get_or_compute(key, compute, encode, decode)


@attrs.frozen
class BeatsAnalysis:
    """Beats of the input (``vampkit.beats.Beats``) by a registered beat tracker."""

    name: ClassVar[str] = "beats"
    cached: ClassVar[bool] = True

    def __call__(self, audio: Any, sample_rate: int, *, tracker: str = "madmom", cache: bool = True,
                 cache_dir: str | Path | None = None, **params: Any) -> Beats:
        """Track ``audio`` with ``tracker`` built from ``params``; cached unless ``cache=False``."""
        cls = plugins.get("beat_trackers", tracker)
        instance: BeatTracker = build(cls, params, path=("beats",))
        samples = mono(audio, what="beats analysis")
        return _cached("beats", instance, samples, sample_rate, lambda: instance.track(samples, sample_rate),
                       Beats.to_dict, Beats.from_dict, cache, cache_dir)


def _decode_onsets(raw: Any) -> tuple[float, ...]:
    return Beats(times=raw).times  # same validation: finite, >= 0, sorted


@attrs.frozen
class OnsetsAnalysis:
    """Onset times of the input (seconds, a sorted tuple) by a registered onset detector
    (built-ins: ``madmom``, the default, and ``simple``)."""

    name: ClassVar[str] = "onsets"
    cached: ClassVar[bool] = True

    def __call__(self, audio: Any, sample_rate: int, *, detector: str = "madmom", cache: bool = True,
                 cache_dir: str | Path | None = None, **params: Any) -> tuple[float, ...]:
        """Detect onsets in ``audio`` with ``detector`` built from ``params``."""
        cls = plugins.get("onset_detectors", detector)
        instance: OnsetDetector = build(cls, params, path=("onsets",))
        samples = mono(audio, what="onsets analysis")
        return _cached("onsets", instance, samples, sample_rate, lambda: instance.detect(samples, sample_rate),
                       list, _decode_onsets, cache, cache_dir)
