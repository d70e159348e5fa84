"""Safe reading of codec checkpoints in the audiotools ``{"state_dict", "metadata": {"kwargs"}}``
format, and strict loading of their tensors into a module: no pickled code ever runs."""

from __future__ import annotations

import math
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import torch

from ..errors import CheckpointError, WeightsUnavailableError

_LIST_LIMIT = 8


@attrs.frozen
class RawCheckpoint:
    """A checkpoint's tensors and constructor kwargs, read with ``weights_only=True``."""

    path: Path
    state_dict: Mapping[str, torch.Tensor]
    kwargs: Mapping[str, Any]
    metadata: Mapping[str, Any]

    def has_key_part(self, fragment: str) -> bool:
        """Whether any state-dict key contains ``fragment``."""
        return any(fragment in key for key in self.state_dict)


def _check_container(path: Path) -> None:
    if not path.exists():
        raise WeightsUnavailableError(f"checkpoint '{path}' does not exist")
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' is not a file")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"checkpoint '{path}' is empty (0 bytes)")
    if not zipfile.is_zipfile(path):
        with path.open("rb") as handle:
            head = handle.read(2)
        if head[:1] == b"\x80":  # legacy (pre-zip) torch.save format: torch.load reads it safely
            return
        raise CheckpointError(
            f"checkpoint '{path}' is not a torch checkpoint: not a zip archive "
            f"({size} bytes; truncated or corrupt download?)"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(f"checkpoint '{path}' is a corrupt zip archive: {exc}") from exc
    if any(name.endswith("/data.pkl") or name == "data.pkl" for name in names):
        return
    if any(".data/extern_modules" in name or name.endswith(".data/version") for name in names):
        raise CheckpointError(
            f"checkpoint '{path}' is a torch.package archive (pickled model and code); vampkit "
            "only loads plain weight dicts. Re-save it with the model's save(path, package=False)."
        )
    raise CheckpointError(f"checkpoint '{path}' is a zip archive without data.pkl: not a torch checkpoint")


def read_checkpoint(path: str | Path) -> RawCheckpoint:
    """Read ``path`` with ``torch.load(weights_only=True)`` and check its layout."""
    path = Path(path)
    _check_container(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"checkpoint '{path}' holds objects a weights-only load refuses: {exc}".split("\n")[0]
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"checkpoint '{path}' could not be read (truncated or corrupt?): {exc}") from exc
    if not isinstance(data, Mapping):
        raise CheckpointError(f"checkpoint '{path}' holds a {type(data).__name__}, not a dict with 'state_dict'")
    state_dict = data.get("state_dict")
    if not isinstance(state_dict, Mapping):
        raise CheckpointError(f"checkpoint '{path}' has no 'state_dict' dict (keys: {sorted(map(str, data))})")
    for key, value in state_dict.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise CheckpointError(f"checkpoint '{path}': state_dict entry {key!r} is not a named tensor")
    metadata = data.get("metadata")
    if not isinstance(metadata, Mapping) or not isinstance(metadata.get("kwargs"), Mapping):
        raise CheckpointError(f"checkpoint '{path}' has no metadata['kwargs'] (the model's constructor kwargs)")
    return RawCheckpoint(path, dict(state_dict), dict(metadata["kwargs"]), dict(metadata))


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:_LIST_LIMIT])
    return shown + (f" ... ({len(keys)} in all)" if len(keys) > _LIST_LIMIT else "")


def load_strict(module: torch.nn.Module, checkpoint: RawCheckpoint, *, what: str) -> None:
    """Put every tensor of ``checkpoint`` into ``module`` (built on any device, meta included);
    a missing, unexpected, mis-shaped, non-float or non-finite tensor is a CheckpointError."""
    expected = module.state_dict()
    given = checkpoint.state_dict
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    problems = []
    if missing:
        problems.append(f"missing keys: {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_listing(unexpected)}")
    shapes = [
        f"{key} (file {list(given[key].shape)}, expected {list(expected[key].shape)})"
        for key in sorted(set(expected) & set(given))
        if tuple(given[key].shape) != tuple(expected[key].shape)
    ]
    if shapes:
        problems.append(f"wrong shapes: {_listing(shapes)}")
    if problems:
        raise CheckpointError(
            f"checkpoint '{checkpoint.path}' does not fit a {what} built from its kwargs: " + "; ".join(problems)
        )
    tensors = {}
    for key, value in given.items():
        if not value.is_floating_point():
            raise CheckpointError(f"checkpoint '{checkpoint.path}': tensor '{key}' has dtype {value.dtype}, not float")
        value = value.to(torch.float32).contiguous()
        if not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"checkpoint '{checkpoint.path}': tensor '{key}' holds NaN or infinite values")
        tensors[key] = value
    module.load_state_dict(tensors, strict=True, assign=True)


def positive_int(checkpoint: RawCheckpoint, key: str, default: Any = None) -> int:
    """The kwarg ``key`` as a positive int, or a CheckpointError naming it."""
    value = checkpoint.kwargs.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise CheckpointError(f"checkpoint '{checkpoint.path}': kwarg '{key}' must be a positive int, got {value!r}")
    return value


def positive_ints(checkpoint: RawCheckpoint, key: str, default: Any = None) -> list[int]:
    """The kwarg ``key`` as a non-empty list of positive ints, or a CheckpointError naming it."""
    value = checkpoint.kwargs.get(key, default)
    if (
        not isinstance(value, (list, tuple))
        or not value
        or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in value)
    ):
        raise CheckpointError(
            f"checkpoint '{checkpoint.path}': kwarg '{key}' must be a non-empty list of positive ints, got {value!r}"
        )
    return [int(v) for v in value]


def codebook_dims(checkpoint: RawCheckpoint, n_codebooks: int, default: Any = 8) -> list[int]:
    """``codebook_dim`` (an int or one per codebook) as a list of ``n_codebooks`` ints."""
    value = checkpoint.kwargs.get("codebook_dim", default)
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value] * n_codebooks
    if not isinstance(value, (list, tuple)) or len(value) != n_codebooks:
        raise CheckpointError(
            f"checkpoint '{checkpoint.path}': kwarg 'codebook_dim' must be an int or a list of "
            f"{n_codebooks} ints, got {value!r}"
        )
    if any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in value):
        raise CheckpointError(f"checkpoint '{checkpoint.path}': kwarg 'codebook_dim' has a non-positive entry: {value!r}")
    return [int(v) for v in value]


def check_product(checkpoint: RawCheckpoint, encoder_rates: list[int], decoder_rates: list[int]) -> int:
    """The hop length; a CheckpointError when encoder and decoder rates disagree on it."""
    hop, up = math.prod(encoder_rates), math.prod(decoder_rates)
    if hop != up:
        raise CheckpointError(
            f"checkpoint '{checkpoint.path}': encoder_rates {encoder_rates} downsample by {hop} but "
            f"decoder_rates {decoder_rates} upsample by {up}; they must agree"
        )
    return hop
