"""One validation road: param() declarations, vampkit.validators and attrs' own validators all end
in ParameterErrors naming plugin and parameter; build() reports every problem with its key path."""

from __future__ import annotations

import math

import attrs
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from strategies import leaf_specs, mask_specs

from vampkit import ParameterError, SamplingSettings, build_mask_generator, param
from vampkit import validators as v
from vampkit.masks.spec import MAX_MASK_DEPTH, is_generator
from vampkit.params import build


@attrs.frozen
class Knobs:
    """A plugin written as the tutorial shows, mixing vampkit's and attrs' validators."""

    name = "knobs"

    gain: float = param(1.0, doc="a float: finite for free")
    count: int = param(1, doc="attrs' own ge", validator=attrs.validators.ge(1))
    mode: str = param("a", doc="attrs' own in_", validator=attrs.validators.in_(["a", "b"]))
    ratio: float = param(0.5, doc="a vampkit range", validator=v.between(0, 1, low_open=True))
    level: float | None = param(None, doc="optional, checked when given", validator=v.non_negative)


def error_of(params):
    with pytest.raises(ParameterError) as info:
        build(Knobs, params, path=("mask", "knobs"))
    return info.value


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 10**400])
def test_float_parameters_are_finite_without_a_validator(value):
    err = error_of({"gain": value})
    assert err.path == ("mask", "knobs", "gain")
    assert err.problem.startswith("must be a finite number")


def test_attrs_ge_becomes_a_parameter_error_naming_plugin_and_parameter():
    err = error_of({"count": 0})
    assert str(err) == "knobs: count must be >= 1: 0"
    assert err.path == ("mask", "knobs", "count") and err.problem == "must be >= 1: 0"


def test_attrs_in_becomes_a_parameter_error():
    err = error_of({"mode": "c"})
    assert str(err).startswith("knobs: mode must be in ['a', 'b']") and err.path[-1] == "mode"


def test_direct_construction_raises_the_same_error():
    with pytest.raises(ParameterError, match=r"^knobs: count must be >= 1"):
        Knobs(count=0)


def test_build_reports_every_bad_parameter_each_with_its_path():
    err = error_of({"count": 0, "mode": "c", "ratio": 0.0, "level": -1.0, "nope": 1})
    assert sorted(e.path[-1] for e in err.each()) == ["count", "level", "mode", "nope", "ratio"]
    assert all(e.path[:2] == ("mask", "knobs") for e in err.each())


def test_optional_parameters_accept_none_and_check_values():
    assert build(Knobs, {"level": None}).level is None
    assert error_of({"level": -0.5}).problem == "must be >= 0, got -0.5"


def test_integers_beyond_64_bits_are_refused():
    err = error_of({"count": 2**64})
    assert err.problem.startswith("must fit in a 64-bit integer")


@pytest.mark.parametrize(("validator", "good", "bad", "message"), [
    (v.non_negative, 0, -1, "must be >= 0, got -1"),
    (v.positive, 0.5, 0, "must be > 0, got 0"),
    (v.probability, 1.0, 1.5, "must be between 0 and 1, got 1.5"),
    (v.unit_interval, 1.0, 0.0, "must lie in (0, 1], got 0.0"),
    (v.at_least(2), 2, 1, "must be >= 2, got 1"),
    (v.at_most(2, strict=True), 1, 2, "must be < 2, got 2"),
    (v.between(0, 1, high_open=True), 0, 1, "must lie in [0, 1), got 1"),
    (v.choices(["x", "y"]), "x", "z", "must be one of 'x', 'y', got 'z'"),
    (v.finite, 1.0, math.nan, "must be a finite number, got nan"),
])
def test_public_validators_accept_good_and_name_bad_values(validator, good, bad, message):
    field = attrs.fields(Knobs).gain
    validator(Knobs, field, good)
    with pytest.raises(ParameterError) as info:
        validator(Knobs, field, bad)
    assert info.value.problem == message and str(info.value) == f"knobs: gain {message}"


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_range_validators_refuse_non_finite_values(value):
    for validator in (v.non_negative, v.positive, v.at_least(0), v.between(-10, 10)):
        with pytest.raises(ParameterError, match="finite"):
            validator(Knobs, attrs.fields(Knobs).gain, value)


