"""vampkit.testing: every built-in passes the conformance kit, and the kit catches broken generators."""

from __future__ import annotations

import itertools
import random
import types

import attrs
import pytest
import torch

import vampkit
from vampkit import plugins
from vampkit.masks import Periodic
from vampkit.testing import (
    ConformanceError,
    Grid,
    MaskGeneratorChecks,
    MaskGeneratorConformance,
    check_mask_generator,
    make_context,
    noise_audio,
    standard_analyses,
    synthetic_beats,
    synthetic_onsets,
)

#: parameter sets each built-in must refuse (the kit also tries unknown names and wrong types)
INVALID = {
    "periodic": [{"period": -1}, {"period": 2, "width": 3}, {"offset": -2}],
    "prefix": [{"seconds": -1.0}],
    "suffix": [{"seconds": -0.5}],
    "inpaint": [{"prefix": -1.0}, {"suffix": -1.0}],
    "region": [{"start": 2.0, "end": 1.0}, {"start": -1.0}],
    "codebooks": [{"keep": -1}],
    "random": [{"p": 1.5}, {"p": -0.1}],
    "dropout": [{"p": 2.0}, {"unit": "bar"}],
    "beat": [{"before": -0.1}, {"every": 0}, {"edges": "wrap"}],
    "onset": [{"width": -1}],
}


def builtin_names() -> list[str]:
    return sorted(name for name, reg in plugins.registered("masks").items() if reg.plugin in plugins.BUILTIN_PLUGINS)


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_generator_passes_the_kit(name):
    cls = plugins.get_mask_generator(name)
    checks = MaskGeneratorChecks(cls, invalid=INVALID.get(name, ()), audio=noise_audio,
                                 analyses=standard_analyses(), max_examples=15)
    checks.run_all()


def test_the_builtins_are_all_checked():
    names = builtin_names()
    assert {"periodic", "prefix", "suffix", "inpaint", "region", "codebooks", "random", "dropout",
            "all-of", "any-of", "not"} <= set(names)


class TestPeriodicConformance(MaskGeneratorConformance):
    """The pytest form: one test per check."""

    generator = Periodic
    params = {"period": 5, "random_offset": True}
    invalid = [{"period": -1}]
    max_examples = 10


class TestCodebooksConformanceNeedsRoom(MaskGeneratorConformance):
    generator = vampkit.masks.Codebooks
    params = {"keep": 6}
    min_codebooks = 6
    max_examples = 10


# -- the kit catches what breaks the contract --------------------------------------------------
@pytest.fixture
def register():
    """Register generators in-process for one test, then forget them."""
    names = []

    def _register(*classes):
        module = types.SimpleNamespace(register_masks=vampkit.hookimpl(lambda register: [register(c) for c in classes]))
        names.append(plugins.register_plugin(module, name=f"kit-test-{len(names)}"))
        return classes[0]

    yield _register
    for name in names:
        plugins.unregister_plugin(name)
    plugins.reset()


def _frames_mask(ctx, kept):
    return vampkit.Mask(ctx.frames_mask(kept))


@attrs.frozen
class Good:
    """Keep every `n`-th frame, starting at a seeded random phase."""

    name = "kit-good"
    n: int = vampkit.param(3, doc="keep one frame in n", validator=lambda i, a, v: _positive(v, "n"))

    def __call__(self, ctx):
        phase = int(torch.randint(0, self.n, (1,), generator=ctx.generator))
        return _frames_mask(ctx, (torch.arange(ctx.n_frames) + phase) % self.n == 0)


def _positive(value, name):
    if value <= 0:
        raise vampkit.ParameterError(f"kit-good: {name} must be > 0, got {value}")


@attrs.frozen
class GlobalRng:
    """Draws from torch's global RNG: breaks seeding."""

    name = "kit-global-rng"

    def __call__(self, ctx):
        return vampkit.Mask(torch.rand(ctx.n_codebooks, ctx.n_frames) < 0.5)


