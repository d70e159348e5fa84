"""The ``madmom`` beat tracker and onset detector: RNN activations + DBN / peak picking.

Uses madmom's bundled models, so it works offline. Those models are licensed CC BY-NC-SA 4.0
(non-commercial); madmom's code is BSD. See docs/beats.md.
"""

from __future__ import annotations

import functools
from typing import Any

import attrs
import numpy as np

from ..errors import ParameterError
from ..params import param
from ..validators import non_negative, positive
from ._madmom_compat import import_madmom
from .base import Beats, bar_positions, mono, resample

#: madmom's models expect mono audio at this rate, analysed at FPS frames per second
MADMOM_SAMPLE_RATE = 44100
FPS = 100


def _signal(audio: Any, sample_rate: int) -> Any:
    """A madmom ``Signal``: mono float32 at 44.1 kHz."""
    import_madmom()
    from madmom.audio.signal import Signal

    samples = resample(mono(audio, what="madmom tracker"), sample_rate, MADMOM_SAMPLE_RATE)
    return Signal(samples, sample_rate=MADMOM_SAMPLE_RATE, num_channels=1)


@functools.lru_cache(maxsize=None)
def _processors(name: str) -> Any:
    """madmom's RNN processors, loaded once per process (loading the networks takes time)."""
    import_madmom()
    from madmom.features.beats import RNNBeatProcessor
    from madmom.features.downbeats import RNNDownBeatProcessor
    from madmom.features.onsets import RNNOnsetProcessor

    return {"beat": RNNBeatProcessor, "downbeat": RNNDownBeatProcessor, "onset": RNNOnsetProcessor}[name]()


def _check_meters(instance: Any, attribute: attrs.Attribute, value: tuple[int, ...]) -> None:
    if not value or any(not isinstance(v, int) or isinstance(v, bool) or v < 2 for v in value):
        raise ParameterError(f"{instance.name}: {attribute.name} must be a list of integers >= 2, got {value!r}")


@attrs.frozen
class MadmomTracker:
    """Beats and downbeats with madmom's RNNs and DBNs (accurate; bundled CC BY-NC-SA models).

    Beats: ``RNNBeatProcessor`` + ``DBNBeatTrackingProcessor``; downbeats and meter:
    ``RNNDownBeatProcessor`` + ``DBNDownBeatTrackingProcessor`` over ``beats_per_bar``. Both
    run from one resampled signal in one ``track`` call; downbeats are snapped to the beats.
    """

    name = "madmom"

    min_bpm: float = param(55.0, doc="slowest tempo considered (BPM)", validator=positive)
    max_bpm: float = param(215.0, doc="fastest tempo considered (BPM)", validator=positive)
    threshold: float = param(0.05, doc="ignore beat activations below this before decoding "
                             "(drops spurious beats in silent edges)", validator=non_negative)
    beats_per_bar: tuple[int, ...] = param((3, 4), doc="meters the downbeat tracker chooses from",
                                           converter=tuple, validator=_check_meters)
    transition_lambda: float = param(100.0, doc="tempo change penalty of the DBNs (higher: steadier)",
                                     validator=positive)

    def __attrs_post_init__(self) -> None:
        if self.max_bpm <= self.min_bpm:
            raise ParameterError(f"madmom: max_bpm ({self.max_bpm}) must exceed min_bpm ({self.min_bpm})")

    def activations(self, audio: Any, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        """The RNN part (the costly one): beat activations ``(frames,)`` and beat/downbeat
        activations ``(frames, 2)``, both at 100 frames per second."""
        signal = _signal(audio, sample_rate)
        return _processors("beat")(signal), _processors("downbeat")(signal)

    def track(self, audio: Any, sample_rate: int) -> Beats:
        """Beat times, downbeats, bar positions and meter of ``audio``."""
        beat_act, downbeat_act = self.activations(audio, sample_rate)
        return self.decode(beat_act, downbeat_act)

    def decode(self, beat_act: np.ndarray, downbeat_act: np.ndarray) -> Beats:
        """The DBN part: ``Beats`` from the activations of ``activations``."""
        import_madmom()
        from madmom.features.beats import DBNBeatTrackingProcessor
        from madmom.features.downbeats import DBNDownBeatTrackingProcessor

        beats = DBNBeatTrackingProcessor(
            min_bpm=self.min_bpm, max_bpm=self.max_bpm, transition_lambda=self.transition_lambda,
            threshold=self.threshold, fps=FPS)(beat_act)
        found = DBNDownBeatTrackingProcessor(
            beats_per_bar=list(self.beats_per_bar), min_bpm=self.min_bpm, max_bpm=self.max_bpm,
            transition_lambda=self.transition_lambda, threshold=self.threshold, fps=FPS)(downbeat_act)
        found = np.asarray(found, dtype=np.float64).reshape(-1, 2)
        raw_downbeats = found[found[:, 1] == 1, 0]
        meter = int(found[:, 1].max()) if len(found) else None
        beats = np.asarray(beats, dtype=np.float64)
        downbeats = snap(raw_downbeats, beats)
        return Beats(times=beats, downbeats=downbeats, bar_positions=bar_positions(beats, downbeats, meter),
                     meter=meter, tracker=self.name)


def snap(downbeats: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Each downbeat moved onto the nearest beat when one lies within a quarter of the median
    beat interval (two DBNs rarely agree to the frame); others are kept as found."""
    if not len(downbeats) or len(beats) < 2:
        return downbeats
    nearest = beats[np.abs(beats[None, :] - downbeats[:, None]).argmin(axis=1)]
    tolerance = 0.25 * float(np.median(np.diff(beats)))
    return np.unique(np.where(np.abs(nearest - downbeats) <= tolerance, nearest, downbeats))


@attrs.frozen
class MadmomOnsets:
    """Onset times with madmom's ``RNNOnsetProcessor`` + ``OnsetPeakPickingProcessor``.

    Peak picking runs at the activations' true rate (100 fps): upstream VampNet passed the
    token rate there, which stretched its onset times by 100 / 57.4.
    """

    name = "madmom"

    threshold: float = param(0.3, doc="peak-picking threshold on the onset activation (upstream: 0.3)",
                             validator=non_negative)
    combine: float = param(0.03, doc="onsets closer than this (s) are merged", validator=non_negative)

    def activations(self, audio: Any, sample_rate: int) -> np.ndarray:
        """Onset activation function ``(frames,)`` at 100 frames per second."""
        return _processors("onset")(_signal(audio, sample_rate))

    def detect(self, audio: Any, sample_rate: int) -> tuple[float, ...]:
        """Onset times in seconds, sorted."""
        import_madmom()
        from madmom.features.onsets import OnsetPeakPickingProcessor

        picker = OnsetPeakPickingProcessor(threshold=self.threshold, combine=self.combine, fps=FPS)
        return tuple(float(t) for t in picker(self.activations(audio, sample_rate)))
