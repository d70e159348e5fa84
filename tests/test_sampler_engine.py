"""The sampler: upstream's schedule and algorithm, and its invariants as properties."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers_models import COARSE, ToyModel, oracle, rowwise_random, tiny
from strategies import token_grids
from vampkit import Mask, ParameterError, Prompt, SamplingSettings, sample
from vampkit.sampling import masked_counts, num_to_mask, schedule, typical_filter
from vampkit.sampling.engine import sample_codes

VOCAB = 16
MODEL = tiny(COARSE, seed=5)
ARGMAX = dict(mask_temperature=0.0, sample_cutoff=-1.0)


def prompt_of(codes: torch.Tensor, mask: torch.Tensor, vocab: int = VOCAB) -> Prompt:
    return Prompt(codes, Mask(mask), frame_rate=57.421875, codebook_size=vocab)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)




# -- schedule --------------------------------------------------------------------------------

def test_schedule_values_are_upstreams_float32_cosine():
    assert schedule(6) == pytest.approx([0.96593, 0.86603, 0.70711, 0.50000, 0.25882, 1e-10], abs=1e-5)
    assert schedule(6)[-1] == pytest.approx(1e-10, rel=1e-6)


def test_raw_num_to_mask_before_clamping():
    n = torch.tensor([2300])
    raw = [int(num_to_mask(i, 12, n, n)) if i == 11 else int(torch.floor(torch.tensor(schedule(12)[i]) * 2300))
           for i in range(12)]
    assert raw == [2280, 2221, 2124, 1991, 1824, 1626, 1400, 1149, 880, 595, 300, 0]


def test_masked_count_sequences_of_the_fixtures():
    assert masked_counts(6, 352) == [340, 304, 248, 175, 91, 0]
    assert masked_counts(8, 352) == [345, 325, 292, 248, 195, 134, 68, 0]
    assert masked_counts(4, 1095) == [1011, 774, 419, 0]  # c2f_argmax


def test_num_to_mask_clamps_to_commit_and_leave_at_least_one():
    n = torch.tensor([10, 10])
    assert num_to_mask(0, 2, n, torch.tensor([10, 3])).tolist() == [7, 2]
    assert num_to_mask(0, 100, n, torch.tensor([10, 1])).tolist() == [9, 1]
    assert num_to_mask(1, 2, n, torch.tensor([10, 3])).tolist() == [0, 0]


def test_each_step_leaves_exactly_k_masked_b1():
    """coarse_argmax_b1: 352 of 544 tokens masked, 6 steps -> 340, 304, 248, 175, 91, 0 left."""
    codes = torch.randint(0, 128, (1, 4, 136), generator=gen(0))
    mask = torch.zeros(1, 4, 136, dtype=torch.bool)
    mask.view(-1)[torch.randperm(544, generator=gen(1))[:352]] = True
    spy = ToyModel(MODEL.logits, vocab_size=128)
    out = sample(spy, prompt_of(codes, mask, 128), steps=6, **ARGMAX)
    seen = [int((c == 128).sum()) for c in spy.calls]
    assert seen == [352, 340, 304, 248, 175, 91]
    assert not (out == 128).any()


def test_each_batch_row_follows_its_own_schedule():
    codes = torch.randint(0, 128, (2, 4, 136), generator=gen(0))
    mask = torch.zeros(2, 4, 136, dtype=torch.bool)
    mask[0].view(-1)[:352] = True
    mask[1].view(-1)[:100] = True
    spy = ToyModel(MODEL.logits, vocab_size=128)
    sample(spy, prompt_of(codes, mask, 128), steps=6, **ARGMAX)
    per_row = [[int((c[b] == 128).sum()) for c in spy.calls] for b in range(2)]
    assert per_row[0] == [352] + masked_counts(6, 352)[:-1]
    assert per_row[1] == [100] + masked_counts(6, 100)[:-1]


# -- invariants (hypothesis) ----------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(token_grids(vocab=128), st.integers(1, 5), st.integers(0, 1000))
def test_prompt_kept_everything_filled_exact_steps(grid, steps, seed):
    codes, mask = grid
    spy = ToyModel(MODEL.logits, vocab_size=128)
    out = sample(spy, prompt_of(codes, mask, 128), steps=steps, generator=gen(seed))
    assert out.shape == codes.shape and out.dtype == torch.long
    assert torch.equal(out[~mask], codes[~mask])
    assert not (out == 128).any() and int(out.max()) < 128
    assert len(spy.calls) == (steps if mask.any() else 0)
    assert all(c.shape == codes.shape for c in spy.calls)  # one batched forward per step


@settings(max_examples=15, deadline=None)
@given(token_grids(vocab=128), st.integers(0, 1000), st.sampled_from([None, 0.9]), st.booleans())
def test_one_seed_gives_one_result(grid, seed, top_p, typical):
    codes, mask = grid
    knobs = dict(steps=3, top_p=top_p, typical_filtering=typical, typical_mass=0.5)
    a = sample(MODEL, prompt_of(codes, mask, 128), generator=gen(seed), **knobs)
    b = sample(MODEL, prompt_of(codes, mask, 128), generator=gen(seed), **knobs)
    assert torch.equal(a, b)


@settings(max_examples=20, deadline=None)
@given(token_grids(vocab=VOCAB), st.integers(1, 4), st.integers(0, 1000))
def test_batch_rows_equal_independent_runs_with_their_own_generators(grid, steps, seed):
    codes, mask = grid
    model = rowwise_random()
    batch = codes.shape[0]
    together = sample(model, prompt_of(codes, mask), steps=steps, generator=[gen(seed + b) for b in range(batch)])
    for b in range(batch):
        alone = sample(model, prompt_of(codes[b : b + 1], mask[b : b + 1]), steps=steps, generator=gen(seed + b))
        assert torch.equal(together[b : b + 1], alone)


@settings(max_examples=20, deadline=None)
@given(token_grids(vocab=VOCAB), st.integers(1, 6), st.integers(0, 1000))
def test_oracle_model_reconstructs_the_true_codes(grid, steps, seed):
    truth, mask = grid
    start = truth.masked_fill(mask, VOCAB)  # the sampler never sees the true masked tokens
    out = sample(oracle(truth, VOCAB), prompt_of(start, mask), steps=steps, generator=gen(seed))
    assert torch.equal(out, truth)


def test_conditioning_codebooks_are_copied_and_never_generated():
    truth = torch.randint(0, VOCAB, (2, 6, 10), generator=gen(2))
    mask = torch.ones(2, 6, 10, dtype=torch.bool)  # even if the mask says "generate" there
    model = oracle(truth, VOCAB, n_conditioning=2)
    out = sample(model, prompt_of(truth, mask), steps=3, generator=gen(0))
    assert torch.equal(out, truth)
    assert all(torch.equal(c[:, :2], truth[:, :2]) for c in model.calls)


def test_nothing_masked_means_no_forward_pass():
    codes = torch.randint(0, VOCAB, (1, 4, 8))
    spy = rowwise_random()
    out = sample(spy, prompt_of(codes, torch.zeros(1, 4, 8, dtype=torch.bool)), steps=4)
    assert torch.equal(out, codes) and spy.calls == []


def test_progress_is_called_once_per_step():
    codes = torch.randint(0, VOCAB, (1, 4, 8))
    seen = []
    sample(rowwise_random(), prompt_of(codes, torch.ones(1, 4, 8, dtype=torch.bool)), steps=5,
           progress=lambda i, n: seen.append((i, n)))
    assert seen == [(i, 5) for i in range(1, 6)]


def test_no_global_rng_is_used():
    codes = torch.randint(0, VOCAB, (2, 4, 12))
    mask = torch.ones(2, 4, 12, dtype=torch.bool)
    torch.manual_seed(0)
    before = torch.random.get_rng_state()
    sample(rowwise_random(), prompt_of(codes, mask), steps=3, generator=gen(1))
    sample(rowwise_random(), prompt_of(codes, mask), steps=3)
    assert torch.equal(before, torch.random.get_rng_state())


# -- filters -------------------------------------------------------------------------------

def _static(logits: torch.Tensor) -> ToyModel:
    """A model whose logits ignore the input: ``logits`` is [P, T, V]."""
    p, t, v = logits.shape
    return ToyModel(lambda codes: logits.unsqueeze(0).expand(codes.shape[0], -1, -1, -1), p, 0, v)


def test_top_k_one_is_argmax():
    logits = torch.randn(4, 10, VOCAB, generator=gen(3)) * 3
    out = sample(_static(logits), prompt_of(torch.zeros(1, 4, 10, dtype=torch.long), torch.ones(1, 4, 10, dtype=torch.bool)),
                 steps=3, top_k=1, generator=gen(0))
    assert torch.equal(out[0], logits.argmax(-1))


def test_typical_filtering_really_filters():
    logits = torch.randn(4, 10, VOCAB, generator=gen(4)) * 3
    logp = logits.log_softmax(-1)
    entropy = -(logp.exp() * logp).sum(-1, keepdim=True)
    most_typical = (-logp - entropy).abs().argmin(-1)
    assert not torch.equal(most_typical, logits.argmax(-1))  # so the test can tell them apart
    prompt = prompt_of(torch.zeros(1, 4, 10, dtype=torch.long), torch.ones(1, 4, 10, dtype=torch.bool))
    for seed in range(3):
        out = sample(_static(logits), prompt, steps=3, typical_filtering=True, typical_mass=1e-6, generator=gen(seed))
        assert torch.equal(out[0], most_typical)


def test_typical_filter_keeps_at_least_min_tokens():
    logits = torch.randn(5, VOCAB, generator=gen(5))
    kept = torch.isfinite(typical_filter(logits, mass=1e-6, min_tokens=3)).sum(-1)
    assert kept.tolist() == [3] * 5


def test_argmax_steps_are_deterministic_without_a_generator():
    codes = torch.randint(0, 128, (1, 4, 20))
    mask = torch.ones(1, 4, 20, dtype=torch.bool)
    a = sample(MODEL, prompt_of(codes, mask, 128), steps=4, **ARGMAX)
    b = sample(MODEL, prompt_of(codes, mask, 128), steps=4, **ARGMAX)
    assert torch.equal(a, b)


# -- errors --------------------------------------------------------------------------------

def test_wrong_codebook_count_is_an_error():
    with pytest.raises(ParameterError, match="codebooks"):
        sample(MODEL, prompt_of(torch.zeros(1, 3, 5, dtype=torch.long), torch.ones(1, 3, 5, dtype=torch.bool), 128))


def test_vocab_mismatch_is_an_error():
    with pytest.raises(ParameterError, match="vocab_size"):
        sample(MODEL, prompt_of(torch.zeros(1, 4, 5, dtype=torch.long), torch.ones(1, 4, 5, dtype=torch.bool), 64))


def test_generator_list_must_match_the_batch():
    p = prompt_of(torch.zeros(2, 4, 5, dtype=torch.long), torch.ones(2, 4, 5, dtype=torch.bool))
    with pytest.raises(ParameterError, match="3 generators for a batch of 2"):
        sample(rowwise_random(), p, generator=[gen(0), gen(1), gen(2)])


@pytest.mark.parametrize("knobs", [dict(steps=0), dict(top_p=0.0), dict(temperature=-1.0), dict(top_k=0)])
def test_bad_settings_are_named(knobs):
    with pytest.raises(ParameterError, match=next(iter(knobs))):
        SamplingSettings(**knobs)


def test_sample_codes_accepts_settings_value():
    codes = torch.randint(0, VOCAB, (1, 4, 6))
    s = SamplingSettings(steps=2)
    a = sample_codes(rowwise_random(), codes, torch.ones(1, 4, 6, dtype=torch.bool), s, generator=gen(0))
    b = sample(rowwise_random(), prompt_of(codes, torch.ones(1, 4, 6, dtype=torch.bool)), **s.as_kwargs(), generator=gen(0))
    assert torch.equal(a, b)
