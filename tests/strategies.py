"""The hypothesis strategies vampkit's tests share: grid shapes, token grids, parameter values per
built-in mask generator, and nested mask specs. One definition each, so every property test
draws the same kinds of grids and specs (import: ``from strategies import grid_shapes``)."""

from __future__ import annotations

from typing import Any

import torch
from hypothesis import strategies as st
from vampkit.testing import FRAME_GEOMETRIES  # (sample_rate, hop_length) of real codecs, one list

SEEDS = st.integers(0, 2**31 - 1)


def grid_shapes(*, max_codebooks: int = 14, max_frames: int = 300) -> st.SearchStrategy[tuple[int, int, int]]:
    """``(n_codebooks, n_frames, seed)`` of a token grid."""
    return st.tuples(st.integers(1, max_codebooks), st.integers(1, max_frames), SEEDS)


def frame_grids(*, max_frames: int = 160) -> st.SearchStrategy[tuple[int, tuple[int, int]]]:
    """``(n_frames, (sample_rate, hop_length))``: a grid's length and its codec's frame geometry."""
    return st.tuples(st.integers(1, max_frames), st.sampled_from(FRAME_GEOMETRIES))


@st.composite
def token_grids(draw: Any, n_codebooks: int = 4, vocab: int = 64, max_batch: int = 3,
                max_frames: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    """``(codes, mask)`` of shape ``[batch, n_codebooks, frames]``: random tokens and a random
    generate-mask (True = generate) for the sampler."""
    batch = draw(st.integers(1, max_batch))
    frames = draw(st.integers(1, max_frames))
    g = torch.Generator().manual_seed(draw(SEEDS))
    codes = torch.randint(0, vocab, (batch, n_codebooks, frames), generator=g)
    mask = torch.rand(batch, n_codebooks, frames, generator=g) < draw(st.floats(0.05, 1.0))
    return codes, mask


_seconds = st.floats(0.0, 2.0, allow_nan=False)
_fraction = st.floats(0.0, 1.0, allow_nan=False)
_edges = st.sampled_from(["upstream", "clamp"])


@st.composite
def _periodic(draw: Any) -> dict:
    period = draw(st.integers(0, 40))
    width = draw(st.integers(0, period if period else 40))
    return {"period": period, "width": width, "offset": draw(st.integers(0, 40)),
            "random_offset": draw(st.booleans())}


@st.composite
def _region(draw: Any) -> dict:
    start = draw(_seconds)
    return {"start": start, "end": start + draw(st.floats(0.01, 2.0))}


#: valid parameters of each built-in leaf generator (nested masks come from ``mask_specs``)
PARAMS: dict[str, st.SearchStrategy[dict]] = {
    "periodic": _periodic(),
    "prefix": st.fixed_dictionaries({"seconds": _seconds}),
    "suffix": st.fixed_dictionaries({"seconds": _seconds}),
    "inpaint": st.fixed_dictionaries({"prefix": _seconds, "suffix": _seconds}),
    "region": _region(),
    "codebooks": st.fixed_dictionaries({"keep": st.integers(0, 14)}),
    "random": st.fixed_dictionaries({"p": _fraction}),
    "beat": st.fixed_dictionaries({}, optional={
        "before": st.floats(0.0, 0.25), "after": st.floats(0.0, 0.25), "every": st.integers(1, 4),
        "edges": _edges, "dropout": _fraction, "downbeats_only": st.booleans()}),
    "onset": st.fixed_dictionaries({}, optional={"width": st.integers(0, 20), "edges": _edges}),
}


def param_values(name: str) -> st.SearchStrategy[dict]:
    """Valid parameters of the built-in generator ``name``."""
    return PARAMS[name]


def leaf_specs(names: tuple[str, ...] = tuple(PARAMS)) -> st.SearchStrategy[dict]:
    """``{name: params}`` of a leaf generator with valid parameters."""
    return st.sampled_from(names).flatmap(lambda n: param_values(n).map(lambda p: {n: p}))


def mask_specs(*, max_leaves: int = 6, leaves: st.SearchStrategy | None = None) -> st.SearchStrategy[Any]:
    """Nested mask specs as a recipe writes them: leaves combined by ``all-of``, ``any-of``,
    ``not`` and ``dropout``, in the long and the short (positional) forms."""
    base = leaves if leaves is not None else leaf_specs()

    def extend(children: st.SearchStrategy) -> st.SearchStrategy:
        return st.one_of(
            st.lists(children, max_size=3).map(lambda ms: {"all-of": ms}),
            st.lists(children, max_size=3).map(lambda ms: {"any-of": {"masks": ms}}),
            children.map(lambda m: {"not": m}),
            st.tuples(children, _fraction).map(lambda c: {"dropout": {"mask": c[0], "p": c[1]}}),
        )

    return st.recursive(base, extend, max_leaves=max_leaves)
