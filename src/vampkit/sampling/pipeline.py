"""Whole-grid generation as upstream's interface does it: coarse model in chunks of its
context, then the coarse-to-fine model in chunks of its own context."""

from __future__ import annotations

import torch

from ..errors import ParameterError
from ..mask import Mask
from ..models.base import TokenModel
from ..prompt import Prompt
from .engine import Generators, Progress, _model_device, sample_codes
from .settings import SamplingSettings

#: upstream main's c2f call: 2 steps, every other knob at its default
DEFAULT_C2F_SETTINGS = SamplingSettings(steps=2)


def _mask_tensor(mask: Mask | torch.Tensor | None, codes: torch.Tensor, fill: bool) -> torch.Tensor:
    """``[B, C, T]`` bool mask on the codes' device; extra codebooks of the grid get ``fill``."""
    b, c, t = codes.shape
    if mask is None:
        return torch.full((b, c, t), fill, dtype=torch.bool, device=codes.device)
    m = mask.tensor if isinstance(mask, Mask) else torch.as_tensor(mask)
    m = m.to(device=codes.device, dtype=torch.bool)
    if m.dim() == 2:
        m = m.unsqueeze(0)
    if m.dim() != 3 or m.shape[-1] != t or m.shape[0] not in (1, b) or m.shape[1] > c:
        raise ParameterError(f"mask shape {tuple(m.shape)} does not fit codes {tuple(codes.shape)}")
    m = m.expand(b, -1, -1)
    if m.shape[1] < c:
        m = torch.cat([m, torch.full((b, c - m.shape[1], t), fill, dtype=torch.bool, device=m.device)], dim=1)
    return m.clone()


def coarse_to_fine(c2f_model: TokenModel, codes: torch.Tensor, mask: Mask | torch.Tensor | None = None, *,
                   settings: SamplingSettings | None = None, generator: Generators = None,
                   progress: Progress = None, autocast: str | None = None) -> torch.Tensor:
    """Sample the fine codebooks given the coarse ones: ``LongTensor[B, c2f.n_codebooks, T]``.

    As upstream ``main``: missing codebooks are appended as zeros; time is right-padded to a
    multiple of ``c2f_model.context_frames`` (codes 0, mask "generate"); the conditioning
    codebooks are never generated; each chunk is sampled separately and the result cropped.
    ``mask`` None regenerates every fine token. ``settings`` defaults to upstream's 2 steps.
    """
    settings = settings or DEFAULT_C2F_SETTINGS
    device = _model_device(c2f_model, codes)
    codes = codes.to(device=device, dtype=torch.long)
    if codes.dim() == 2:
        codes = codes.unsqueeze(0)
    b, c, length = codes.shape
    n_cb, nc, chunk = c2f_model.n_codebooks, c2f_model.n_conditioning_codebooks, c2f_model.context_frames
    if c < nc or c > n_cb:
        raise ParameterError(f"coarse_to_fine: codes have {c} codebooks; {c2f_model.name} needs {nc} to {n_cb}")
    m = _mask_tensor(mask, codes, True)
    if c < n_cb:
        codes = torch.cat([codes, codes.new_zeros(b, n_cb - c, length)], dim=1)
        m = torch.cat([m, torch.ones(b, n_cb - c, length, dtype=torch.bool, device=device)], dim=1)
    pad = (-length) % chunk
    if pad:
        codes = torch.nn.functional.pad(codes, (0, pad))
        m = torch.nn.functional.pad(m, (0, pad), value=True)
    m[:, :nc] = False
    gens = _shared(generator)
    out = [
        sample_codes(c2f_model, codes[..., i : i + chunk], m[..., i : i + chunk], settings,
                     generator=gens, progress=progress, autocast=autocast)
        for i in range(0, codes.shape[-1], chunk)
    ]
    return torch.cat(out, dim=-1)[..., :length]


