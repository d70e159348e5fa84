"""The conformance kit for mask generators: one line in a plugin author's test suite.

``check_mask_generator(MyMask)`` checks, with hypothesis over random token grids, that a
generator keeps vampkit's contract: it is a frozen attrs class registered under its ``name``
and listed by ``vampkit masks`` with documented parameters; it builds with its defaults from
plain data; it returns a bool ``(n_codebooks, n_frames)`` ``vampkit.Mask``; one seed gives one
mask whatever the global RNG state; bad parameters raise ``vampkit.ParameterError``; and it
works inside ``all-of`` / ``any-of`` / ``not``. ``MaskGeneratorConformance`` is the same as a
pytest base class with one test per check.

Generators that read the input audio or an analysis get them from factories the author
passes (``audio=noise_audio``, ``analyses={"onsets": synthetic_onsets}``): each factory is
called with the ``Grid`` of the context it feeds and must be a pure function of it.
"""

from __future__ import annotations

import contextlib
import functools
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import attrs
import torch

from . import plugins
from .context import MaskContext
from .errors import AnalysisError, ParameterError
from .mask import Mask
from .masks.spec import build_mask_generator
from .params import describe, resolved_fields

__all__ = [
    "ConformanceError",
    "Grid",
    "MaskGeneratorChecks",
    "MaskGeneratorConformance",
    "check_mask_generator",
    "grids",
    "make_context",
    "noise_audio",
    "standard_analyses",
    "synthetic_beats",
    "synthetic_onsets",
]

#: (sample_rate, hop_length) pairs of the codecs vampkit meets: VampNet's LAC, DAC 44k/24k/16k
FRAME_GEOMETRIES: tuple[tuple[int, int], ...] = ((44100, 768), (44100, 512), (24000, 320), (16000, 320))


class ConformanceError(AssertionError):
    """A generator broke the contract; the message names the generator, the check and the case."""


@attrs.frozen
class Grid:
    """Geometry and seed of one test context; audio and analysis factories receive it."""

    n_codebooks: int
    n_frames: int
    sample_rate: int = 44100
    hop_length: int = 768
    seed: int = 0

    @property
    def n_samples(self) -> int:
        """Samples covered by the grid (``n_frames * hop_length``)."""
        return self.n_frames * self.hop_length

    @property
    def duration(self) -> float:
        return self.n_samples / self.sample_rate


AudioFactory = Callable[[Grid], torch.Tensor]
AnalysisFactory = Callable[[Grid], Any]


def _local_generator(grid: Grid, salt: int) -> torch.Generator:
    generator = torch.Generator(device="cpu")
    generator.manual_seed((grid.seed * 1_000_003 + salt) % (2**63 - 1))
    return generator


def noise_audio(grid: Grid) -> torch.Tensor:
    """Stereo noise ``(2, n_samples)`` whose level jumps between -80 and 0 dBFS in random
    segments (some silent): a test input with loud and quiet parts, a pure function of ``grid``."""
    generator = _local_generator(grid, 1)
    n = grid.n_samples
    n_segments = int(torch.randint(1, 9, (1,), generator=generator))
    bounds = torch.sort(torch.randint(0, n + 1, (n_segments - 1,), generator=generator)).values
    levels_db = torch.rand(n_segments, generator=generator, dtype=torch.float64) * -80.0
    levels_db[torch.rand(n_segments, generator=generator) < 0.15] = -math.inf  # digital silence
    segment = torch.bucketize(torch.arange(n), bounds, right=True)
    gain = torch.pow(10.0, levels_db / 20.0)[segment]
    noise = torch.rand(2, n, generator=generator, dtype=torch.float64) * 2 - 1
    return (noise * gain).to(torch.float32)


def synthetic_onsets(grid: Grid) -> torch.Tensor:
    """Sorted onset times in seconds inside the grid (1-D float64), a pure function of ``grid``."""
    generator = _local_generator(grid, 2)
    count = int(torch.randint(0, max(2, int(grid.duration * 4)) + 1, (1,), generator=generator))
    times = torch.rand(count, generator=generator, dtype=torch.float64) * grid.duration
    return torch.sort(times).values


