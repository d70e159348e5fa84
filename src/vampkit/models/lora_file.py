"""LoRA-only files (upstream's ``lora.pth``): the ``*.lora_A`` / ``*.lora_B`` tensors of a
fine-tuned model, a plain ``torch.save`` of that state dict, applied on top of a base
checkpoint before use (upstream: ``load_state_dict(strict=False)`` then ``eval()``).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..atomic import atomic_path
from ..checkpoint import all_finite, load_weights_only
from ..errors import CheckpointError

if TYPE_CHECKING:
    from .vampnet import VampNet

LORA_SUFFIXES = (".lora_A", ".lora_B")


def is_lora_key(key: str) -> bool:
    return key.endswith(LORA_SUFFIXES)


def lora_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's LoRA factors (float32, CPU), keyed as in the full checkpoint."""
    return {k: v.detach().to("cpu", torch.float32).clone() for k, v in model.state_dict().items() if is_lora_key(k)}


def save_lora(model: torch.nn.Module, path: str | os.PathLike) -> Path:
    """Write the model's LoRA factors alone, atomically, as upstream's ``lora.pth``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temp:
        torch.save(OrderedDict(lora_state(model)), temp)
    return path


def read_lora(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A LoRA file's tensors, read with ``weights_only=True``; anything else is refused."""
    path = Path(path)
    data = load_weights_only(path, what="LoRA file")
    full = isinstance(data, Mapping) and "state_dict" in data
    if full:  # a full checkpoint given as the LoRA file: take its factors
        data = data["state_dict"]
    if not isinstance(data, Mapping) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                 for k, v in data.items()):
        raise CheckpointError(f"{path}: a LoRA file maps parameter names to tensors")
    other = [k for k in data if not is_lora_key(k)]
    lora = {k: v for k, v in data.items() if is_lora_key(k)}
    if not lora:
        raise CheckpointError(f"{path}: no '*.lora_A' / '*.lora_B' tensors in the file")
    if other and not full:
        raise CheckpointError(f"{path}: a LoRA file holds only '*.lora_A' / '*.lora_B' tensors, found "
                              f"{other[:4]} ({len(other)} others)")
    return lora


def apply_lora(model: torch.nn.Module, factors: Mapping[str, torch.Tensor], *, source: str = "LoRA file") -> None:
    """Replace the model's LoRA factors by ``factors``: every key must exist with its shape."""
    expected = model.state_dict()
    unknown = [k for k in factors if k not in expected]
    wrong = [f"{k}: file {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
             for k, v in factors.items() if k in expected and v.shape != expected[k].shape]
    missing = [k for k in expected if is_lora_key(k) and k not in factors]
    problems = ([f"keys not in the model {unknown[:6]}"] if unknown else []) + \
               ([f"wrong shapes {wrong[:6]}"] if wrong else []) + \
               ([f"missing factors {missing[:6]} ({len(missing)} in all)"] if missing else [])
    broken = [k for k, v in factors.items() if not v.is_floating_point() or not all_finite(v)]
    if broken:
        problems.append(f"non-float, NaN or infinite values in {broken[:6]}")
    if problems:
        raise CheckpointError(f"{source}: does not fit the base model: " + "; ".join(problems))
    params = model.state_dict(keep_vars=True)
    with torch.no_grad():
        for key, value in factors.items():
            params[key].copy_(value.to(dtype=params[key].dtype))


def load_with_lora(base: str | os.PathLike, lora: str | os.PathLike | None, codebook_tables: torch.Tensor | None = None,
                   device: str | torch.device = "cpu", *, context_frames: int | None = None,
                   precision: str | torch.dtype = "fp32", compile: bool = False) -> VampNet:
    """A VampNet from a base checkpoint with a LoRA file's factors on top (upstream's lora.pth)."""
    from ..device import resolve_device
    from .vampnet import VampNet

    if lora is None:
        return VampNet.load(base, codebook_tables, device, context_frames=context_frames, precision=precision,
                            compile=compile)
    model = VampNet.load(base, codebook_tables, "cpu", context_frames=context_frames)
    apply_lora(model, read_lora(lora), source=str(lora))
    model = model.to(resolve_device(device)).train()  # train mode: set the dtype before merging once
    model.set_precision(precision)
    model.eval()  # merges the base weights and the new factors once
    if compile:
        model.compile_forward()
    return model
