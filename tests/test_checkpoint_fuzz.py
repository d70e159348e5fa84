"""Fuzzing checkpoints (a user names them; recipes name them too): a VampNet file with bytes
changed, cut or inserted, or with hostile constructor kwargs or tensors, loads into a working
model or fails with one VampkitError, never another exception, a hang or a huge allocation."""

from __future__ import annotations

import io
import os
from collections import OrderedDict

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from helpers_models import COARSE, tables, write_tiny

from vampkit import VampNet
from vampkit.errors import VampkitError

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz-long"
FUZZ = settings(max_examples=100 * (20 if LONG else 1), deadline=None, derandomize=not LONG,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> bytes:
    return write_tiny(tmp_path_factory.mktemp("ckpt") / "coarse.pth", COARSE, seed=1).read_bytes()


def load_cleanly(path) -> None:
    try:
        model = VampNet.load(path, tables())
    except VampkitError as exc:
        assert str(exc).strip() and "\n" not in str(exc).strip(), str(exc)
        event(type(exc).__name__)
        return
    event("loaded")
    codes = torch.randint(0, model.vocab_size, (1, model.n_codebooks, 8), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert model.logits(codes).shape[-1] == model.vocab_size


@FUZZ
@given(data=st.data())
def test_a_damaged_checkpoint_loads_or_fails_with_one_error(original, tmp_path_factory, data):
    blob = bytearray(original)
    for _ in range(data.draw(st.integers(1, 3))):
        kind = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if kind == "flip" and blob:
            blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
        elif kind == "cut":
            blob = blob[:data.draw(st.integers(0, len(blob)))]
        else:
            i = data.draw(st.integers(0, len(blob)))
            blob[i:i] = data.draw(st.binary(min_size=1, max_size=16))
    path = tmp_path_factory.mktemp("damaged") / "coarse.pth"  # an empty file included
    path.write_bytes(bytes(blob))
    load_cleanly(path)


HOSTILE = st.one_of(st.integers(-(2**40), 2**40), st.sampled_from([0, -1, 10**9, 2**31, True, None, 1.5,
                                                                   float("nan"), "20", [1], {"a": 1}]))


@FUZZ
@given(data=st.data())
def test_hostile_kwargs_or_tensors_load_or_fail_with_one_error(original, tmp_path_factory, data):
    checkpoint = torch.load(io.BytesIO(original), weights_only=True)
    kwargs, state = dict(checkpoint["metadata"]["kwargs"]), OrderedDict(checkpoint["state_dict"])
    for _ in range(data.draw(st.integers(1, 3))):
        if data.draw(st.booleans()):
            kwargs[data.draw(st.sampled_from(sorted(kwargs) + ["r_cond_dim", "ctrl_dims", "noise_mode"]))] = \
                data.draw(HOSTILE)
        else:
            key = data.draw(st.sampled_from(sorted(state)))
            state[key] = data.draw(st.sampled_from([
                state[key].double(), state[key][..., :1], torch.full_like(state[key].float(), float("nan")),
                torch.zeros(0), state[key].long(), torch.zeros(3, 3, 3)]))
    path = tmp_path_factory.mktemp("hostile") / "coarse.pth"
    torch.save({"state_dict": state, "metadata": {"kwargs": kwargs}}, path)
    load_cleanly(path)


def test_nan_weights_are_refused_naming_the_tensor(original, tmp_path):
    checkpoint = torch.load(io.BytesIO(original), weights_only=True)
    key = sorted(checkpoint["state_dict"])[3]
    checkpoint["state_dict"][key] = checkpoint["state_dict"][key].clone()
    checkpoint["state_dict"][key].view(-1)[0] = float("inf")
    path = tmp_path / "coarse.pth"
    torch.save(checkpoint, path)
    with pytest.raises(VampkitError, match=rf"coarse\.pth: NaN or infinite values in .*{key}"):
        VampNet.load(path, tables())


def test_absurd_sizes_are_refused_before_anything_is_built(tmp_path):
    path = tmp_path / "coarse.pth"
    torch.save({"state_dict": {}, "metadata": {"kwargs": dict(COARSE, n_layers=10**9)}}, path)
    with pytest.raises(VampkitError, match="n_layers must be at most 512, got 1000000000"):
        VampNet.load(path, tables())