@pytest.mark.parametrize(("key", "value"), [
    ("temperature", math.nan), ("temperature", -1.0), ("mask_temperature", math.inf), ("sample_cutoff", 1.5),
    ("sample_cutoff", math.nan), ("top_p", 0.0), ("top_p", 1.5), ("top_k", 0), ("steps", 0), ("steps", 10**6),
    ("typical_mass", 0.0), ("typical_min_tokens", 0), ("draw", "fast"),
])
def test_every_sampling_knob_is_range_checked(key, value):
    with pytest.raises(ParameterError) as info:
        SamplingSettings(**{key: value})
    assert str(info.value).startswith(f"sampling: {key}")


def test_a_negative_sample_cutoff_means_argmax_throughout_and_is_allowed():
    assert SamplingSettings(sample_cutoff=-1.0).sample_cutoff == -1.0


def test_builtin_mask_parameters_refuse_nan_through_the_registry():
    with pytest.raises(ParameterError) as info:
        build_mask_generator({"prefix": {"seconds": math.nan}})
    assert info.value.path == ("prefix", "seconds")


def test_masks_nested_too_deeply_are_refused_without_recursion_error():
    spec: object = "periodic"
    for _ in range(MAX_MASK_DEPTH + 5):
        spec = {"not": spec}
    with pytest.raises(ParameterError, match=f"nested deeper than {MAX_MASK_DEPTH}"):
        build_mask_generator(spec)


@settings(max_examples=40, deadline=None)
@given(mask_specs())
def test_generated_valid_mask_specs_build(spec):
    generator = build_mask_generator(spec)
    assert is_generator(generator) and generator.name == next(iter(spec))


@settings(max_examples=30, deadline=None)
@given(st.lists(leaf_specs(), min_size=1, max_size=4), st.data())
def test_each_broken_member_of_a_combinator_is_reported_at_its_index(members, data):
    broken = data.draw(st.sets(st.integers(0, len(members) - 1), min_size=1))
    spec = {"all-of": [{"periodic": {"period": -1}} if i in broken else m for i, m in enumerate(members)]}
    with pytest.raises(ParameterError) as info:
        build_mask_generator(spec)
    assert {e.path for e in info.value.each()} == {("all-of", i, "periodic", "period") for i in broken}


SECONDS_PARAMETERS = [("prefix", "seconds"), ("suffix", "seconds"), ("inpaint", "prefix"), ("inpaint", "suffix"),
                      ("region", "start"), ("region", "end"), ("beat", "before"), ("beat", "after")]


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(SECONDS_PARAMETERS),
       st.floats(min_value=v.MAX_SECONDS, exclude_min=True, allow_infinity=False) | st.integers(min_value=86401))
def test_a_time_longer_than_a_day_is_refused_by_name_not_at_run_time(where, value):
    generator, key = where
    with pytest.raises(ParameterError, match=f"{key}.*must be at most 86400 seconds"):
        build_mask_generator({generator: {key: value}})


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(SECONDS_PARAMETERS), st.floats(min_value=0, max_value=v.MAX_SECONDS))
def test_any_time_up_to_a_day_is_accepted(where, value):
    generator, key = where
    spec = {key: value}
    if generator == "region":  # a non-empty span with both ends up to a day
        assume(value > 0)
        spec = {"start": value / 2, "end": value}
    build_mask_generator({generator: spec})


def test_continue_refuses_passes_that_add_more_than_a_day():
    from vampkit.pipeline.techniques import Continue

    with pytest.raises(ParameterError, match="times"):
        build(Continue, {"seconds": 10, "times": 10_000})
    assert build(Continue, {"seconds": 10, "times": 8640}).times == 8640