@attrs.frozen
class PythonRandom:
    """Draws from Python's random module."""

    name = "kit-python-random"

    def __call__(self, ctx):
        return _frames_mask(ctx, torch.tensor([random.random() < 0.5 for _ in range(ctx.n_frames)]))


@attrs.frozen
class WrongShape:
    """Forgets the codebook axis on tiny grids."""

    name = "kit-wrong-shape"

    def __call__(self, ctx):
        return vampkit.Mask(torch.ones(ctx.n_codebooks, max(ctx.n_frames - 1, 1), dtype=torch.bool))


@attrs.frozen
class ReturnsTensor:
    """Returns a bare tensor instead of a vampkit.Mask."""

    name = "kit-returns-tensor"

    def __call__(self, ctx):
        return ctx.full()


@attrs.frozen
class Undocumented:
    """Says nothing about its parameter."""

    name = "kit-undocumented"
    level: float = 0.5

    def __call__(self, ctx):
        return vampkit.Mask(ctx.full())


@attrs.frozen
class ValueErrorValidation:
    """Validates `period` with a plain ValueError."""

    name = "kit-value-error"
    period: int = vampkit.param(3, doc="a period")

    def __attrs_post_init__(self):
        if self.period < 0:
            raise ValueError("period must be >= 0")

    def __call__(self, ctx):
        return vampkit.Mask(ctx.full())


@attrs.define
class Mutable:
    """A mutable attrs class (instances must be frozen)."""

    name = "kit-mutable"
    p: int = vampkit.param(1, doc="a parameter")

    def __call__(self, ctx):
        return vampkit.Mask(ctx.full())


_calls = itertools.count()


@attrs.frozen
class BadAlgebra:
    """Alternates between keeping and generating everything, call after call (hidden state)."""

    name = "kit-bad-algebra"

    def __call__(self, ctx):
        full = ctx.full()
        return vampkit.Mask(full if next(_calls) % 2 else ~full)


@attrs.frozen
class NeedsOnsets:
    """Keeps the frames that hold an onset."""

    name = "kit-needs-onsets"

    def __call__(self, ctx):
        frames = (ctx.onsets * ctx.frame_rate).long().clamp(0, ctx.n_frames - 1)
        kept = torch.zeros(ctx.n_frames, dtype=torch.bool)
        kept[frames] = True
        return _frames_mask(ctx, kept)


def test_a_correct_plugin_generator_passes(register):
    register(Good)
    check_mask_generator(Good, invalid=[{"n": 0}], max_examples=10)


@pytest.mark.parametrize("cls", [GlobalRng, PythonRandom])
def test_global_rng_use_is_caught(register, cls):
    register(cls)
    with pytest.raises(ConformanceError, match="independent of global RNG"):
        MaskGeneratorChecks(cls, max_examples=10).check_global_rng_independent()
    with pytest.raises(ConformanceError, match="same seed, same mask|independent of global RNG"):
        check_mask_generator(cls, max_examples=10)


def test_wrong_shape_is_caught(register):
    register(WrongShape)
    with pytest.raises(ConformanceError, match="shaped"):
        check_mask_generator(WrongShape, max_examples=10)


def test_a_bare_tensor_is_not_a_mask(register):
    register(ReturnsTensor)
    with pytest.raises(ConformanceError, match="not a vampkit.Mask"):
        check_mask_generator(ReturnsTensor, max_examples=5)


def test_undocumented_parameter_is_caught(register):
    register(Undocumented)
    with pytest.raises(ConformanceError, match="no doc for level"):
        check_mask_generator(Undocumented, max_examples=5)


def test_validation_must_raise_parameter_error(register):
    register(ValueErrorValidation)
    checks = MaskGeneratorChecks(ValueErrorValidation, invalid=[{"period": -1}])
    with pytest.raises(ConformanceError, match=r"ValueErrorValidation\(\*\*\{'period': -1\}\) raised ValueError"):
        checks.check_invalid_params()


