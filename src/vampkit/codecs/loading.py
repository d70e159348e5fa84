"""``load_codec``: one entry point for published codecs by name and checkpoint files."""

from __future__ import annotations

from pathlib import Path

import torch

from .. import plugins
from ..errors import CheckpointError, CodecError
from .base import Codec, is_path_like
from .checkpoint import read_checkpoint


def codec_classes() -> dict[str, type[Codec]]:
    """Every registered codec class by name."""
    return {name: reg.obj for name, reg in plugins.registered("codecs").items()}


def load_codec(spec: str | Path, device: str | torch.device = "cpu", *, precision: str = "fp32",
               compile: bool = False) -> Codec:
    """A codec from ``"<name>[:<variant>]"`` (e.g. ``"dac:44khz"``, fetched into vampkit's cache
    if needed) or from a checkpoint file, whose keys tell which registered codec it is.
    ``precision`` / ``compile``: the decoder's (``Codec.speed_up``)."""
    codec = _load_codec(spec, device)
    if precision != "fp32" or compile:
        codec.speed_up(precision, compile)
    return codec


def _load_codec(spec: str | Path, device: str | torch.device) -> Codec:
    if not isinstance(spec, (str, Path)) or not str(spec):
        raise CodecError(f"a codec spec is a non-empty string or path, got {spec!r}")
    classes = codec_classes()
    if isinstance(spec, str) and not is_path_like(spec):
        name, _, variant = spec.partition(":")
        if name in classes and not Path(spec).is_file():
            return classes[name].from_pretrained(variant or None, device)
        if not Path(spec).is_file():
            plugins.get("codecs", name)  # raises UnknownNameError with suggestions
    checkpoint = read_checkpoint(Path(spec))
    claiming = [cls for cls in classes.values() if cls.claims(checkpoint)]
    if not claiming:
        raise CheckpointError(
            f"checkpoint '{checkpoint.path}' is not a codec any loaded plugin recognises "
            f"(known codecs: {', '.join(sorted(classes)) or 'none'}; {len(checkpoint.state_dict)} tensors, "
            f"kwargs {sorted(checkpoint.kwargs)})"
        )
    if len(claiming) > 1:
        names = ", ".join(cls.name for cls in claiming)
        raise CheckpointError(f"checkpoint '{checkpoint.path}' is claimed by several codecs: {names}")
    return claiming[0].from_checkpoint(checkpoint, device)
