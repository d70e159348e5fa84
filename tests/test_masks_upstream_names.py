"""vampkit.masks.upstream: upstream's builder names give the generators' masks."""

import torch

from vampkit import Mask, MaskContext
from vampkit.masks import AllOf, AnyOf, Codebooks, Inpaint, Periodic
from vampkit.masks import upstream as up

Z = torch.zeros(2, 4, 40, dtype=torch.long)
CTX = MaskContext(n_codebooks=4, n_frames=40)
FRAME = 768 / 44100


def same(long_mask, generator_mask):
    return torch.equal(long_mask, generator_mask.batched(2).to_upstream())


def test_periodic_and_inpaint_equal_the_generators():
    assert same(up.periodic_mask(Z, 7, 2), Periodic(7, 2)(CTX))
    assert same(up.periodic_mask(Z, 0), Periodic(0)(CTX))
    assert same(up.inpaint(Z, 5, 3), Inpaint(5 * FRAME - 1e-9, 3 * FRAME - 1e-9)(CTX))


def test_combinations_equal_the_mask_operators():
    a, b = up.periodic_mask(Z, 7), up.inpaint(Z, 5, 3)
    prompts = (Periodic(7), Inpaint(5 * FRAME - 1e-9, 3 * FRAME - 1e-9))
    assert same(up.mask_and(a, b), AllOf(prompts)(CTX))
    assert same(up.mask_or(a, b), AnyOf(prompts)(CTX))
    assert same(up.codebook_mask(a, 3), AnyOf((Periodic(7), Codebooks(3)))(CTX))


def test_codebook_unmask_keeps_the_lowest_codebooks():
    out = up.codebook_unmask(up.full_mask(Z), 2)
    assert out[:, :2].eq(0).all() and out[:, 2:].eq(1).all()
    assert torch.equal(Mask.from_upstream(up.empty_mask(Z)).tensor, torch.zeros(2, 4, 40, dtype=torch.bool))


def test_random_roll_and_linear_random_draw_from_the_given_generator():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(up.periodic_mask(Z, 7, random_roll=True, generator=g1),
                       up.periodic_mask(Z, 7, random_roll=True, generator=g2))
    assert up.linear_random(Z, 1.0).eq(1).all() and up.linear_random(Z, 0.0).eq(0).all()