def test_accepted_invalid_parameters_are_caught(register):
    register(Good)
    with pytest.raises(ConformanceError, match="was accepted"):
        MaskGeneratorChecks(Good, invalid=[{"n": 7}]).check_invalid_params()


def test_mutable_instances_are_caught(register):
    register(Mutable)
    with pytest.raises(ConformanceError, match="frozen"):
        MaskGeneratorChecks(Mutable).check_class()


def test_unregistered_generator_is_caught():
    with pytest.raises(ConformanceError, match="pip install -e"):
        MaskGeneratorChecks(Good).check_registered()


def test_composition_that_disagrees_with_the_algebra_is_caught(register):
    register(BadAlgebra)
    with pytest.raises(ConformanceError, match="works in"):
        MaskGeneratorChecks(BadAlgebra, max_examples=10).check_composition()


def test_missing_analysis_asks_for_a_factory(register):
    register(NeedsOnsets)
    with pytest.raises(ConformanceError, match="analyses="):
        MaskGeneratorChecks(NeedsOnsets).check_builds_with_defaults()


def test_analysis_factories_feed_the_context(register):
    register(NeedsOnsets)
    check_mask_generator(NeedsOnsets, analyses={"onsets": synthetic_onsets}, max_examples=10)


def test_global_rng_state_is_restored_after_the_kit():
    before = torch.get_rng_state(), random.getstate()
    check_mask_generator(Periodic, max_examples=5)
    assert torch.equal(torch.get_rng_state(), before[0]) and random.getstate() == before[1]


# -- the data factories ------------------------------------------------------------------------
def test_noise_audio_is_a_pure_function_of_the_grid():
    grid = Grid(n_codebooks=4, n_frames=90, seed=7)
    audio = noise_audio(grid)
    assert audio.shape == (2, grid.n_samples) and audio.dtype == torch.float32
    assert torch.equal(audio, noise_audio(grid))
    assert not torch.equal(audio, noise_audio(attrs.evolve(grid, seed=8)))
    assert float(audio.abs().max()) <= 1.0


def test_onsets_lie_inside_the_grid_and_are_sorted():
    for seed in range(20):
        grid = Grid(n_codebooks=2, n_frames=300, seed=seed)
        onsets = synthetic_onsets(grid)
        assert bool((onsets >= 0).all() and (onsets <= grid.duration).all())
        assert torch.equal(onsets, torch.sort(onsets).values)


def test_synthetic_beats_are_a_regular_four_four_grid_inside_the_grid():
    from vampkit.beats.base import Beats

    grid = Grid(n_codebooks=2, n_frames=400, seed=3)
    beats = synthetic_beats(grid)
    assert isinstance(beats, Beats) and beats == synthetic_beats(grid)
    assert 60 <= beats.tempo <= 180 and all(0 <= t < grid.duration for t in beats.times)
    assert beats.downbeats == beats.times[::4] and beats.bar_positions[:5] == (1, 2, 3, 4, 1)
    assert synthetic_beats(Grid(n_codebooks=1, n_frames=1, seed=3)).times in ((), beats.times[:1])


def test_make_context_feeds_audio_and_analyses_lazily():
    calls = []
    grid = Grid(n_codebooks=3, n_frames=10, sample_rate=16000, hop_length=320, seed=5)
    ctx = make_context(grid, audio=noise_audio, analyses={"x": lambda g: calls.append(g) or 42})
    assert (ctx.n_codebooks, ctx.n_frames, ctx.sample_rate, ctx.hop_length, ctx.seed) == (3, 10, 16000, 320, 5)
    assert calls == []
    assert ctx.analysis("x") == 42 and ctx.analysis("x") == 42 and calls == [grid]
    assert ctx.audio.shape == (2, 3200)
