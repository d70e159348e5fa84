"""The built-in beat trackers, onset detectors and analyses, registered through the same hooks as any plugin's."""

from __future__ import annotations

from ..hookspecs import hookimpl
from .analyses import BeatsAnalysis, OnsetsAnalysis
from .madmom import MadmomOnsets, MadmomTracker
from .simple import SimpleOnsets, SimpleTracker

BUILTIN_BEAT_TRACKERS = (MadmomTracker, SimpleTracker)
BUILTIN_ONSET_DETECTORS = (MadmomOnsets, SimpleOnsets)
BUILTIN_ANALYSES = (BeatsAnalysis(), OnsetsAnalysis())


@hookimpl
def register_beat_trackers(register):  # noqa: ANN001, ANN201 - hook signature
    for tracker in BUILTIN_BEAT_TRACKERS:
        register(tracker)


@hookimpl
def register_onset_detectors(register):  # noqa: ANN001, ANN201 - hook signature
    for detector in BUILTIN_ONSET_DETECTORS:
        register(detector)


@hookimpl
def register_analyses(register):  # noqa: ANN001, ANN201 - hook signature
    for analysis in BUILTIN_ANALYSES:
        register(analysis)
