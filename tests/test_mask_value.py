"""Mask: the boolean token mask (True = generate, False = kept prompt token)."""

import math

import pytest
import torch

import vampkit
from vampkit import Mask


def grid(rows):
    return Mask(torch.tensor(rows, dtype=torch.bool))


def test_true_marks_generated_tokens_and_false_kept_ones():
    mask = grid([[True, False], [False, False]])
    assert mask.kept_fraction() == 0.75
    assert mask.to_upstream().tolist() == [[1, 0], [0, 0]]


def test_and_generates_only_where_both_generate_so_prompts_add_up():
    a, b = grid([[1, 1, 0, 0]]), grid([[1, 0, 1, 0]])
    assert (a & b).tensor.long().tolist() == [[1, 0, 0, 0]]


def test_or_generates_where_either_generates():
    a, b = grid([[1, 1, 0, 0]]), grid([[1, 0, 1, 0]])
    assert (a | b).tensor.long().tolist() == [[1, 1, 1, 0]]


def test_invert_swaps_kept_and_generated():
    assert (~grid([[1, 0]])).tensor.long().tolist() == [[0, 1]]


def test_upstream_long_mask_round_trips():
    upstream = torch.tensor([[[1, 0, 1], [0, 0, 1]]])
    assert torch.equal(Mask.from_upstream(upstream).to_upstream(), upstream)


def test_values_other_than_zero_and_one_are_refused():
    with pytest.raises(vampkit.ParameterError, match="0/1"):
        Mask(torch.tensor([[0, 2]]))


def test_float_tensors_are_refused():
    with pytest.raises(vampkit.ParameterError, match="dtype"):
        Mask(torch.zeros(2, 3))


@pytest.mark.parametrize("shape", [(5,), (1, 2, 3, 4)])
def test_shapes_other_than_2d_or_3d_are_refused(shape):
    with pytest.raises(vampkit.ParameterError, match="n_codebooks, n_frames"):
        Mask(torch.zeros(shape, dtype=torch.bool))


def test_bitrate_counts_kept_tokens_times_bits_per_token_over_duration():
    # 14 codebooks x 575 frames at 44100/768 Hz, keep 4 codebooks in every frame
    frame_rate = 44100 / 768
    tensor = torch.ones(14, 575, dtype=torch.bool)
    tensor[:4] = False
    bitrate = Mask(tensor).bitrate(frame_rate, 1024)
    assert bitrate == pytest.approx(4 * 10 * frame_rate)  # 4 codebooks x 10 bits x 57.42 Hz


def test_bitrate_of_a_batched_mask_is_per_item():
    frame_rate = 50.0
    single = Mask(torch.tensor([[True, False]]))
    assert single.batched(3).bitrate(frame_rate, 256) == pytest.approx(single.bitrate(frame_rate, 256))
    assert single.bitrate(frame_rate, 256) == pytest.approx(1 * math.log2(256) / (2 / frame_rate))


def test_batched_repeats_an_unbatched_mask():
    mask = grid([[1, 0]]).batched(4)
    assert mask.shape == (4, 1, 2)
    assert mask.is_batched
