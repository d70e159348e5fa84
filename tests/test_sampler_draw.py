"""draw="inverse-cdf": the same token distribution as upstream's multinomial, from one uniform
per position; every sampler guarantee holds with it."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers_models import COARSE, tiny
from vampkit import Mask, ParameterError, Prompt, SamplingSettings, sample
from vampkit.sampling.engine import _inverse_cdf, _multinomial

MODEL = tiny(COARSE, seed=5)


def test_inverse_cdf_follows_the_distribution_and_never_draws_a_zero_mass_token():
    probs = torch.tensor([0.1, 0.0, 0.6, 0.3, 0.0]).expand(1, 100_000, 5).contiguous()
    drawn = _inverse_cdf(probs, torch.Generator().manual_seed(0))
    freq = torch.bincount(drawn.flatten(), minlength=5).float() / drawn.numel()
    assert freq[1] == 0 and freq[4] == 0
    assert torch.allclose(freq, probs[0, 0], atol=0.01)


def test_inverse_cdf_and_multinomial_agree_in_distribution():
    logits = torch.randn(1, 8, 32, generator=torch.Generator().manual_seed(1))
    probs = logits.softmax(-1).repeat(1, 5000, 1)
    a = _inverse_cdf(probs, torch.Generator().manual_seed(2)).view(5000, 8)
    b = _multinomial(probs, torch.Generator().manual_seed(3)).view(5000, 8)
    for position in range(8):
        fa = torch.bincount(a[:, position], minlength=32).float() / 5000
        fb = torch.bincount(b[:, position], minlength=32).float() / 5000
        assert (fa - fb).abs().max() < 0.04


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), frames=st.integers(1, 10), keep=st.floats(0.0, 0.9))
def test_the_guarantees_hold_with_the_inverse_cdf_draw(seed, frames, keep):
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, MODEL.vocab_size, (2, 4, frames), generator=g)
    mask = torch.rand(2, 4, frames, generator=g) >= keep
    prompt = Prompt(codes, Mask(mask), frame_rate=57.421875, codebook_size=MODEL.vocab_size)
    run = lambda: sample(MODEL, prompt, steps=4, draw="inverse-cdf", generator=torch.Generator().manual_seed(seed))  # noqa: E731
    out = run()
    assert out.shape == codes.shape and out.dtype == torch.long
    assert torch.equal(out[~mask], codes[~mask])  # prompt untouched
    assert int(out.max()) < MODEL.vocab_size  # everything filled
    assert torch.equal(out, run())  # one seed, one result


def test_an_unknown_draw_is_refused_by_name():
    with pytest.raises(ParameterError, match="draw"):
        SamplingSettings(draw="fast")
