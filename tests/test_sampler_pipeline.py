"""coarse_to_fine and vamp: chunking as upstream's interface, end to end on tiny models."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers_models import C2F, COARSE, ToyModel, oracle, rowwise_random, tiny
from vampkit import Mask, ParameterError, Prompt, SamplingSettings, coarse_to_fine, vamp


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def spy(model) -> ToyModel:
    toy = ToyModel(lambda codes: model.logits(codes), model.n_codebooks, model.n_conditioning_codebooks,
                   model.vocab_size, model.context_frames)
    toy.device = model.device
    return toy


def test_c2f_runs_in_chunks_of_its_context_and_crops():
    c2f = spy(tiny(C2F, seed=3, context_frames=16))
    codes = torch.randint(0, 128, (1, 14, 40), generator=gen(0))
    out = coarse_to_fine(c2f, codes, generator=gen(1))
    assert [c.shape[-1] for c in c2f.calls] == [16] * 6  # 3 chunks x 2 steps (upstream's c2f default)
    assert out.shape == (1, 14, 40)
    assert torch.equal(out[:, :4], codes[:, :4])
    assert not (out == 128).any()


def test_c2f_pads_the_last_chunk_with_generated_frames():
    c2f = spy(tiny(C2F, seed=3, context_frames=16))
    codes = torch.randint(0, 128, (1, 14, 20), generator=gen(0))
    coarse_to_fine(c2f, codes, settings=SamplingSettings(steps=1), generator=gen(1))
    last = c2f.calls[-1]
    assert torch.equal(last[:, :4, 4:], torch.zeros(1, 4, 12, dtype=torch.long))  # padding: codes 0, kept
    assert bool((last[:, 4:, 4:] == 128).all())  # fine codebooks of the padding: generated


def test_c2f_appends_missing_fine_codebooks_and_keeps_the_fine_prompt():
    truth = torch.randint(0, 128, (2, 14, 30), generator=gen(5))
    model = oracle(truth, 128, n_conditioning=4)
    model.context_frames = 30
    mask = torch.ones(2, 14, 30, dtype=torch.bool)
    mask[:, :, :7] = False
    out = coarse_to_fine(model, truth, Mask(mask), generator=gen(0))
    assert torch.equal(out, truth)
    out4 = coarse_to_fine(model, truth[:, :4], generator=gen(0))  # only coarse codebooks given
    assert torch.equal(out4, truth)


def _prompt(codes: torch.Tensor, mask: torch.Tensor) -> Prompt:
    return Prompt(codes, Mask(mask), frame_rate=57.421875, codebook_size=128)


def test_vamp_end_to_end_on_tiny_models():
    coarse, c2f = tiny(COARSE, seed=1, context_frames=24), tiny(C2F, seed=2, context_frames=16)
    codes = torch.randint(0, 128, (2, 14, 50), generator=gen(0))
    mask = torch.ones(14, 50, dtype=torch.bool)
    mask[:, ::7] = False  # periodic prompt
    out = vamp(coarse, c2f, _prompt(codes, mask), coarse_settings=SamplingSettings(steps=3), generator=gen(9))
    assert out.shape == (2, 14, 50) and out.dtype == torch.long
    assert torch.equal(out[:, ~mask], codes[:, ~mask])
    assert not (out == 128).any()
    again = vamp(coarse, c2f, _prompt(codes, mask), coarse_settings=SamplingSettings(steps=3), generator=gen(9))
    assert torch.equal(out, again)


def test_coarse_chunk_seams_are_kept_when_the_chunk_has_a_prompt():
    coarse = tiny(COARSE, seed=1, context_frames=10)
    codes = torch.randint(0, 128, (1, 14, 25), generator=gen(0))
    mask = torch.ones(14, 25, dtype=torch.bool)
    mask[:, 3] = False  # a prompt in chunk 0 only; chunks 1 and 2 are fully generated
    sp = spy(coarse)
    out = vamp(sp, None, _prompt(codes, mask), coarse_settings=SamplingSettings(steps=2), generator=gen(1))
    first_inputs = sp.calls[0::2]
    assert [c.shape[-1] for c in first_inputs] == [10, 10, 5]
    assert torch.equal(out[:, :4, [0, 3, 9]], codes[:, :4, [0, 3, 9]])  # seams of chunk 0 forced kept
    assert bool((first_inputs[1] == 128).all())  # chunk 1 keeps nothing: no seams forced


def test_coarse_only_vamp_returns_the_input_fine_codebooks():
    coarse = tiny(COARSE, seed=1)
    codes = torch.randint(0, 128, (1, 14, 12), generator=gen(0))
    out = vamp(coarse, None, _prompt(codes, torch.ones(14, 12, dtype=torch.bool)),
               coarse_settings=SamplingSettings(steps=2), generator=gen(2))
    assert out.shape == (1, 14, 12)
    assert torch.equal(out[:, 4:], codes[:, 4:])
    assert not torch.equal(out[:, :4], codes[:, :4])


def test_vamp_with_oracles_reconstructs_everything():
    truth = torch.randint(0, 128, (1, 14, 40), generator=gen(3))
    coarse = oracle(truth[:, :4], 128)
    coarse.context_frames = 16
    fine = oracle(truth, 128, n_conditioning=4)
    fine.context_frames = 12
    mask = torch.rand(14, 40, generator=gen(4)) < 0.8
    start = truth  # masked positions are hidden by the sampler; forced-kept seams keep true tokens
    # oracles see the true grid by frame index, so chunking must line frames up exactly
    coarse.fn = lambda codes, _t=truth: torch.nn.functional.one_hot(_chunk_truth(_t[:, :4], codes, coarse), 128).float() * 60
    fine.fn = lambda codes, _t=truth: torch.nn.functional.one_hot(_chunk_truth(_t, codes, fine)[:, 4:], 128).float() * 60
    out = vamp(coarse, fine, _prompt(start, mask), generator=gen(0))
    assert torch.equal(out, truth)


def _chunk_truth(truth: torch.Tensor, codes: torch.Tensor, model: ToyModel) -> torch.Tensor:
    """The true tokens of the chunk being sampled, found by matching the tokens it keeps."""
    chunk = model.context_frames
    for offset in range(0, truth.shape[-1], chunk):
        window = truth[..., offset : offset + codes.shape[-1]]
        if window.shape[-1] < codes.shape[-1]:
            window = torch.nn.functional.pad(window, (0, codes.shape[-1] - window.shape[-1]))
        known = codes != model.mask_token
        if torch.equal(window[known], codes[known]):
            return window
    raise AssertionError("no chunk of the truth fits the sampler's input")


def test_vamp_refuses_models_that_do_not_fit_each_other():
    coarse = tiny(COARSE, seed=1)
    other = ToyModel(lambda c: None, n_codebooks=14, n_conditioning_codebooks=3, vocab_size=128)
    with pytest.raises(ParameterError, match="conditioned on 3"):
        vamp(coarse, other, _prompt(torch.zeros(1, 14, 5, dtype=torch.long), torch.ones(14, 5, dtype=torch.bool)))


@settings(max_examples=25, deadline=None)
@given(n_frames=st.integers(1, 40), coarse_context=st.integers(1, 16), c2f_context=st.integers(1, 16),
       coarse_steps=st.integers(1, 3), c2f_steps=st.integers(1, 3), with_c2f=st.booleans())
def test_vamp_steps_counts_every_progress_call_of_vamp(n_frames, coarse_context, c2f_context, coarse_steps,
                                                        c2f_steps, with_c2f):
    from vampkit.sampling.pipeline import vamp_steps

    coarse = rowwise_random(vocab=16, n_codebooks=4)
    coarse.context_frames = coarse_context
    c2f = rowwise_random(vocab=16, n_codebooks=14, n_conditioning=4) if with_c2f else None
    if c2f is not None:
        c2f.context_frames = c2f_context
    codes = torch.randint(0, 16, (1, 14, n_frames), generator=torch.Generator().manual_seed(n_frames))
    prompt = Prompt(codes=codes, mask=Mask(torch.rand(14, n_frames) < 0.5), frame_rate=50, codebook_size=16)
    calls = []
    coarse_settings, c2f_settings = SamplingSettings(steps=coarse_steps), SamplingSettings(steps=c2f_steps)
    vamp(coarse, c2f, prompt, coarse_settings=coarse_settings, c2f_settings=c2f_settings,
         generator=torch.Generator().manual_seed(0), progress=lambda step, total: calls.append(step))
    assert len(calls) == vamp_steps(coarse, c2f, n_frames, coarse_settings=coarse_settings,
                                    c2f_settings=c2f_settings)
