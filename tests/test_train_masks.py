"""Training masks: upstream's random training mask to the letter, and the weighted mixture."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vampkit import ParameterError
from vampkit.training.masking import (
    build_mixture,
    draw_masks,
    generator_for,
    sobol_engine,
)

SHAPE = (6, 4, 40)


def spec_training_mask(seed: int, steps: int, batch: int, n_codebooks: int, n_frames: int, n_cond: int):
    """Spec section 6 written out: r from one scrambled Sobol engine seeded with the run seed,
    gamma = cos(pi r / 2), one Bernoulli per token, conditioning codebooks kept."""
    engine = torch.quasirandom.SobolEngine(1, scramble=True, seed=seed)
    out = []
    for step in range(steps):
        r = engine.draw(batch)[:, 0]
        probs = torch.ones(batch, n_codebooks, n_frames) * torch.cos(r * torch.pi / 2)[:, None, None]
        mask = torch.bernoulli(probs, generator=generator_for(seed, step, 0x5EED)).bool()
        mask[:, :n_cond] = False
        out.append(mask)
    return out


@pytest.mark.parametrize("n_cond", [0, 2])
def test_random_entry_is_upstreams_training_mask(n_cond):
    mixture = build_mixture([{"mask": "random"}])
    seed, batch = 11, SHAPE[0]
    engine = sobol_engine(seed)
    expected = spec_training_mask(seed, 3, *SHAPE, n_cond)
    for step in range(3):
        r = engine.draw(batch)[:, 0]
        masks, families = draw_masks(mixture, SHAPE, range(batch), n_cond, seed=seed, step=step, r=r,
                                     frame_rate=57.421875, sample_rate=44100)
        assert torch.equal(masks, expected[step])
        assert (families == 0).all()


def test_resumed_sobol_engine_continues_the_sequence():
    straight = sobol_engine(3).draw(20)
    resumed = sobol_engine(3, already_drawn=12).draw(8)
    assert torch.equal(straight[12:], resumed)


def test_random_mask_rate_follows_gamma_of_r():
    mixture = build_mixture([{"mask": "random"}])
    r = torch.tensor([0.0, 0.5, 0.9])
    masks, _ = draw_masks(mixture, (3, 4, 4000), range(3), 0, seed=0, step=0, r=r, frame_rate=57.4, sample_rate=44100)
    rates = masks.float().mean(dim=(1, 2))
    assert torch.allclose(rates, torch.cos(r * math.pi / 2), atol=0.02)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31), n_cond=st.integers(0, 3))
def test_conditioning_codebooks_are_never_masked(seed, n_cond):
    mixture = build_mixture([{"mask": "random"}, {"mask": {"periodic": {"period": [0, 5]}}},
                             {"mask": {"random": {"p": 0.9}}}])
    masks, _ = draw_masks(mixture, SHAPE, [1, 4], n_cond, seed=seed, step=seed % 7, r=torch.rand(SHAPE[0]),
                          frame_rate=57.4, sample_rate=44100)
    assert not masks[:, :n_cond].any()


def test_mixture_draws_each_family_at_its_weight():
    weights = [0.2, 0.3, 0.5]
    mixture = build_mixture([{"weight": w, "mask": {"periodic": {"period": p}}} for w, p in zip(weights, (3, 5, 7), strict=True)])
    n = 20000
    families = mixture.families(n, generator_for(1234))
    for index, weight in enumerate(weights):
        count = int((families == index).sum())
        sigma = math.sqrt(n * weight * (1 - weight))
        assert abs(count - n * weight) < 4 * sigma, (index, count)


def test_families_do_not_depend_on_which_items_a_process_draws():
    mixture = build_mixture([{"weight": 1, "mask": "random"}, {"weight": 1, "mask": {"periodic": {"period": [2, 9]}}}])
    r = torch.rand(SHAPE[0])
    whole, fam = draw_masks(mixture, SHAPE, range(6), 0, seed=5, step=2, r=r, frame_rate=57.4, sample_rate=44100)
    part, fam_part = draw_masks(mixture, SHAPE, [3, 4, 5], 0, seed=5, step=2, r=r, frame_rate=57.4,
                                sample_rate=44100)
    assert torch.equal(whole[3:], part) and torch.equal(fam[3:], fam_part)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_ranged_parameters_are_drawn_per_item_inside_the_range(seed):
    mixture = build_mixture([{"mask": {"periodic": {"period": [3, 6], "width": 1}}}])
    entry = mixture.entries[0]
    assert entry.ranges[0].integer
    g = generator_for(seed)
    periods = {entry.generator_for(g).period for _ in range(40)}
    assert periods <= {3, 4, 5, 6} and len(periods) >= 3


def test_ranges_inside_nested_masks_are_found():
    mixture = build_mixture([{"mask": {"all-of": [{"periodic": {"period": [3, 19]}}, {"random": {"p": [0.1, 0.4]}}]}}])
    ranges = mixture.entries[0].ranges
    assert [r.path for r in ranges] == [("all-of", "masks", 0, "periodic", "period"),
                                        ("all-of", "masks", 1, "random", "p")]
    assert ranges[1].integer is False
    built = mixture.entries[0].generator_for(generator_for(0))
    assert 3 <= built.masks[0].period <= 19 and 0.1 <= built.masks[1].p <= 0.4


@pytest.mark.parametrize(("entries", "path", "match"), [
    ([], ("masks",), "non-empty list"),
    ([{"weight": 0, "mask": "random"}], ("masks", 0, "weight"), "positive"),
    ([{"mask": {"periodic": {"period": [9, 3]}}}], ("masks", 0, "mask", "periodic", "period"), "high < low"),
    ([{"mask": {"nosuch": {}}}], ("masks", 0, "mask", "nosuch"), "nosuch"),
    ([{"weigth": 1, "mask": "random"}], ("masks", 0, "weigth"), "unknown key"),
    ([{"mask": {"periodic": {"period": [1.5, 3]}}}], ("masks", 0, "mask", "periodic", "period"), "integer"),
])
def test_bad_entries_are_refused_with_their_path(entries, path, match):
    with pytest.raises(ParameterError, match=match) as info:
        build_mixture(entries)
    assert tuple(info.value.path[: len(path)]) == path


def test_families_are_labelled_by_generator_name_or_given_name():
    mixture = build_mixture([{"mask": "random"}, {"mask": {"periodic": {"period": 3}}},
                             {"mask": {"periodic": {"period": 9}}, "name": "sparse"}, {"mask": {"periodic": {}}}])
    assert mixture.labels == ("random", "periodic", "sparse", "periodic#2")


@settings(max_examples=30, deadline=None)
@given(weights=st.lists(st.floats(0.01, 100.0), min_size=1, max_size=5), seed=st.integers(0, 2**31))
def test_family_draws_stay_in_range_and_probabilities_are_the_normalised_weights(weights, seed):
    mixture = build_mixture([{"weight": w, "mask": {"periodic": {"period": i + 2}}} for i, w in enumerate(weights)])
    assert torch.allclose(mixture.probabilities, torch.tensor(weights, dtype=torch.float64) / sum(weights))
    families = mixture.families(64, generator_for(seed))
    assert families.min() >= 0 and families.max() < len(weights)
