"""Faster codec inference: the in-place Snake and folded weight norms change nothing; a bf16
decoder stays close to float32 and returns float32 audio."""

from __future__ import annotations

import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vampkit.codecs import load_codec
from vampkit.codecs._torchaudio_compat import import_dac
from vampkit.codecs.fast import FastSnake1d, snake, snake_reference
from vampkit.codecs.fixtures import make_lac_checkpoint
from vampkit.errors import ParameterError


@pytest.fixture(scope="module")
def lac_path(tmp_path_factory):
    return make_lac_checkpoint(tmp_path_factory.mktemp("lac") / "codec.pth", n_codebooks=14, codebook_size=128)


@settings(max_examples=20, deadline=None)
@given(channels=st.integers(1, 6), length=st.integers(1, 50), seed=st.integers(0, 2**16))
def test_in_place_snake_equals_dacs_bit_for_bit(channels, length, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, channels, length, generator=g) * 3
    alpha = torch.rand(1, channels, 1, generator=g) * 2
    theirs = import_dac().nn.layers.snake(x, alpha)
    assert torch.equal(snake(x, alpha), theirs)
    assert torch.equal(snake_reference(x, alpha), theirs)


def test_snake_keeps_gradients_when_asked():
    x = torch.randn(1, 3, 8, requires_grad=True)
    snake(x, torch.ones(1, 3, 1)).sum().backward()
    assert x.grad is not None


def test_loaded_codecs_use_the_fast_snake_and_no_weight_norm_hooks(lac_path):
    codec = load_codec(lac_path)
    modules = list(codec.network.modules())
    assert any(isinstance(m, FastSnake1d) for m in modules)
    assert not any(isinstance(m, import_dac().nn.layers.Snake1d) for m in modules)
    assert not any(type(h).__name__ == "WeightNorm" for m in modules for h in m._forward_pre_hooks.values())  # noqa: SLF001 - where torch keeps the weight-norm hook


def test_bf16_decoder_is_close_to_fp32_and_returns_float32(lac_path):
    codes = torch.randint(0, 128, (1, 14, 12), generator=torch.Generator().manual_seed(0))
    ref = load_codec(lac_path).decode(codes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # emulated bf16 on CPUs without it
        low = load_codec(lac_path, precision="bf16")
    out = low.decode(codes)
    assert out.dtype is torch.float32 and out.shape == ref.shape
    assert (out - ref).abs().max() < 0.05 * ref.abs().max() + 1e-3
    assert torch.equal(low.encode(ref, 44100), load_codec(lac_path).encode(ref, 44100))  # encoder stays fp32


def test_fp16_codec_on_cpu_is_an_error(lac_path):
    with pytest.raises(ParameterError, match="fp16 is not supported on device cpu"):
        load_codec(lac_path, precision="fp16")
