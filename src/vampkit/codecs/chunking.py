"""Chunked encode/decode with frame margins, one scheme for every convolutional codec.

Every layer of DAC and LAC is "same"-padded with a finite receptive field, so a chunk computed
with ``margin`` frames of real context on each side equals the whole-file result inside it; at
the file's edges the margin is clipped, which reproduces the whole-file edge behaviour.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

#: (left/right) extent in steps of one residual chain of a stage, per decoder family
_RESIDUAL_UNIT_STEPS = 3 * (1 + 3 + 9)  # three k7 convs, dilations 1/3/9 (+ k1 convs: none)
_MRF_STEPS = max(((k - 1) // 2) * sum(d + 1 for d in (1, 3, 5)) for k in (3, 7, 11))  # = 60


def encoder_context_samples(rates: Sequence[int]) -> int:
    """Upper bound, in input samples, of how far one code frame looks either side (DAC/LAC encoder)."""
    total, resolution = 3, 1  # first conv, kernel 7
    for stride in rates:
        total += _RESIDUAL_UNIT_STEPS * resolution  # residual units on the block's input
        total += (2 * stride - 1) * resolution  # strided conv, kernel 2*stride: bounds both sides
        resolution *= stride
    return total + resolution  # last conv, kernel 3, at the frame rate


def decoder_context_samples(rates: Sequence[int], *, mrf: bool) -> int:
    """Upper bound, in output samples, of the decoder's reach; ``mrf`` for LAC's MRF blocks."""
    resolution = math.prod(rates)
    total = 3 * resolution  # first conv, kernel 7, at the frame rate
    stage_steps = _MRF_STEPS if mrf else _RESIDUAL_UNIT_STEPS
    for rate in rates:
        total += 2 * resolution  # transposed conv, kernel 2r: an output sees <= 2 inputs each side
        resolution //= rate
        total += stage_steps * resolution
    return total + 3  # final conv, kernel 7


def margin_frames(context_samples: int, hop_length: int) -> int:
    """Frames of context that cover ``context_samples``, plus one for alignment."""
    return math.ceil(context_samples / hop_length) + 1


def chunk_spans(n_frames: int, chunk_frames: int, margin: int) -> list[tuple[int, int, int, int]]:
    """``(j0, j1, a, b)`` per chunk: frames [j0, j1) kept, computed from frames [a, b)."""
    spans = []
    for j0 in range(0, n_frames, chunk_frames):
        j1 = min(n_frames, j0 + chunk_frames)
        spans.append((j0, j1, max(0, j0 - margin), min(n_frames, j1 + margin)))
    return spans


def chunked_encode(
    encode: Callable[[torch.Tensor], torch.Tensor],
    audio: torch.Tensor,
    hop_length: int,
    chunk_frames: int,
    margin: int,
) -> torch.Tensor:
    """Codes of hop-padded ``audio`` [B, 1, T*hop] computed ``chunk_frames`` at a time."""
    n_frames = audio.shape[-1] // hop_length
    pieces = []
    for j0, j1, a, b in chunk_spans(n_frames, chunk_frames, margin):
        codes = encode(audio[..., a * hop_length : b * hop_length])
        pieces.append(codes[..., j0 - a : j1 - a].cpu())
    return torch.cat(pieces, dim=-1)


def chunked_decode(
    decode: Callable[[torch.Tensor], torch.Tensor],
    codes: torch.Tensor,
    hop_length: int,
    chunk_frames: int,
    margin: int,
) -> torch.Tensor:
    """Audio [B, 1, T*hop] of ``codes`` [B, C, T] decoded ``chunk_frames`` at a time."""
    batch, _, n_frames = codes.shape
    out = torch.empty(batch, 1, n_frames * hop_length, dtype=torch.float32)
    for j0, j1, a, b in chunk_spans(n_frames, chunk_frames, margin):
        audio = decode(codes[..., a:b])
        out[..., j0 * hop_length : j1 * hop_length] = audio[
            ..., (j0 - a) * hop_length : (j1 - a) * hop_length
        ].cpu()
    return out
