"""Faster codec inference: an in-place Snake (same maths as dac's), an optional compiled
(fused) Snake, weight norms folded once, and reduced precision for the decoder."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..precision import Compiled, autocast, resolve_precision
from ._torchaudio_compat import import_dac


def snake(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """dac's Snake ``x + 1/(alpha + 1e-9) * sin(alpha x)^2``, the same ops in the same order,
    with one new tensor instead of four (the activation is memory-bound on a CPU)."""
    if torch.is_grad_enabled() and (x.requires_grad or alpha.requires_grad):
        return snake_reference(x, alpha)  # in-place ops would overwrite what backward needs
    shape = x.shape
    x = x.reshape(shape[0], shape[1], -1)
    out = torch.mul(alpha, x).sin_().pow_(2).mul_((alpha + 1e-9).reciprocal()).add_(x)
    return out.reshape(shape)


def snake_reference(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """The formula as plain out-of-place ops (what ``torch.compile`` fuses into one loop)."""
    shape = x.shape
    x = x.reshape(shape[0], shape[1], -1)
    return (x + (alpha + 1e-9).reciprocal() * torch.sin(alpha * x).pow(2)).reshape(shape)


class FastSnake1d(nn.Module):
    """Drop-in for ``dac.nn.layers.Snake1d`` (same ``alpha`` parameter) running ``snake``;
    ``fn`` may be swapped for a compiled kernel shared by every instance."""

    def __init__(self, alpha: nn.Parameter, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = snake) -> None:
        super().__init__()
        self.alpha = alpha
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # a plain tensor, not the Parameter: compiled code keeps parameter shapes static, which
        # would specialise the fused kernel to every channel count
        return self.fn(x, self.alpha.detach().to(x.dtype))


def replace_snakes(module: nn.Module, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = snake) -> int:
    """Swap every dac ``Snake1d`` in ``module`` for a ``FastSnake1d`` using ``fn``; returns the count."""
    snake_class = import_dac().nn.layers.Snake1d
    count = 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, (snake_class, FastSnake1d)):
                setattr(parent, name, FastSnake1d(child.alpha, fn))
                count += 1
    return count


def fold_weight_norms(module: nn.Module) -> None:
    """Compute each weight-normed conv's weight once (the legacy hook recomputes it per call)."""
    for child in module.modules():
        hooks = getattr(child, "_forward_pre_hooks", {})
        if any(type(h).__name__ == "WeightNorm" for h in hooks.values()):
            torch.nn.utils.remove_weight_norm(child)


class FastDecoder(nn.Module):
    """A decoder run at ``dtype`` (autocast over weights cast once), returning float32 audio."""

    def __init__(self, decoder: nn.Module, dtype: torch.dtype, device: torch.device) -> None:
        super().__init__()
        self.decoder = decoder
        self.dtype = dtype
        self.device_type = device

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        with autocast(self.device_type, self.dtype):
            return self.decoder(z).float()


def speed_up_network(network: nn.Module) -> None:
    """Exactly the same outputs, faster: weight norms folded once, every Snake in place."""
    fold_weight_norms(network)
    replace_snakes(network)


def speed_up_decoder(network: nn.Module, device: torch.device, precision: str = "fp32",
                     compile: bool = False) -> torch.dtype:
    """Make ``network.decoder`` faster in place: a compiled (fused) Snake when ``compile``, its
    weights cast to ``precision`` (autocast, float32 audio out). Returns the dtype used."""
    dtype = resolve_precision(precision, device)
    decoder = network.decoder
    if isinstance(decoder, FastDecoder):
        decoder = decoder.decoder
    fold_weight_norms(decoder)
    if compile:
        # one kernel for every shape after the second (automatic dynamic shapes)
        replace_snakes(decoder, Compiled(snake_reference, "codec's Snake activation"))
    if dtype != torch.float32:
        decoder.to(dtype)
    network.decoder = FastDecoder(decoder, dtype, device) if dtype != torch.float32 else decoder
    return dtype
