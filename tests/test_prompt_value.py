"""Prompt: codes + mask + units; builds the model input with the mask token."""

import pytest
import torch

import vampkit
from vampkit import Mask, Prompt


def test_model_input_puts_the_mask_token_where_the_mask_generates():
    codes = torch.tensor([[[5, 6, 7], [1, 2, 3]]])
    mask = Mask(torch.tensor([[False, True, False], [True, True, False]]))
    prompt = Prompt(codes, mask, frame_rate=10, codebook_size=8)
    assert prompt.model_input().tolist() == [[[5, 8, 7], [8, 8, 3]]]
    assert prompt.codes.tolist() == codes.tolist()  # input untouched


def test_an_unbatched_mask_applies_to_every_batch_item():
    codes = torch.zeros(3, 2, 4, dtype=torch.long)
    prompt = Prompt(codes, Mask.full(2, 4), frame_rate=10, codebook_size=4)
    assert (prompt.model_input() == 4).all()
    assert prompt.batched_mask().shape == (3, 2, 4)


def test_a_mask_of_another_shape_is_refused():
    with pytest.raises(vampkit.ParameterError, match="does not fit"):
        Prompt(torch.zeros(1, 2, 4, dtype=torch.long), Mask.full(2, 5), frame_rate=10, codebook_size=4)


def test_codes_outside_the_codebook_are_refused():
    with pytest.raises(vampkit.ParameterError, match=r"\[0, 4\)"):
        Prompt(torch.full((1, 1, 2), 9), Mask.full(1, 2), frame_rate=10, codebook_size=4)


def test_prompt_reports_duration_and_bitrate():
    prompt = Prompt(torch.zeros(1, 2, 100, dtype=torch.long), Mask.empty(2, 100), frame_rate=50, codebook_size=1024)
    assert prompt.duration == 2.0
    assert prompt.bitrate() == pytest.approx(2 * 10 * 50)
