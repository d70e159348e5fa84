"""What flows through a pipeline: one ``State`` per output in the making, the run's ``Env``,
and ``Stage``, what a pipeline step is (public: stage plugins are written against these)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import attrs
import torch

from ..audio import Audio, EncodedAudio
from ..mask import Mask
from ..recipes.schema import Recipe


@attrs.frozen(eq=False)
class State:
    """One (input, variation, sweep point) on its way to an output file.

    Stages return new states (``evolve``); ``audio`` is the input (an excerpt, at its own rate
    and channels), ``encoded`` its tokens with the loudness measured when encoding, ``codes``
    the input tokens ``(1, C, T)``, ``mask`` the whole-grid mask (True = generated),
    ``out_codes`` what the model made and ``out_audio`` their audio. ``analyses`` is shared by
    every state of one input, so analyses run once per input (not per variation or sweep point).
    """

    input: Path
    recipe: Recipe
    seed: int
    variation: int | str = 0
    point: str = ""
    audio: Audio | None = None
    encoded: EncodedAudio | None = None
    codes: torch.Tensor | None = None
    n_frames: int | None = None
    mask: Mask | None = None
    out_codes: torch.Tensor | None = None
    out_audio: Audio | None = None
    outputs: tuple[Path, ...] = ()
    info: dict[str, Any] = attrs.field(factory=dict)
    analyses: dict[Any, Any] | None = attrs.field(default=None, repr=False)

    @property
    def stem(self) -> str:
        return self.input.stem

    @property
    def variation_seed(self) -> int:
        """The seed of this variation's masks and sampling: ``seed + variation``."""
        return self.seed + (self.variation if isinstance(self.variation, int) else 0)

    def generator(self, device: torch.device | str = "cpu") -> torch.Generator:
        """A fresh generator seeded with ``variation_seed`` (same seed, same output)."""
        generator = torch.Generator(device=device)
        generator.manual_seed(self.variation_seed)
        return generator

    def evolve(self, **changes: Any) -> "State":
        return attrs.evolve(self, **changes)

    def with_info(self, **values: Any) -> "State":
        return attrs.evolve(self, info={**self.info, **values})


@attrs.define
class Env:
    """Run-wide resources shared by the stages: the engine (lazy), output folder, progress."""

    out_dir: Path
    device: str = "cpu"
    dry_run: bool = False
    quiet: bool = True
    engine_factory: Callable[[], Any] | None = None
    geometry_factory: Callable[[], Any] | None = None
    step_progress: Callable[[str, int | None], Callable[[int], None] | None] | None = None
    timings: dict[str, float] = attrs.field(factory=dict)
    written: list[Path] = attrs.field(factory=list)
    _engine: Any = None
    _geometry: Any = None

    @property
    def engine(self) -> Any:
        """The models and codec, loaded on first use (never in a dry run)."""
        if self.dry_run:
            raise RuntimeError("a dry run must not use the model")  # a stage bug, not user input
        if self._engine is None:
            assert self.engine_factory is not None
            with self.timed("load models"):
                self._engine = self.engine_factory()
        return self._engine

    @property
    def geometry(self) -> Any:
        """Codec grid geometry (sample rate, hop, codebooks, codebook size) without a model."""
        if self._engine is not None:
            return self._engine.geometry
        if self._geometry is None:
            if self.dry_run or self.geometry_factory is not None and self.engine_factory is None:
                assert self.geometry_factory is not None
                self._geometry = self.geometry_factory()
            else:
                return self.engine.geometry
        return self._geometry

    @contextmanager
    def timed(self, label: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[label] = self.timings.get(label, 0.0) + time.perf_counter() - start

    def progress(self, label: str, total: int | None) -> Callable[[int], None] | None:
        """A callback advancing a per-step progress bar, or None when quiet."""
        if self.step_progress is None:
            return None
        return self.step_progress(label, total)


@runtime_checkable
class Stage(Protocol):
    """A pipeline step: a frozen attrs class with a ``name`` (its key in a recipe's
    ``pipeline:``), its parameters as ``vampkit.param()`` fields, and ``__call__(states, env)``.

    It receives every state of one input at once (one per variation and sweep point) and
    returns the states for the next stage: the same number (transform each with
    ``state.evolve``), more (fan out) or fewer (join). In a dry run (``env.dry_run``) it must
    not touch ``env.engine``. Register stage classes with the ``register_stages`` hook.
    """

    name: ClassVar[str]

    def __call__(self, states: list[State], env: Env) -> list[State]: ...
