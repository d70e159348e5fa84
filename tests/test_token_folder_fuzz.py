"""Fuzzing token folders (what `vampkit train` reads): whatever a folder's manifest and shards
hold, opening it and drawing excerpts ends in tokens the model can take or one DatasetError,
never another exception (an out-of-range token would only fail deep inside a forward)."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vampkit.training.tokens import CodecInfo, DatasetError, ExcerptSampler, TokenDataset, write_tokens

INFO = CodecInfo("lac", 44100, 768, 4, 32, "0" * 64)
LONG = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz-long"
FUZZ = settings(max_examples=150 * (20 if LONG else 1), deadline=None, derandomize=not LONG,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tokens") / "valid"
    g = torch.Generator().manual_seed(0)
    write_tokens(root, INFO, {"a": torch.randint(0, 32, (4, 40), generator=g),
                              "b": torch.randint(0, 32, (4, 25), generator=g)})
    return root


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12)
    | st.sampled_from(["../x", "/etc/passwd", "a/b", "", "lac", "0" * 64]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6)


def _edit(data, path, value):
    """``data`` with the value at ``path`` (keys / indices into dicts and lists) replaced."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict) and head in data:
        return {**data, head: _edit(data[head], rest, value)}
    if isinstance(data, list) and isinstance(head, int) and head < len(data):
        return [*data[:head], _edit(data[head], rest, value), *data[head + 1:]]
    return data


def _paths(data, prefix=()):
    yield prefix
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _paths(v, (*prefix, i))


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


SHARD_CONTENTS = st.sampled_from([
    _npy(np.zeros((4, 30), dtype=np.float32)), _npy(np.full((4, 30), 32, dtype=np.int64)),
    _npy(np.full((4, 30), -1, dtype=np.int64)), _npy(np.zeros((30,), dtype=np.int64)),
    _npy(np.zeros((4, 30, 2), dtype=np.int64)), _npy(np.zeros((3, 30), dtype=np.int64)),
    _npy(np.zeros((4, 0), dtype=np.int64)), _npy(np.array([{"x": 1}], dtype=object)),
    _npy(np.zeros((4, 30), dtype=np.bool_)), _npy(np.full((4, 30), 2**40, dtype=np.int64)),
    _npy(np.zeros((4, 30), dtype=np.uint8)), _npy(np.full((4, 30), np.nan)), b"", b"\x93NUMPY", b"not numpy",
    _npy(np.zeros((0,), dtype=np.float32)), _npy(np.full((2,), np.inf, dtype=np.float32)),
])


def open_and_draw(root: Path) -> None:
    try:
        dataset = TokenDataset.open(root)
        sampler = ExcerptSampler(dataset, 8, INFO.n_codebooks, loudness_cutoff=-30.0)
        g = torch.Generator().manual_seed(1)
        codes = sampler.codes([sampler.draw(g) for _ in range(4)])
    except DatasetError as exc:
        assert str(exc).strip() and "\n" not in str(exc)
        return
    assert codes.dtype == torch.int64 and codes.shape == (4, INFO.n_codebooks, 8)
    assert 0 <= int(codes.min()) and int(codes.max()) < dataset.codec.codebook_size


@FUZZ
@given(data=st.data())
def test_any_manifest_opens_or_fails_with_one_dataset_error(valid, tmp_path_factory, data):
    root = tmp_path_factory.mktemp("fuzz") / "tokens"
    shutil.copytree(valid, root)
    manifest = json.loads((root / "manifest.json").read_text())
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(list(_paths(manifest))))
        manifest = _edit(manifest, path, data.draw(JSON_VALUES))
    (root / "manifest.json").write_text(json.dumps(manifest))
    open_and_draw(root)


@FUZZ
@given(data=st.data())
def test_any_shard_opens_or_fails_with_one_dataset_error(valid, tmp_path_factory, data):
    root = tmp_path_factory.mktemp("fuzz") / "tokens"
    shutil.copytree(valid, root)
    shards = sorted((root / "shards").glob("*.npy"))
    for _ in range(data.draw(st.integers(1, 2))):
        data.draw(st.sampled_from(shards)).write_bytes(data.draw(SHARD_CONTENTS))
    open_and_draw(root)


def test_the_valid_folder_itself_draws_excerpts(valid):
    open_and_draw(valid)
    assert len(TokenDataset.open(valid).files) == 2