def coarse_vamp(coarse_model: TokenModel, codes: torch.Tensor, mask: Mask | torch.Tensor, *,
                settings: SamplingSettings | None = None, generator: Generators = None,
                progress: Progress = None, autocast: str | None = None) -> torch.Tensor:
    """The coarse codebooks regenerated in chunks of ``coarse_model.context_frames``; the
    input's other codebooks are appended unchanged (upstream ``coarse_vamp``).

    In every chunk of a row that keeps at least one token, the chunk's first and last frames
    are forced kept so the seams are prompted (upstream tests this over the whole batch).
    """
    settings = settings or SamplingSettings()
    device = _model_device(coarse_model, codes)
    codes = codes.to(device=device, dtype=torch.long)
    n_cb, chunk = coarse_model.n_codebooks, coarse_model.context_frames
    if codes.shape[1] < n_cb:
        raise ParameterError(f"coarse_vamp: codes have {codes.shape[1]} codebooks; {coarse_model.name} needs {n_cb}")
    m = _mask_tensor(mask, codes, True)[:, :n_cb]
    coarse = codes[:, :n_cb]
    gens = _shared(generator)
    out = []
    for i in range(0, coarse.shape[-1], chunk):
        mc = m[..., i : i + chunk].clone()
        keeps = (~mc).flatten(1).any(dim=1)
        mc[keeps, :, 0] = False
        mc[keeps, :, -1] = False
        out.append(sample_codes(coarse_model, coarse[..., i : i + chunk], mc, settings,
                                generator=gens, progress=progress, autocast=autocast))
    return torch.cat([torch.cat(out, dim=-1), codes[:, n_cb:]], dim=1)


def vamp(coarse: TokenModel, c2f: TokenModel | None, prompt: Prompt, *,
         coarse_settings: SamplingSettings | None = None, c2f_settings: SamplingSettings | None = None,
         generator: Generators = None, progress: Progress = None, autocast: str | None = None) -> torch.Tensor:
    """Coarse + coarse-to-fine over the whole prompt: ``LongTensor[B, C, T]``.

    ``C`` is ``c2f.n_codebooks`` (14 for the published models), or the prompt's codebook count
    when ``c2f`` is None (coarse-only: the prompt's fine codebooks come back unchanged). The
    c2f stage uses the prompt's mask (its conditioning codebooks forced kept) and, by default,
    upstream's 2 steps. ``generator`` (one, or one per row) is shared by both stages in order.
    """
    if not isinstance(prompt, Prompt):
        raise ParameterError(f"vamp: prompt must be a vampkit.Prompt, got {type(prompt).__name__}")
    for model in (coarse, c2f):
        if model is not None and model.vocab_size != prompt.codebook_size:
            raise ParameterError(
                f"vamp: prompt codebook_size {prompt.codebook_size} differs from {model.name}'s vocab_size {model.vocab_size}"
            )
    if c2f is not None and c2f.n_conditioning_codebooks != coarse.n_codebooks:
        raise ParameterError(
            f"vamp: the c2f model is conditioned on {c2f.n_conditioning_codebooks} codebooks but the coarse "
            f"model makes {coarse.n_codebooks}"
        )
    mask = prompt.batched_mask().tensor
    gens = _shared(generator)
    out = coarse_vamp(coarse, prompt.codes, mask, settings=coarse_settings, generator=gens,
                      progress=progress, autocast=autocast)
    if c2f is None:
        return out
    return coarse_to_fine(c2f, out[:, : c2f.n_codebooks], mask[:, : c2f.n_codebooks], settings=c2f_settings,
                          generator=gens, progress=progress, autocast=autocast)


def vamp_steps(coarse: TokenModel, c2f: TokenModel | None, n_frames: int, *,
               coarse_settings: SamplingSettings | None = None, c2f_settings: SamplingSettings | None = None) -> int:
    """How many sampling steps ``vamp`` takes on ``n_frames`` frames (each calls ``progress``
    once): every coarse chunk runs the coarse steps, every c2f chunk the c2f steps."""
    coarse_settings = coarse_settings or SamplingSettings()
    total = -(-n_frames // coarse.context_frames) * coarse_settings.steps
    if c2f is not None:
        total += -(-n_frames // c2f.context_frames) * (c2f_settings or DEFAULT_C2F_SETTINGS).steps
    return total


def _shared(generator: Generators) -> Generators:
    """One generator (or list) reused across chunks, so each draw continues the stream."""
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    return list(generator)
