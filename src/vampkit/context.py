"""``MaskContext``: everything a mask generator may read about the grid it builds a mask for."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
import torch

from .errors import AnalysisError, ParameterError
from .units import frames_to_seconds, seconds_to_frames


def _generator_from_seed(seed: int) -> torch.Generator:
    generator = torch.Generator(device="cpu")
    generator.manual_seed(int(seed))
    return generator


def _hop_for(sample_rate: int, frame_rate: float) -> int:
    if frame_rate <= 0:
        raise ParameterError(f"frame_rate must be positive, got {frame_rate}")
    return max(1, round(sample_rate / frame_rate))


@attrs.frozen
class MaskContext:
    """The token grid's size and units, a seeded RNG, and lazy access to audio and analyses.

    The units are ``sample_rate`` and ``hop_length`` (samples per frame; default 768, VampNet's
    codec) or, equivalently, ``frame_rate=`` (frames per second, keyword only), from which the
    hop is derived; both are readable afterwards. Generators draw random numbers only from
    ``generator`` (a CPU ``torch.Generator`` seeded with ``seed``), never from global RNG
    state, so one seed gives one mask. Audio and
    analyses (``"beats"``, ``"onsets"``, or anything a plugin supplies) are computed on first
    access and cached for the life of the context.
    """

    n_codebooks: int = attrs.field(converter=int)
    n_frames: int = attrs.field(converter=int)
    sample_rate: int = attrs.field(default=44100, converter=int)
    hop_length: int = attrs.field(default=None, converter=attrs.converters.optional(int))
    seed: int = attrs.field(default=0, converter=int)
    frame_rate: float = attrs.field(default=None, kw_only=True, converter=attrs.converters.optional(float))
    device: torch.device = attrs.field(default="cpu", converter=torch.device)
    audio_loader: Callable[[], torch.Tensor] | None = attrs.field(default=None, repr=False)
    analyses: Mapping[str, Callable[[], Any]] = attrs.field(factory=dict, repr=False)
    generator: torch.Generator = attrs.field(init=False, repr=False)
    _cache: dict[str, Any] = attrs.field(init=False, factory=dict, repr=False)

    @generator.default
    def _default_generator(self) -> torch.Generator:
        return _generator_from_seed(self.seed)

    def __attrs_post_init__(self) -> None:
        # the grid's units: a hop (samples per frame), or a frame rate that gives a whole hop
        hop, rate = self.hop_length, self.frame_rate
        if hop is None:
            hop = 768 if rate is None else _hop_for(self.sample_rate, rate)
        if hop < 1 or self.sample_rate < 1:
            raise ParameterError("sample_rate and hop_length must be positive")
        if rate is not None and abs(self.sample_rate / hop - rate) > 1e-3 * rate:
            raise ParameterError(
                f"frame_rate {rate} does not match sample_rate {self.sample_rate} / hop_length {hop}")
        object.__setattr__(self, "hop_length", hop)
        object.__setattr__(self, "frame_rate", self.sample_rate / hop)
        if self.n_codebooks < 1 or self.n_frames < 1:
            raise ParameterError(
                f"a mask needs at least one codebook and one frame, got "
                f"{self.n_codebooks} codebooks x {self.n_frames} frames"
            )

    @property
    def duration(self) -> float:
        """Seconds covered by the grid."""
        return frames_to_seconds(self.n_frames, self.sample_rate, self.hop_length)

    def seconds_to_frames(self, seconds: float) -> int:
        """Frames covering ``seconds``, rounded up as upstream VampNet's ``s2t``."""
        return seconds_to_frames(seconds, self.sample_rate, self.hop_length)

    def frames_to_seconds(self, frames: int) -> float:
        return frames_to_seconds(frames, self.sample_rate, self.hop_length)

    def full(self) -> torch.Tensor:
        """A ``(n_codebooks, n_frames)`` bool tensor of True (generate everything)."""
        return torch.ones(self.n_codebooks, self.n_frames, dtype=torch.bool)

    def frames_mask(self, kept_frames: torch.Tensor) -> torch.Tensor:
        """Mask tensor keeping whole frames: ``kept_frames`` is a bool ``(n_frames,)`` vector."""
        return (~kept_frames).unsqueeze(0).expand(self.n_codebooks, -1).clone()

    @property
    def audio(self) -> torch.Tensor:
        """The input audio ``(channels, samples)`` at ``sample_rate``, loaded on first use."""
        if "audio" not in self._cache:
            if self.audio_loader is None:
                raise AnalysisError("this mask needs the input audio, but none was given to the context")
            self._cache["audio"] = self.audio_loader()
        return self._cache["audio"]

    def has_analysis(self, name: str) -> bool:
        return name in self.analyses

    def analysis(self, name: str) -> Any:
        """The named analysis (e.g. ``"beats"``), computed on first use and cached."""
        key = f"analysis:{name}"
        if key not in self._cache:
            if name not in self.analyses:
                available = ", ".join(sorted(self.analyses)) or "none"
                raise AnalysisError(f"no '{name}' analysis is available for this input (available: {available})")
            self._cache[key] = self.analyses[name]()
        return self._cache[key]

    @property
    def beats(self) -> Any:
        """Beat analysis (``vampkit.Beats``) of the input, supplied by a beat-tracker plugin."""
        return self.analysis("beats")

    @property
    def onsets(self) -> Any:
        """Onset times of the input (seconds), supplied by an analysis plugin."""
        return self.analysis("onsets")
