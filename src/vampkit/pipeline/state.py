"""What flows through a pipeline: one ``State`` per output in the making, the run's ``Env``,
and ``Stage``, what a pipeline step is (public: stage plugins are written against these)."""

from __future__ import annotations

import hashlib
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

#: how per-variation seeds are derived (recorded in every manifest)
SEED_DERIVATION = "sha256('vampkit-seed:{seed}:{variation}')[:8] as a big-endian integer, top bit cleared"


def variation_seed(seed: int, variation: int) -> int:
    """The seed of one variation: a hash of ``(seed, variation)``, so no two pairs share one.

    (``seed + variation`` would make seed 3 variation 1 equal seed 4 variation 0.) The result
    is a non-negative 63-bit integer, which every torch generator accepts.
    """
    digest = hashlib.sha256(f"vampkit-seed:{int(seed)}:{int(variation)}".encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


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
        """The seed of this variation's masks and sampling (see ``variation_seed()``); a joined
        output (variation ``loop``) uses variation 0's."""
        return variation_seed(self.seed, self.variation if isinstance(self.variation, int) else 0)

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
    """Run-wide resources shared by the stages: the engine (lazy), output folder, progress.

    ``engine`` may be given ready-made (``Env(out_dir, engine=...)``), else ``engine_factory``
    builds it on first use. ``overwrite`` lets outputs replace existing files, ``skip_existing``
    keeps them (and does not write those outputs again); ``protected``
    holds the ``(st_dev, st_ino)`` of the batch's inputs, which no output may replace;
    ``written`` maps each file this run wrote to the input it came from.
    """

    out_dir: Path
    device: str = "cpu"
    dry_run: bool = False
    quiet: bool = True
    engine_factory: Callable[[], Any] | None = None
    geometry_factory: Callable[[], Any] | None = None
    step_progress: Callable[[str, int | None], Callable[[int], None] | None] | None = None
    timings: dict[str, float] = attrs.field(factory=dict)
    written: dict[Path, Path] = attrs.field(factory=dict)
    overwrite: bool = False
    skip_existing: bool = False
    protected: frozenset[tuple[int, int]] = frozenset()
    _engine: Any = attrs.field(default=None, alias="engine")
    _geometry: Any = attrs.field(default=None, alias="geometry")

    @property
    def loaded_engine(self) -> Any:
        """The engine if it was given or loaded already, else None (never loads it)."""
        return self._engine

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
