"""``Beats`` (what a beat tracker finds), ``BeatTracker`` and ``OnsetDetector`` (what a beat
tracker and an onset detector are)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, ClassVar, Protocol, runtime_checkable

import attrs
import numpy as np
import torch

from ..errors import AnalysisError, AudioError, ParameterError


def _times(value: Iterable[float]) -> tuple[float, ...]:
    """Sorted beat times as a tuple of floats; negative or non-finite times are refused."""
    times = tuple(sorted(float(t) for t in np.asarray(value, dtype=np.float64).reshape(-1)))
    if any(not math.isfinite(t) or t < 0 for t in times):
        raise ParameterError(f"beat times must be finite and >= 0 seconds, got {times}")
    return times


def _ints(value: Iterable[int]) -> tuple[int, ...]:
    return tuple(int(v) for v in np.asarray(value, dtype=np.int64).reshape(-1))


@attrs.frozen
class Beats:
    """Beat times, downbeat times (seconds, sorted) and each beat's position in its bar.

    ``bar_positions[k]`` is the 1-based position of beat ``times[k]`` within its bar (1 = a
    downbeat), empty when the tracker does not know the bars; ``meter`` is the beats per bar
    (3 or 4 for madmom) or None.
    """

    times: tuple[float, ...] = attrs.field(converter=_times)
    downbeats: tuple[float, ...] = attrs.field(default=(), converter=_times)
    bar_positions: tuple[int, ...] = attrs.field(default=(), converter=_ints)
    meter: int | None = attrs.field(default=None)
    tracker: str = attrs.field(default="")

    def __attrs_post_init__(self) -> None:
        if self.bar_positions and len(self.bar_positions) != len(self.times):
            raise ParameterError(
                f"Beats: {len(self.bar_positions)} bar positions for {len(self.times)} beats"
            )
        if self.meter is not None and self.meter < 1:
            raise ParameterError(f"Beats: meter must be >= 1, got {self.meter}")

    @property
    def tempo(self) -> float | None:
        """Median tempo in BPM from the beat intervals, None with fewer than two beats."""
        if len(self.times) < 2:
            return None
        return float(60.0 / np.median(np.diff(self.times)))

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-able) for the analysis cache."""
        return {"times": list(self.times), "downbeats": list(self.downbeats),
                "bar_positions": list(self.bar_positions), "meter": self.meter, "tracker": self.tracker}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Beats":
        """Inverse of ``to_dict``; ``ParameterError`` or ``KeyError`` on malformed data."""
        meter = data["meter"]
        return cls(times=data["times"], downbeats=data["downbeats"], bar_positions=data["bar_positions"],
                   meter=None if meter is None else int(meter), tracker=str(data["tracker"]))


@runtime_checkable
class BeatTracker(Protocol):
    """A beat tracker: a registered ``name`` and ``track(audio, sample_rate) -> Beats``.

    ``audio`` is a ``(channels, samples)`` torch tensor or a mono numpy array. Trackers are
    frozen attrs classes whose fields are their parameters (part of the analysis cache key).
    """

    name: ClassVar[str]

    def track(self, audio: Any, sample_rate: int) -> Beats: ...


def mono(audio: Any, *, what: str = "audio") -> np.ndarray:
    """``audio`` (torch ``(channels, n)`` / ``(1, channels, n)`` / ``(n,)``, or numpy) as a
    contiguous mono float32 numpy vector; ``AudioError`` when empty or not finite."""
    if isinstance(audio, torch.Tensor):
        array = audio.detach().to("cpu", torch.float32).numpy()
    else:
        array = np.asarray(audio, dtype=np.float32)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 2:
        array = array.mean(axis=0)
    if array.ndim != 1:
        raise AudioError(f"{what}: expected (channels, samples) or mono samples, got shape {array.shape}")
    if array.size == 0:
        raise AudioError(f"{what}: the audio is empty")
    if not np.isfinite(array).all():
        raise AudioError(f"{what}: the audio contains NaN or infinite samples")
    return np.ascontiguousarray(array, dtype=np.float32)


@runtime_checkable
class OnsetDetector(Protocol):
    """An onset detector: a registered ``name`` and ``detect(audio, sample_rate) -> times``.

    ``audio`` is a mono numpy array; the result is onset times in seconds. Detectors are frozen
    attrs classes whose fields are their parameters (part of the analysis cache key).
    """

    name: ClassVar[str]

    def detect(self, audio: Any, sample_rate: int) -> Iterable[float]: ...


def resample(signal: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """Mono float32 ``signal`` at ``target_rate`` through vampkit's one resampler
    (``vampkit.audio.resample``, soxr HQ); unchanged if the rates are equal."""
    from ..audio.resample import resample as resample_tensor

    if int(sample_rate) == int(target_rate):
        return signal
    out = resample_tensor(torch.from_numpy(np.ascontiguousarray(signal, dtype=np.float32)), sample_rate, target_rate)
    return np.ascontiguousarray(out.numpy(), dtype=np.float32)


def bar_positions(times: np.ndarray, downbeats: np.ndarray, meter: int | None) -> np.ndarray:
    """1-based position in the bar of each beat, counted from the nearest earlier downbeat
    (beats before the first downbeat are counted back from it); empty without downbeats."""
    times = np.asarray(times, dtype=np.float64)
    downbeats = np.asarray(downbeats, dtype=np.float64)
    if not len(times) or not len(downbeats) or not meter:
        return np.zeros(0, dtype=np.int64)
    # index of the beat nearest each downbeat
    nearest = np.abs(times[None, :] - downbeats[:, None]).argmin(axis=1)
    anchor = np.searchsorted(nearest, np.arange(len(times)), side="right") - 1  # last downbeat beat <= k
    since = np.where(anchor >= 0, np.arange(len(times)) - nearest[np.maximum(anchor, 0)],
                     np.arange(len(times)) - nearest[0])
    return (np.mod(since, meter) + 1).astype(np.int64)


def check_beats(value: Any, *, who: str) -> Beats:
    """``value`` if it is a ``Beats``, else an ``AnalysisError`` naming ``who`` wanted it."""
    if not isinstance(value, Beats):
        raise AnalysisError(f"{who}: the 'beats' analysis gave {type(value).__name__}, expected vampkit Beats")
    return value