def synthetic_beats(grid: Grid) -> Any:
    """A regular 4/4 beat grid (``vampkit.beats.base.Beats``) at a tempo drawn from 60-180 BPM,
    every fourth beat a downbeat; a pure function of ``grid``."""
    from .beats.base import Beats

    generator = _local_generator(grid, 3)
    period = 60.0 / (60.0 + 120.0 * float(torch.rand(1, generator=generator, dtype=torch.float64)))
    phase = float(torch.rand(1, generator=generator, dtype=torch.float64)) * period
    count = max(0, math.ceil((grid.duration - phase) / period))
    times = [phase + k * period for k in range(count)]
    positions = [k % 4 + 1 for k in range(count)]
    downbeats = [t for t, p in zip(times, positions) if p == 1]
    return Beats(times=times, downbeats=downbeats, bar_positions=positions, meter=4, tracker="synthetic")


def standard_analyses() -> dict[str, AnalysisFactory]:
    """Synthetic factories for the analyses vampkit's own generators read: beats and onsets."""
    return {"beats": synthetic_beats, "onsets": synthetic_onsets}


def make_context(grid: Grid, *, audio: AudioFactory | None = None,
                 analyses: Mapping[str, AnalysisFactory] | None = None) -> MaskContext:
    """A fresh ``MaskContext`` for ``grid`` (its own seeded generator) fed by the factories."""
    return MaskContext(
        n_codebooks=grid.n_codebooks, n_frames=grid.n_frames, sample_rate=grid.sample_rate,
        hop_length=grid.hop_length, seed=grid.seed,
        audio_loader=functools.partial(audio, grid) if audio is not None else None,
        analyses={name: functools.partial(factory, grid) for name, factory in (analyses or {}).items()},
    )


def grids(*, min_codebooks: int = 1, max_codebooks: int = 14, min_frames: int = 1, max_frames: int = 500,
          geometries: Sequence[tuple[int, int]] = FRAME_GEOMETRIES) -> Any:
    """A hypothesis strategy of ``Grid``s: sizes in the given ranges, real codec frame rates."""
    from hypothesis import strategies as st

    if not 1 <= min_codebooks <= max_codebooks or not 1 <= min_frames <= max_frames:
        raise ParameterError("grids: need 1 <= min_codebooks <= max_codebooks and 1 <= min_frames <= max_frames")

    @st.composite
    def draw_grid(draw: Callable[[Any], Any]) -> Grid:
        sample_rate, hop_length = draw(st.sampled_from(list(geometries)))
        return Grid(
            n_codebooks=draw(st.integers(min_codebooks, max_codebooks)),
            n_frames=draw(st.integers(min_frames, max_frames)),
            sample_rate=sample_rate, hop_length=hop_length,
            seed=draw(st.integers(0, 2**32 - 1)),
        )

    return draw_grid()


@contextlib.contextmanager
def _global_rng_preserved() -> Iterator[None]:
    import numpy as np

    torch_state, py_state, np_state = torch.get_rng_state(), random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        torch.set_rng_state(torch_state)
        random.setstate(py_state)
        np.random.set_state(np_state)


def _scramble_global_rng(seed: int) -> None:
    import numpy as np

    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.rand(int(seed % 7) + 1)  # and move the streams on a little
    random.random()
    np.random.rand()


try:
    _EXCEPTION_GROUPS: tuple[type[BaseException], ...] = (BaseExceptionGroup,)  # Python >= 3.11
except NameError:  # pragma: no cover - Python 3.10: hypothesis brings the backport
    try:
        from exceptiongroup import BaseExceptionGroup as _Backport

        _EXCEPTION_GROUPS = (_Backport,)
    except ImportError:
        _EXCEPTION_GROUPS = ()


def _first_conformance_error(group: Any) -> ConformanceError | None:
    for exc in group.exceptions:
        if isinstance(exc, ConformanceError):
            return exc
        if isinstance(exc, _EXCEPTION_GROUPS):
            found = _first_conformance_error(exc)
            if found is not None:
                return found
    return None


def _fields_of_plain_type(cls: type) -> list[tuple[str, type]]:
    return [(f.name, f.type) for f in resolved_fields(cls)
            if f.type in (int, float, bool) and "nested" not in f.metadata]


