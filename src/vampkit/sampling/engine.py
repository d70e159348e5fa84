"""Parallel iterative decoding (MaskGIT as upstream VampNet does it) of a token grid."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ..device import autocast as autocast_context
from ..errors import ParameterError
from ..mask import Mask
from ..models.base import TokenModel
from ..prompt import Prompt
from .filters import top_k_filter, top_p_filter, typical_filter
from .schedule import num_to_mask, step_progress
from .settings import SamplingSettings

Generators = torch.Generator | Sequence[torch.Generator] | None
Progress = Callable[[int, int], None] | None


def sample(model: TokenModel, prompt: Prompt, *, steps: int = 12, temperature: float = 1.0,
           mask_temperature: float = 10.5, sample_cutoff: float = 1.0, top_p: float | None = None,
           top_k: int | None = None, typical_filtering: bool = False, typical_mass: float = 0.15,
           typical_min_tokens: int = 1, draw: str = "upstream", generator: Generators = None,
           progress: Progress = None, autocast: str | None = None) -> torch.Tensor:
    """Fill the prompt's masked tokens; returns the full grid ``LongTensor[B, C, T]``.

    Upstream's algorithm and defaults (cosine schedule, Gumbel re-masking with annealed
    ``mask_temperature``, argmax after ``sample_cutoff``). Prompt tokens and conditioning
    codebooks are copied unchanged; no mask token remains; exactly ``steps`` forward passes
    (none if nothing is masked), one batched pass per step. ``generator``: one
    ``torch.Generator`` (draws in upstream's order, bit-exact with upstream at batch 1) or a
    list of one per batch row (row b then equals a batch-1 run with generator b).
    ``draw="inverse-cdf"`` samples the same distribution from one uniform per position, much
    faster on CPU than ``torch.multinomial``, but not upstream's random stream.
    """
    if not isinstance(prompt, Prompt):
        raise ParameterError(f"sample: prompt must be a vampkit.Prompt, got {type(prompt).__name__}")
    if prompt.codebook_size != model.vocab_size:
        raise ParameterError(
            f"sample: prompt codebook_size {prompt.codebook_size} differs from {model.name}'s vocab_size {model.vocab_size}"
        )
    settings = SamplingSettings(steps=steps, temperature=temperature, mask_temperature=mask_temperature,
                                sample_cutoff=sample_cutoff, top_p=top_p, top_k=top_k,
                                typical_filtering=typical_filtering, typical_mass=typical_mass,
                                typical_min_tokens=typical_min_tokens, draw=draw)
    return sample_codes(model, prompt.codes, prompt.batched_mask(), settings, generator=generator,
                        progress=progress, autocast=autocast)


def sample_codes(model: TokenModel, codes: torch.Tensor, mask: Mask | torch.Tensor,
                 settings: SamplingSettings | None = None, *, generator: Generators = None,
                 progress: Progress = None, autocast: str | None = None) -> torch.Tensor:
    """``sample`` on raw tensors: ``codes [B, C, T]`` and a mask (True = generate)."""
    settings = settings or SamplingSettings()
    device = _model_device(model, codes)
    codes, mask = _check_grid(model, codes, mask, device)
    batch, n_cb, n_frames = codes.shape
    nc, mask_token, vocab = model.n_conditioning_codebooks, model.mask_token, model.vocab_size
    n_pred = n_cb - nc
    mask[:, :nc] = False  # conditioning codebooks are always given, never generated

    cond = codes[:, :nc]
    # flattened predicted tokens, index t * P + c (upstream's order)
    current = codes[:, nc:].masked_fill(mask[:, nc:], mask_token).transpose(1, 2).reshape(batch, n_frames * n_pred)
    n_start = (current == mask_token).sum(dim=-1)
    if not bool(n_start.any()):
        if progress is not None:  # nothing to generate: every step is done at once (vamp_steps counts them)
            for step in range(settings.steps):
                progress(step + 1, settings.steps)
        return codes.clone()
    gens = _generators(generator, batch, device)

    with torch.no_grad():
        sampled = current
        for step in range(settings.steps):
            grid = torch.cat([cond, current.view(batch, n_frames, n_pred).transpose(1, 2)], dim=1)
            with autocast_context(device, autocast):
                logits = model.logits(grid)
            logits = logits.float().permute(0, 2, 1, 3).reshape(batch, n_frames * n_pred, vocab)
            sampled, chosen_p = _draw(logits, step, settings, gens)

            masked = current == mask_token
            sampled = torch.where(masked, sampled, current)
            chosen_p = torch.where(masked, chosen_p, torch.inf)

            k = num_to_mask(step, settings.steps, n_start, masked.sum(dim=-1))
            r = step_progress(step, settings.steps, device)
            tau = settings.mask_temperature * (1 - r)
            confidence = torch.log(chosen_p) + tau * _gumbel(chosen_p, gens)
            ranked = torch.cat([confidence.sort(dim=-1).values, torch.full_like(confidence[:, :1], torch.inf)], dim=-1)
            cutoff = ranked.gather(-1, k.unsqueeze(-1))
            current = torch.where(confidence < cutoff, mask_token, sampled)
            if progress is not None:
                progress(step + 1, settings.steps)
    return torch.cat([cond, sampled.view(batch, n_frames, n_pred).transpose(1, 2)], dim=1)


def _draw(logits: torch.Tensor, step: int, settings: SamplingSettings,
          gens: torch.Generator | list[torch.Generator]) -> tuple[torch.Tensor, torch.Tensor]:
    """Filtered, tempered token choice per position and its probability."""
    if settings.typical_filtering:
        logits = typical_filter(logits, settings.typical_mass, settings.typical_min_tokens)
    if settings.top_k is not None:
        logits = top_k_filter(logits, settings.top_k)
    if settings.top_p is not None and settings.top_p < 1.0:
        logits = top_p_filter(logits, settings.top_p)
    probs = (logits / settings.temperature).softmax(dim=-1) if settings.temperature > 0 else logits.softmax(dim=-1)
    if step / settings.steps <= settings.sample_cutoff:
        tokens = _inverse_cdf(probs, gens) if settings.draw == "inverse-cdf" else _multinomial(probs, gens)
    else:
        tokens = logits.argmax(dim=-1)
    return tokens, probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def _multinomial(probs: torch.Tensor, gens: torch.Generator | list[torch.Generator]) -> torch.Tensor:
    batch, length, vocab = probs.shape
    if isinstance(gens, list):
        return torch.stack([probs[b].multinomial(1, generator=g).squeeze(1) for b, g in enumerate(gens)])
    return probs.reshape(-1, vocab).multinomial(1, generator=gens).view(batch, length)


def _inverse_cdf(probs: torch.Tensor, gens: torch.Generator | list[torch.Generator]) -> torch.Tensor:
    """One draw per position from ``probs [B, L, V]`` by inverting its cumulative sum: a single
    uniform per position instead of the ``V`` exponentials ``torch.multinomial`` draws."""
    cdf = probs.cumsum(dim=-1)
    u = torch.empty(probs.shape[:-1], dtype=cdf.dtype, device=probs.device)
    if isinstance(gens, list):
        for b, g in enumerate(gens):
            u[b].uniform_(0, 1, generator=g)
    else:
        u.uniform_(0, 1, generator=gens)
    # scaled to the row's total mass, so float rounding never points past the last token;
    # right=True never lands on a token of zero mass (its cdf equals its predecessor's)
    u = u * cdf[..., -1]
    return torch.searchsorted(cdf, u.unsqueeze(-1), right=True).squeeze(-1).clamp_(max=probs.shape[-1] - 1)


def _gumbel(like: torch.Tensor, gens: torch.Generator | list[torch.Generator]) -> torch.Tensor:
    """Gumbel noise ``-log(-log(u))``, ``u ~ U[1e-20, 1)``, drawn as upstream (one fill per step)."""
    u = torch.empty_like(like)
    if isinstance(gens, list):
        for b, g in enumerate(gens):
            u[b].uniform_(1e-20, 1, generator=g)
    else:
        u.uniform_(1e-20, 1, generator=gens)
    return -torch.log(-torch.log(u))


def _model_device(model: TokenModel, codes: torch.Tensor) -> torch.device:
    device = getattr(model, "device", None)
    return torch.device(device) if device is not None else codes.device


def _check_grid(model: TokenModel, codes: torch.Tensor, mask: Mask | torch.Tensor,
                device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(codes, torch.Tensor) or codes.dim() != 3 or codes.is_floating_point():
        raise ParameterError(f"sample: codes must be an integer tensor (batch, codebooks, frames), got {codes!r:.80}")
    if codes.shape[1] != model.n_codebooks:
        raise ParameterError(
            f"sample: the grid has {codes.shape[1]} codebooks but {model.name} takes {model.n_codebooks}"
        )
    mask_t = mask.tensor if isinstance(mask, Mask) else torch.as_tensor(mask)
    if mask_t.dim() == 2:
        mask_t = mask_t.unsqueeze(0)
    if mask_t.shape[1:] != codes.shape[1:] or mask_t.shape[0] not in (1, codes.shape[0]):
        raise ParameterError(f"sample: mask shape {tuple(mask_t.shape)} does not fit codes {tuple(codes.shape)}")
    codes = codes.to(device=device, dtype=torch.long)
    mask_t = mask_t.to(device=device, dtype=torch.bool).expand(codes.shape[0], -1, -1).clone()
    nc = model.n_conditioning_codebooks
    if codes.numel():
        if int(codes.min()) < 0 or int(codes.max()) > model.mask_token:
            raise ParameterError(f"sample: codes must lie in [0, {model.mask_token}] ({model.mask_token} = MASK)")
        if nc and bool((codes[:, :nc] == model.mask_token).any()):
            raise ParameterError(
                f"sample: the {nc} conditioning codebooks of {model.name} must be given, but hold mask tokens"
            )
    return codes, mask_t


def _generators(generator: Generators, batch: int, device: torch.device) -> torch.Generator | list[torch.Generator]:
    if generator is None:
        fresh = torch.Generator(device=device)
        fresh.seed()  # a nondeterministic seed of its own: the global RNG is never touched
        return fresh
    gens = [generator] if isinstance(generator, torch.Generator) else list(generator)
    if not isinstance(generator, torch.Generator) and len(gens) != batch:
        raise ParameterError(f"sample: got {len(gens)} generators for a batch of {batch} (give one, or one per row)")
    for g in gens:
        if not isinstance(g, torch.Generator):
            raise ParameterError(f"sample: generator must be a torch.Generator, got {type(g).__name__}")
        if g.device.type != device.type:
            raise ParameterError(
                f"sample: generator is on {g.device.type} but the model runs on {device.type}; "
                f"create it with torch.Generator(device='{device.type}')"
            )
    return generator if isinstance(generator, torch.Generator) else gens
