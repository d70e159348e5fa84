"""Reading and writing checkpoints in audiotools' format without ever unpickling code.

Upstream VampNet's models and codecs (LAC, DAC) are all saved by audiotools'
``BaseModel.save``: ``torch.save`` of ``{"state_dict": {key: tensor}, "metadata":
{"kwargs": {...}}}``. This module is the one reader for all of them (``read_checkpoint``) and
the one strict loader of their tensors into a module (``load_strict``).
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import torch

from .errors import CheckpointError, WeightsUnavailableError


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


def read_checkpoint(path: str | os.PathLike, *, mmap: bool = True) -> RawCheckpoint:
    """Read ``path`` with ``torch.load(weights_only=True)`` and check its layout.

    ``mmap`` (zip checkpoints): the tensors are the file's pages, mapped copy-on-write, not a
    copy in memory (a module adopting them with ``load_state_dict(assign=True)`` costs no RAM
    until written to). A missing file is ``WeightsUnavailableError``; anything unreadable,
    unsafe (pickled objects, a ``torch.package`` archive) or not in the format is ``CheckpointError``.
    """
    path = Path(path)
    data = load_weights_only(path, mmap=mmap)
    if not isinstance(data, Mapping):
        raise CheckpointError(f"{path}: expected a dict with 'state_dict' and 'metadata', got {type(data).__name__}")
    if "state_dict" not in data:
        found = ", ".join(map(repr, list(data)[:8])) or "none"
        raise CheckpointError(f"{path}: no 'state_dict' key in the checkpoint (top-level keys: {found})")
    state = data["state_dict"]
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CheckpointError(f"{path}: 'state_dict' must map parameter names to tensors")
    if "metadata" not in data:
        raise CheckpointError(f"{path}: no 'metadata' key: metadata['kwargs'] (the constructor kwargs) is missing")
    metadata = data["metadata"]
    if not isinstance(metadata, Mapping) or not isinstance(metadata.get("kwargs"), Mapping):
        raise CheckpointError(f"{path}: no metadata['kwargs'] dict (the model's constructor kwargs)")
    return RawCheckpoint(path, dict(state), dict(metadata["kwargs"]), dict(metadata))


def load_weights_only(path: str | os.PathLike, *, mmap: bool = False, what: str = "checkpoint") -> Any:
    """The object in a ``torch.save`` file, read with ``weights_only=True``: the one place vampkit
    calls ``torch.load`` (checkpoints, LoRA files, training states).

    A file that holds pickled objects is refused with the object it names and never with torch's
    advice to load it unsafely. ``what`` names the kind of file in the errors.
    """
    path = Path(path)
    mmap = _check_container(path, what) and mmap
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path}: refused to load: the file holds pickled objects that a weights-only load does not "
            f"accept (they could run code).{_refused_object(exc)}"
        ) from None
    except Exception as exc:  # any other failure of the reader
        raise CheckpointError(
            f"{path}: not a readable {what} (truncated or corrupt?): {_first_line(exc)}"
        ) from exc


def write_checkpoint(path: str | os.PathLike, state: Mapping[str, torch.Tensor], kwargs: Mapping[str, Any]) -> None:
    """Write ``state`` and ``kwargs`` in audiotools' format (zip ``torch.save``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": OrderedDict(state), "metadata": {"kwargs": dict(kwargs)}}, path)


def _check_container(path: Path, what: str = "checkpoint") -> bool:
    """Cheap checks before unpickling: exists, not empty, a torch zip (not a torch.package).
    True for a zip checkpoint (memory-mappable), False for the legacy format."""
    if not path.exists():
        raise WeightsUnavailableError(f"{path}: {what} file does not exist")
    if not path.is_file():
        raise CheckpointError(f"{path}: {what} is not a file")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path}: {what} file is empty (0 bytes)")
    if not zipfile.is_zipfile(path):
        with path.open("rb") as handle:
            if handle.read(1) == b"\x80":  # legacy (pre-zip) torch.save: torch.load reads it safely
                return False
        raise CheckpointError(
            f"{path}: not a readable torch checkpoint: not a zip archive ({size} bytes; truncated or "
            f"corrupt download?)"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(f"{path}: not a readable torch checkpoint: corrupt zip archive: {exc}") from exc
    if any(name.endswith("/data.pkl") or name == "data.pkl" for name in names):
        return True
    if any(".data/extern_modules" in name or name.endswith(".data/version") for name in names):
        raise CheckpointError(
            f"{path}: a torch.package archive (pickled model and code); vampkit only loads plain weight "
            f"dicts. Re-save it with the model's save(path, package=False)."
        )
    raise CheckpointError(f"{path}: a zip archive without data.pkl: not a readable torch checkpoint")


def _refused_object(exc: BaseException) -> str:
    """The object torch refused, without torch's advice to load the file unsafely (never for an
    untrusted file, and vampkit never will)."""
    match = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
    if match:
        return f" It refers to '{match.group(1)}', which is not a tensor or plain value."
    match = re.search(r"Unsupported operand (\d+)", str(exc))
    return f" Unsupported pickle operation {match.group(1)}." if match else ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


_LIST_LIMIT = 8


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:_LIST_LIMIT])
    return shown + (f" ... ({len(keys)} in all)" if len(keys) > _LIST_LIMIT else "")


def all_finite(tensor: torch.Tensor) -> bool:
    """No NaN or infinity in ``tensor``: its sum is finite (one cheap pass, 0.04 s for the
    published coarse model), else the exact check (a sum of finite values may overflow)."""
    return bool(torch.isfinite(tensor.sum())) or bool(torch.isfinite(tensor).all())


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
        if not all_finite(value):
            raise CheckpointError(f"checkpoint '{checkpoint.path}': tensor '{key}' holds NaN or infinite values")
        tensors[key] = value
    module.load_state_dict(tensors, strict=True, assign=True)
