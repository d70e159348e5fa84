"""Beat- and onset-driven prompts: keep the frames around each beat (the paper's beat-driven
prompt) or each onset, and generate the rest. Beats and onsets come from ``MaskContext``
analyses, so no tracker runs here and other masks can reuse the same analysis.

Frames are upstream VampNet's: beat ``t`` is frame ``ceil(t * sr / hop)``; onset ``t`` is frame
``int(t * sr) // hop`` (librosa's ``time_to_frames``). Windows are half-open ``[start, stop)``.
A start before frame 0 follows ``edges``: ``"upstream"`` (default) applies Python slicing as
upstream does (a negative start counts from the end, so the window is usually empty);
``"clamp"`` starts the window at frame 0.
"""

from __future__ import annotations

from typing import Literal

import attrs
import numpy as np
import torch

from ..beats.base import check_beats
from ..context import MaskContext
from ..errors import AnalysisError
from ..mask import Mask
from ..params import param
from ..validators import duration, non_negative, positive, probability

Edges = Literal["upstream", "clamp"]


def span_frames(n_frames: int, starts: torch.Tensor, stops: torch.Tensor, edges: str = "upstream") -> torch.Tensor:
    """Bool ``(n_frames,)``: the union of windows ``[starts[k], stops[k])``, vectorised over
    windows. ``edges="upstream"`` resolves bounds as Python slices do; ``"clamp"`` clips at 0."""
    starts = starts.to(torch.int64)
    stops = stops.to(torch.int64)
    if edges == "upstream":
        starts = torch.where(starts < 0, starts + n_frames, starts)
        stops = torch.where(stops < 0, stops + n_frames, stops)
    starts = starts.clamp(0, n_frames)
    stops = stops.clamp(0, n_frames)
    live = starts < stops
    delta = torch.zeros(n_frames + 1, dtype=torch.int64)
    delta.index_add_(0, starts[live], torch.ones_like(starts[live]))
    delta.index_add_(0, stops[live], -torch.ones_like(stops[live]))
    return torch.cumsum(delta, 0)[:n_frames] > 0


def beat_frames(times: tuple[float, ...] | np.ndarray, sample_rate: int, hop_length: int) -> torch.Tensor:
    """Upstream's beat time -> token frame: ``ceil(t * sr / hop)`` (int64 tensor)."""
    values = np.ceil(np.asarray(times, dtype=np.float64) * sample_rate / hop_length)
    return torch.from_numpy(values.astype(np.int64).reshape(-1))


def onset_frames(times: tuple[float, ...] | np.ndarray, sample_rate: int, hop_length: int) -> torch.Tensor:
    """Upstream's onset time -> token frame: ``int(t * sr) // hop`` (int64 tensor)."""
    samples = (np.asarray(times, dtype=np.float64) * sample_rate).astype(np.int64)
    return torch.from_numpy((samples // hop_length).reshape(-1))


@attrs.frozen
class Beat:
    """Keep `before`/`after` seconds around each beat (or downbeat, or every Nth); generate the rest."""

    name = "beat"

    before: float = param(0.0375, doc="seconds kept before each beat (frames: ceil(s*sr/hop); paper: 0.0375)",
                          validator=duration)
    after: float = param(0.0375, doc="seconds kept from each beat on (paper: 0.0375; upstream app: 0.05)",
                         validator=duration)
    downbeats_only: bool = param(False, doc="keep around downbeats only (needs a tracker that finds them)")
    every: int = param(1, doc="keep every Nth of the selected beats, starting with the first", validator=positive)
    edges: Edges = param("upstream", doc="a window starting before frame 0: 'upstream' (Python slice, "
                         "usually empty) or 'clamp' (start at frame 0)")
    dropout: float = param(0.0, doc="generate each frame of the beat windows with this probability "
                                    "(seeded; upstream make_beat_mask's dropout)", validator=probability)

    def selected_times(self, ctx: MaskContext) -> np.ndarray:
        """Beat times (s) this generator keeps around, from ``ctx.beats``."""
        beats = check_beats(ctx.beats, who=self.name)
        if self.downbeats_only:
            if not beats.downbeats and beats.times and beats.meter is None:
                raise AnalysisError(
                    f"beat: downbeats_only needs downbeats, but the '{beats.tracker or 'given'}' tracker "
                    f"found none (use the madmom tracker)"
                )
            times = np.asarray(beats.downbeats, dtype=np.float64)
        else:
            times = np.asarray(beats.times + beats.downbeats, dtype=np.float64)
        return times

    def __call__(self, ctx: MaskContext) -> Mask:
        frames = beat_frames(self.selected_times(ctx), ctx.sample_rate, ctx.hop_length)
        frames = torch.unique(frames)[:: self.every]  # sorted; a beat and downbeat in one frame count once
        before = ctx.seconds_to_frames(self.before)
        after = ctx.seconds_to_frames(self.after)
        kept = span_frames(ctx.n_frames, frames - before, frames + after, self.edges)
        if self.dropout > 0:
            kept &= torch.rand(ctx.n_frames, generator=ctx.generator) >= self.dropout
        return Mask(ctx.frames_mask(kept))


@attrs.frozen
class Onset:
    """Keep `width` frames on each side of every detected onset; generate the rest."""

    name = "onset"

    width: int = param(5, doc="frames kept on each side: [i - width, i + width) (upstream app: 5)",
                       validator=non_negative)
    edges: Edges = param("upstream", doc="a window starting before frame 0: 'upstream' (Python slice, "
                         "usually empty) or 'clamp' (start at frame 0)")

    def __call__(self, ctx: MaskContext) -> Mask:
        onsets = ctx.onsets
        try:
            times = np.asarray(onsets, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise AnalysisError(f"onset: the 'onsets' analysis gave {type(onsets).__name__}, "
                                f"expected onset times in seconds") from exc
        frames = onset_frames(times, ctx.sample_rate, ctx.hop_length)
        kept = span_frames(ctx.n_frames, frames - self.width, frames + self.width, self.edges)
        return Mask(ctx.frames_mask(kept))
