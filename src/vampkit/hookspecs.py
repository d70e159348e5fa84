"""The hooks a vampkit plugin implements. Built-ins implement exactly these, as plugins do.

Every hook receives a ``register`` callable. Call it once per thing the plugin provides;
each thing has a ``name`` attribute, the key recipes and the command line use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT_NAME = "vampkit"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

Register = Callable[[Any], None]


@hookspec
def register_masks(register: Register) -> None:
    """Register mask generator classes: frozen ``attrs`` classes with a ``name`` class
    attribute, their parameters as fields, and ``__call__(ctx: MaskContext) -> Mask``."""


@hookspec
def register_bundles(register: Register) -> None:
    """Register model bundles (``vampkit.ModelBundle`` values): Hub files, token grid, context
    lengths, loudness target; each ``name`` is a ``--weights`` / recipe ``weights:`` value."""


@hookspec
def register_codecs(register: Register) -> None:
    """Register codec classes (``vampkit.Codec``), each with a ``name``."""


@hookspec
def register_beat_trackers(register: Register) -> None:
    """Register beat tracker classes (``vampkit.BeatTracker``), each with a ``name``."""


@hookspec
def register_onset_detectors(register: Register) -> None:
    """Register onset detector classes (``vampkit.OnsetDetector``), each with a ``name``: the
    ``onsets`` analysis picks one with ``analysis: {onset_detector: NAME}``."""


@hookspec
def register_analyses(register: Register) -> None:
    """Register analyses that mask generators read through ``MaskContext.analysis(name)``:
    objects with a ``name`` and ``__call__(audio, sample_rate, **options)``."""


@hookspec
def register_stages(register: Register) -> None:
    """Register pipeline stage classes for recipes, each with a ``name``."""


@hookspec
def register_metrics(register: Register) -> None:
    """Register evaluation metrics for ``vampkit eval``: frozen ``attrs`` classes with a
    ``name``, their parameters as fields, and ``kind``: ``"pair"`` (``__call__(output,
    reference, sample_rate) -> float``, one value per excerpt) or ``"set"`` (``features(audio,
    sample_rate, context) -> array [frames, dim]`` per excerpt and ``compare(outputs,
    references) -> float`` per condition, as FAD)."""


@hookspec
def register_embeddings(register: Register) -> None:
    """Register audio embeddings for set metrics such as FAD: objects with a ``name`` and
    ``__call__(audio, sample_rate, context) -> array [frames, dim]``."""
