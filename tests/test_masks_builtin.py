"""Built-in mask generators: upstream VampNet's patterns, and properties over random grids."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import grid_shapes

import vampkit
from vampkit import MaskContext, build_mask_generator
from vampkit.masks import (
    AllOf,
    AnyOf,
    Codebooks,
    Dropout,
    Inpaint,
    Not,
    Periodic,
    Prefix,
    RandomMask,
    Region,
    Suffix,
)

SR, HOP = 44100, 768
FRAME = HOP / SR  # seconds per frame; s2t(k * FRAME) == k up to float rounding
PROPS = settings(max_examples=40, deadline=None)


def ctx_for(n_frames=40, n_codebooks=4, seed=0):
    return MaskContext(n_codebooks=n_codebooks, n_frames=n_frames, sample_rate=SR, hop_length=HOP, seed=seed)


def row(mask, codebook=0):
    return "".join(str(int(v)) for v in mask.tensor[codebook])


def frames_secs(k):
    """Seconds that map to exactly k frames under s2t (a hair under k frames' duration)."""
    return k * HOP / SR - 1e-9 if k else 0.0


# -- upstream's patterns on a [4, 40] grid (vampnet-compat.md section 8.10) ----------------
@pytest.mark.parametrize("generator, expected", [
    (Periodic(7, 1), "0111111011111101111110111111011111101111"),
    (Periodic(7, 2), "0011110001111000111100011110001111000111"),
    (Periodic(7, 3), "0011110001111000111100011110001111000111"),
    (Periodic(5, 4), "0000000000000000000000000000000000000011"),
    (Periodic(16, 5), "0001111111111100000111111111110000011111"),
    (Periodic(1, 1), "0" * 40),
    (Periodic(0, 1), "1" * 40),
    (Inpaint(frames_secs(5), frames_secs(3)), "0000011111111111111111111111111111111000"),
    (AllOf((Periodic(7, 1), Inpaint(frames_secs(5), frames_secs(3)))), "0000011011111101111110111111011111101000"),
    (AnyOf((Periodic(7, 1), Inpaint(frames_secs(5), frames_secs(3)))), "0" + "1" * 39),
])
def test_pattern_equals_upstream(generator, expected):
    mask = generator(ctx_for())
    assert all(row(mask, c) == expected for c in range(4))


def test_codebooks_keeps_the_lowest_codebooks_like_upstream_codebook_mask():
    mask = Codebooks(3)(ctx_for())
    assert [bool(mask.tensor[c].all()) for c in range(4)] == [False, False, False, True]
    assert not mask.tensor[:3].any()


def test_compression_prompt_keeps_low_codebooks_only_in_prompt_frames():
    mask = AnyOf((Periodic(7), Codebooks(2)))(ctx_for())
    assert row(mask, 0) == row(Periodic(7)(ctx_for()), 0)
    assert mask.tensor[2:].all()


def test_random_offset_rolls_like_upstream_and_is_seeded():
    a = Periodic(7, 1, random_offset=True)(ctx_for(n_frames=50, seed=5))
    b = Periodic(7, 1, random_offset=True)(ctx_for(n_frames=50, seed=5))
    assert a.equals(b)
    shift = int(torch.randint(0, 7, (1,), generator=ctx_for(seed=5).generator))
    assert a.equals(vampkit.Mask(torch.roll(Periodic(7, 1)(ctx_for(n_frames=50)).tensor, shift, dims=-1)))


# -- parameter validation names the generator and the parameter -----------------------------
@pytest.mark.parametrize("spec, message", [
    ({"periodic": {"period": -1}}, "periodic: period must be >= 0"),
    ({"periodic": {"period": 4, "width": 5}}, r"periodic: width \(5\) must not exceed period \(4\)"),
    ({"prefix": {"seconds": -2.0}}, "prefix: seconds must be >= 0"),
    ({"region": {"start": 2.0, "end": 1.0}}, "region: end"),
    ({"random": {"p": 1.5}}, "random: p must be between 0 and 1"),
    ({"dropout": {"unit": "bar"}}, "dropout: unit: expected one of"),
    ({"periodic": {"period": 2.5}}, "periodic: period: expected an integer"),
])
def test_bad_parameters_are_refused_when_the_generator_is_built(spec, message):
    with pytest.raises(vampkit.ParameterError, match=message):
        build_mask_generator(spec)


@pytest.mark.parametrize("generator, message", [
    (Prefix(5.0), "prefix: seconds=5.0 s is past the end"),
    (Suffix(5.0), "suffix: seconds=5.0 s is past the end"),
    (Region(0.1, 5.0), "region: end=5.0 s is past the end"),
    (Inpaint(0.5, 0.5), "inpaint: prefix=0.5 s \\+ suffix=0.5 s is past the end"),
    (Codebooks(9), "codebooks: keep=9 is more than the grid's 4 codebooks"),
])
def test_parameters_past_the_grid_are_refused_when_applied(generator, message):
    with pytest.raises(vampkit.ParameterError, match=message):
        generator(ctx_for(n_frames=40))  # 40 frames = 0.70 s


def test_nested_spec_errors_carry_the_key_path():
    with pytest.raises(vampkit.ParameterError) as info:
        build_mask_generator({"all-of": [{"periodic": {}}, {"not": {"prefix": {"seconds": "x"}}}]})
    assert info.value.path == ("all-of", 1, "not", "prefix", "seconds")


def test_unknown_generator_suggests_the_closest_name():
    with pytest.raises(vampkit.ParameterError, match="did you mean 'periodic'"):
        build_mask_generator("periodc")


# -- properties over random grids ------------------------------------------------------------
def reference_periodic(n_frames, period, width):
    kept = [False] * n_frames
    if period == 0:
        return kept
    for j in range(0, n_frames, period):
        for t in range(max(0, j - width // 2), min(n_frames - 1, j + width // 2) + 1):
            kept[t] = True
    return kept


def check_shape(mask, ctx):
    assert isinstance(mask, vampkit.Mask)
    assert mask.shape == (ctx.n_codebooks, ctx.n_frames)
    assert mask.tensor.dtype == torch.bool


@PROPS
@given(grid_shapes(), st.integers(0, 40), st.integers(0, 40), st.integers(0, 100))
def test_periodic_keeps_exactly_the_windows_of_its_definition(grid, period, width, offset):
    n_codebooks, n_frames, seed = grid
    width = min(width, period) if period else width
    ctx = ctx_for(n_frames, n_codebooks, seed)
    mask = Periodic(period, width, offset)(ctx)
    check_shape(mask, ctx)
    kept = torch.tensor(reference_periodic(n_frames, period, width))
    if period:
        kept = torch.roll(kept, offset % n_frames)
    assert torch.equal(mask.kept, kept.expand(n_codebooks, -1))


@PROPS
@given(grid_shapes(), st.integers(0, 300), st.integers(0, 300))
def test_time_prompts_keep_exactly_their_spans(grid, a, b):
    n_codebooks, n_frames, seed = grid
    ctx = ctx_for(n_frames, n_codebooks, seed)
    head, tail = min(a, n_frames), min(b, n_frames - min(a, n_frames))
    t = torch.arange(n_frames)
    cases = [
        (Prefix(frames_secs(head)), t < head),
        (Suffix(frames_secs(tail)), t >= n_frames - tail),
        (Inpaint(frames_secs(head), frames_secs(tail)), (t < head) | (t >= n_frames - tail)),
    ]
    if head < n_frames:
        stop = min(n_frames, head + max(1, tail))
        cases.append((Region(frames_secs(head) if head else 0.0, frames_secs(stop)), (t < head) | (t >= stop)))
    for generator, kept in cases:
        mask = generator(ctx)
        check_shape(mask, ctx)
        assert torch.equal(mask.kept, kept.expand(n_codebooks, -1)), generator


@PROPS
@given(grid_shapes(), st.integers(0, 14))
def test_codebooks_keeps_exactly_the_lowest_k(grid, keep):
    n_codebooks, n_frames, seed = grid
    keep = min(keep, n_codebooks)
    ctx = ctx_for(n_frames, n_codebooks, seed)
    mask = Codebooks(keep)(ctx)
    check_shape(mask, ctx)
    assert torch.equal(mask.kept.all(dim=1), torch.arange(n_codebooks) < keep)


@PROPS
@given(grid_shapes(), st.floats(0, 1))
def test_random_is_seeded_and_respects_its_extremes(grid, p):
    n_codebooks, n_frames, seed = grid
    a = RandomMask(p)(ctx_for(n_frames, n_codebooks, seed))
    b = RandomMask(p)(ctx_for(n_frames, n_codebooks, seed))
    check_shape(a, ctx_for(n_frames, n_codebooks))
    assert a.equals(b)
    assert RandomMask(0.0)(ctx_for(n_frames, n_codebooks, seed)).kept.all()
    assert RandomMask(1.0)(ctx_for(n_frames, n_codebooks, seed)).tensor.all()


@PROPS
@given(grid_shapes(), st.floats(0, 1), st.sampled_from(["frame", "token"]), st.integers(0, 20))
def test_dropout_only_turns_kept_tokens_into_generated_ones(grid, p, unit, period):
    n_codebooks, n_frames, seed = grid
    base = Periodic(period, 1 if period else 0)
    ctx = ctx_for(n_frames, n_codebooks, seed)
    dropped = Dropout(p, unit, base)(ctx)
    check_shape(dropped, ctx)
    base_mask = base(ctx_for(n_frames, n_codebooks, seed))
    assert not (dropped.kept & ~base_mask.kept).any()  # nothing newly kept
    assert dropped.equals(Dropout(p, unit, base)(ctx_for(n_frames, n_codebooks, seed)))
    if p == 0:
        assert dropped.equals(base_mask)


def test_frame_dropout_draws_frames_with_replacement_like_upstream_main():
    ctx = ctx_for(n_frames=100, seed=1)
    dropped = Dropout(0.3, "frame")(ctx)
    frames = torch.randint(0, 100, (30,), generator=ctx_for(n_frames=100, seed=1).generator)
    assert torch.equal(dropped.tensor[0], torch.zeros(100, dtype=torch.bool).index_fill(0, frames, True))
    assert (dropped.tensor == dropped.tensor[0]).all()  # whole frames


@PROPS
@given(grid_shapes(), st.lists(st.integers(0, 12), min_size=0, max_size=4))
def test_combinators_are_and_or_not_of_their_members(grid, periods):
    n_codebooks, n_frames, seed = grid
    members = tuple(Periodic(p, 1 if p else 0, offset=i) for i, p in enumerate(periods))
    ctx = ctx_for(n_frames, n_codebooks, seed)
    masks = [m(ctx).tensor for m in members]
    all_of, any_of = AllOf(members)(ctx), AnyOf(members)(ctx)
    check_shape(all_of, ctx)
    expected_and = torch.ones(n_codebooks, n_frames, dtype=torch.bool)
    expected_or = torch.zeros(n_codebooks, n_frames, dtype=torch.bool)
    for m in masks:
        expected_and &= m
        expected_or |= m
    assert torch.equal(all_of.tensor, expected_and)
    assert torch.equal(any_of.tensor, expected_or)
    assert torch.equal(Not(AllOf(members))(ctx).tensor, ~expected_and)


def test_recipe_shorthand_and_explicit_forms_build_the_same_generator():
    short = build_mask_generator({"all-of": ["periodic", {"prefix": {"seconds": 0.1}}]})
    explicit = build_mask_generator({"all-of": {"masks": [{"periodic": None}, {"prefix": {"seconds": 0.1}}]}})
    assert short == explicit == AllOf((Periodic(), Prefix(0.1)))
    assert build_mask_generator({"not": "periodic"}) == Not(Periodic())


def test_a_ten_minute_song_mask_is_built_without_per_frame_loops():
    # 10 min at 57.42 Hz ~ 34,453 frames x 14 codebooks; vectorised generators build it at once
    n_frames = math.ceil(600 * SR / HOP)
    ctx = MaskContext(n_codebooks=14, n_frames=n_frames, seed=0)
    spec = {"any-of": [{"all-of": ["periodic", {"prefix": {"seconds": 2.0}}]}, {"codebooks": {"keep": 3}}]}
    mask = build_mask_generator(spec)(ctx)
    assert mask.shape == (14, n_frames)


def test_wrong_types_are_refused_in_python_too():
    with pytest.raises(vampkit.ParameterError, match="periodic: period: expected an integer, got 'x'"):
        Periodic(period="x")
    with pytest.raises(vampkit.ParameterError, match="prefix: seconds: expected a number"):
        Prefix(seconds=None)