@attrs.frozen
class MaskGeneratorChecks:
    """The contract checks for one mask generator class; ``run_all()`` runs every one.

    ``params`` builds the generator under test (default: its defaults); ``invalid`` lists
    parameter mappings that must be refused with ``ParameterError``; ``audio`` and
    ``analyses`` are factories feeding the contexts; the ``*_frames`` / ``*_codebooks`` bounds
    shape the random grids (raise them when the defaults need a long input).
    """

    generator: type
    params: Mapping[str, Any] = attrs.field(factory=dict, converter=dict)
    invalid: tuple[Mapping[str, Any], ...] = attrs.field(default=(), converter=tuple)
    audio: AudioFactory | None = None
    analyses: Mapping[str, AnalysisFactory] = attrs.field(factory=dict, converter=dict)
    max_examples: int = 25
    min_codebooks: int = 1
    max_codebooks: int = 14
    min_frames: int = 1
    max_frames: int = 500

    # -- helpers ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(getattr(self.generator, "name", getattr(self.generator, "__name__", self.generator)))

    @property
    def spec(self) -> dict[str, Any]:
        return {self.name: dict(self.params)}

    def fail(self, check: str, message: str) -> ConformanceError:
        return ConformanceError(f"mask generator '{self.name}' fails '{check}': {message}")

    def context(self, grid: Grid) -> MaskContext:
        return make_context(grid, audio=self.audio, analyses=self.analyses)

    def comfortable_grid(self) -> Grid:
        """A roomy fixed grid (about 10 s of 14 codebooks where the bounds allow)."""
        return Grid(n_codebooks=min(max(14, self.min_codebooks), self.max_codebooks),
                    n_frames=min(max(575, self.min_frames), self.max_frames), seed=1234)

    def build(self) -> Any:
        try:
            return build_mask_generator(self.spec)
        except ParameterError as exc:
            raise self.fail("builds with its defaults", f"{self.spec} raised {exc}") from exc

    def call(self, instance: Any, grid: Grid, check: str) -> Mask:
        """Call ``instance`` on a fresh context for ``grid``; ParameterError means "does not
        fit this grid" and rejects the example; other vampkit errors are failures."""
        from hypothesis import reject

        try:
            return instance(self.context(grid))
        except ParameterError:
            reject()
        except AnalysisError as exc:
            raise self.fail(check, f"on {grid}: {exc} (pass audio= / analyses= factories to the kit)") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def for_random_grids(self, test: Callable[[Grid], None]) -> None:
        """Run ``test(grid)`` over hypothesis-drawn grids."""
        from hypothesis import HealthCheck, given, settings

        strategy = grids(min_codebooks=self.min_codebooks, max_codebooks=self.max_codebooks,
                         min_frames=self.min_frames, max_frames=self.max_frames)

        # no example database: every generator would share this one function's entries; the
        # failing grid is in the ConformanceError message instead
        @settings(max_examples=self.max_examples, deadline=None, report_multiple_bugs=False, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
        @given(strategy)
        def run(grid: Grid) -> None:
            test(grid)

        try:
            run()
        except _EXCEPTION_GROUPS as group:  # hypothesis' FlakyFailure: a generator that is not
            leaf = _first_conformance_error(group)  # deterministic fails differently on replay
            if leaf is None:
                raise
            raise leaf from group

    # -- the checks ---------------------------------------------------------------------
    def check_class(self) -> None:
        """A frozen attrs class with a non-empty string ``name`` and ``__call__``."""
        cls = self.generator
        if not isinstance(cls, type) or not attrs.has(cls):
            raise self.fail("is a frozen attrs class", f"{cls!r} is not an attrs class")
        if not isinstance(getattr(cls, "name", None), str) or not cls.name:
            raise self.fail("is a frozen attrs class", "it has no string class attribute 'name'")
        if "__call__" not in dir(cls):
            raise self.fail("is a frozen attrs class", "it has no __call__(ctx)")
        instance = self.build()
        fields = resolved_fields(cls)
        if fields:
            try:
                setattr(instance, fields[0].name, getattr(instance, fields[0].name))
            except attrs.exceptions.FrozenInstanceError:
                pass
            else:
                raise self.fail("is a frozen attrs class", "its instances can be changed (use @attrs.frozen)")

    def check_registered(self) -> None:
        """Registered under its ``name`` by a loaded plugin, and listed by ``vampkit masks``
        with a one-line doc and a doc for every parameter."""
        found = plugins.mask_generators().get(self.name)
        if found is not self.generator:
            hint = ("no loaded plugin registers it: install your package (pip install -e .) and check "
                    "its [project.entry-points.vampkit] table, or call vampkit.plugins.register_plugin()")
            raise self.fail("is registered", hint if found is None else f"the name is taken by {found!r}")
        rows = {row.name: row for row in plugins.mask_listing()}  # what `vampkit masks` prints
        row = rows.get(self.name)
        if row is None:
            raise self.fail("is listed by `vampkit masks`", "it is missing from the listing")
        if not row.doc:
            raise self.fail("is listed by `vampkit masks`", "the class has no docstring (its first line is the listing's doc)")
        class_doc = self.generator.__doc__ or ""
        undocumented = [p.name for p in row.parameters if not p.doc and p.name not in class_doc]
        if undocumented:
            raise self.fail("documents its parameters", f"no doc for {', '.join(undocumented)} "
                            "(use vampkit.param(..., doc=...) or name them in the class docstring)")
        listed = [p.name for p in row.parameters]
        declared = [p.name for p in describe(self.generator)]
        if listed != declared:
            raise self.fail("is listed by `vampkit masks`", f"lists parameters {listed}, the class has {declared}")

    def check_builds_with_defaults(self) -> None:
        """Builds from plain data and returns a mask on a roomy grid fed with the factories."""
        grid = self.comfortable_grid()
        instance = self.build()
        try:
            mask = instance(self.context(grid))
        except (ParameterError, AnalysisError) as exc:
            raise self.fail("builds with its defaults", f"calling it on {grid} raised {type(exc).__name__}: {exc}"
                            " (pass audio= / analyses= factories or params= to the kit)") from exc
        self._check_mask(mask, grid, "builds with its defaults")

    def _check_mask(self, mask: Any, grid: Grid, check: str) -> None:
        if not isinstance(mask, Mask):
            raise self.fail(check, f"returned {type(mask).__name__}, not a vampkit.Mask")
        expected = (grid.n_codebooks, grid.n_frames)
        if mask.shape != expected:
            raise self.fail(check, f"on {grid} the mask is shaped {mask.shape}, expected {expected}")
        if mask.tensor.dtype != torch.bool:
            raise self.fail(check, f"mask dtype is {mask.tensor.dtype}, expected torch.bool")

    def check_output(self) -> None:
        """Random grids: a ``vampkit.Mask`` of shape ``(n_codebooks, n_frames)``, dtype bool."""
        instance = self.build()

        def test(grid: Grid) -> None:
            self._check_mask(self.call(instance, grid, "mask shape and dtype"), grid, "mask shape and dtype")

        self.for_random_grids(test)

    def check_seeded(self) -> None:
        """One seed, one mask: fresh contexts with the same seed give equal masks."""
        instance = self.build()

        def test(grid: Grid) -> None:
            first = self.call(instance, grid, "same seed, same mask")
            second = self.call(self.build(), grid, "same seed, same mask")
            if not first.equals(second):
                raise self.fail("same seed, same mask", f"two contexts for {grid} gave different masks "
                                "(draw random numbers only from ctx.generator; keep no state between calls)")

        self.for_random_grids(test)

    def check_global_rng_independent(self) -> None:
        """Global RNG state (torch, random, numpy) changed between calls does not change the mask."""
        instance = self.build()

        def test(grid: Grid) -> None:
            with _global_rng_preserved():
                _scramble_global_rng(1)
                first = self.call(instance, grid, "independent of global RNG")
                _scramble_global_rng(987_654_321)
                second = self.call(instance, grid, "independent of global RNG")
            if not first.equals(second):
                raise self.fail("independent of global RNG", f"on {grid} the mask changed with the global "
                                "RNG state: draw only from ctx.generator")

        self.for_random_grids(test)

    def check_invalid_params(self) -> None:
        """Bad parameters raise ``ParameterError`` naming one of them, from plain data and from
        the constructor; unknown names and values of the wrong type too."""
        cases: list[tuple[Mapping[str, Any], bool]] = [(case, True) for case in self.invalid]
        cases.append(({"no_such_parameter": 1}, False))
        cases += [({name: "not a value"}, False) for name, _ in _fields_of_plain_type(self.generator)]
        for case, direct in cases:
            try:
                build_mask_generator({self.name: {**self.params, **case}})
            except ParameterError as exc:
                if not any(str(key) in str(exc) for key in case):
                    raise self.fail("parameter validation", f"{case} raised ParameterError({exc!s}) which does "
                                    "not name the parameter") from exc
            except Exception as exc:  # any other exception breaks the contract
                raise self.fail("parameter validation", f"{case} raised {type(exc).__name__}: {exc}, "
                                "expected vampkit.ParameterError") from exc
            else:
                raise self.fail("parameter validation", f"{case} was accepted")
            if direct:
                try:
                    self.generator(**{**self.params, **case})
                except ParameterError:
                    pass
                except Exception as exc:
                    raise self.fail("parameter validation", f"{self.generator.__name__}(**{case}) raised "
                                    f"{type(exc).__name__}: {exc}, expected vampkit.ParameterError") from exc
                else:
                    raise self.fail("parameter validation", f"{self.generator.__name__}(**{case}) was accepted")

    def check_composition(self) -> None:
        """Inside all-of / any-of / not (built from plain data, as recipes do) it combines as
        the mask algebra says: ``&``, ``|`` and ``~`` of its own mask and periodic's."""
        instance = self.build()
        periodic = {"periodic": {"period": 3}}
        composed = {
            "all-of": (build_mask_generator({"all-of": [self.spec, periodic]}), lambda a, b: a & b),
            "any-of": (build_mask_generator({"any-of": [self.spec, periodic]}), lambda a, b: a | b),
            "not": (build_mask_generator({"not": self.spec}), lambda a, b: ~a),
        }
        periodic_gen = build_mask_generator(periodic)

        def test(grid: Grid) -> None:
            own = self.call(instance, grid, "works in a composition")
            other = periodic_gen(self.context(grid))
            for key, (combined, expected) in composed.items():
                mask = self.call(combined, grid, f"works in '{key}'")
                self._check_mask(mask, grid, f"works in '{key}'")
                if not mask.equals(expected(own, other)):
                    raise self.fail(f"works in '{key}'", f"on {grid} '{key}' does not equal the mask algebra of "
                                    "its members")

        self.for_random_grids(test)

    CHECKS: ClassVar[tuple[str, ...]] = (
        "check_class", "check_registered", "check_builds_with_defaults", "check_output", "check_seeded",
        "check_global_rng_independent", "check_invalid_params", "check_composition",
    )

    def run_all(self) -> None:
        for check in self.CHECKS:
            getattr(self, check)()


def check_mask_generator(cls: type, *, max_examples: int = 25, params: Mapping[str, Any] | None = None,
                         invalid: Sequence[Mapping[str, Any]] = (), audio: AudioFactory | None = None,
                         analyses: Mapping[str, AnalysisFactory] | None = None, min_codebooks: int = 1,
                         max_codebooks: int = 14, min_frames: int = 1, max_frames: int = 500) -> None:
    """Check a mask generator class against vampkit's contract; raise ``ConformanceError``
    naming the first broken check. See ``MaskGeneratorChecks`` for the arguments."""
    MaskGeneratorChecks(
        cls, params=params or {}, invalid=invalid, audio=audio, analyses=analyses or {},
        max_examples=max_examples, min_codebooks=min_codebooks, max_codebooks=max_codebooks,
        min_frames=min_frames, max_frames=max_frames,
    ).run_all()


class MaskGeneratorConformance:
    """Pytest base class: subclass it as ``TestMyMask`` and set ``generator`` (and optionally
    ``params``, ``invalid``, ``audio``, ``analyses``, ``max_examples``...) for one test per check."""

    generator: ClassVar[type]
    params: ClassVar[Mapping[str, Any]] = {}
    invalid: ClassVar[Sequence[Mapping[str, Any]]] = ()
    audio: ClassVar[AudioFactory | None] = None
    analyses: ClassVar[Mapping[str, AnalysisFactory]] = {}
    max_examples: ClassVar[int] = 25
    min_codebooks: ClassVar[int] = 1
    max_codebooks: ClassVar[int] = 14
    min_frames: ClassVar[int] = 1
    max_frames: ClassVar[int] = 500

    def conformance_checks(self) -> MaskGeneratorChecks:
        cls = type(self)  # class attributes, so a plain function set as `audio` stays unbound
        return MaskGeneratorChecks(
            cls.generator, params=cls.params, invalid=cls.invalid, audio=cls.audio,
            analyses=cls.analyses, max_examples=cls.max_examples, min_codebooks=cls.min_codebooks,
            max_codebooks=cls.max_codebooks, min_frames=cls.min_frames, max_frames=cls.max_frames,
        )

    def test_is_a_frozen_attrs_class(self) -> None:
        self.conformance_checks().check_class()

    def test_is_registered_and_documented(self) -> None:
        self.conformance_checks().check_registered()

    def test_builds_with_its_defaults(self) -> None:
        self.conformance_checks().check_builds_with_defaults()

    def test_mask_shape_and_dtype(self) -> None:
        self.conformance_checks().check_output()

    def test_same_seed_same_mask(self) -> None:
        self.conformance_checks().check_seeded()

    def test_independent_of_global_rng(self) -> None:
        self.conformance_checks().check_global_rng_independent()

    def test_invalid_parameters_raise_parameter_error(self) -> None:
        self.conformance_checks().check_invalid_params()

    def test_works_in_compositions(self) -> None:
        self.conformance_checks().check_composition()
