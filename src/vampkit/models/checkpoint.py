"""Reading and writing upstream's checkpoint format without ever unpickling code.

The format is audiotools' ``BaseModel.save``: ``torch.save`` of
``{"state_dict": {key: tensor}, "metadata": {"kwargs": {...}}}``.
"""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """``(kwargs, state_dict)`` of an upstream checkpoint, loaded with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path}: refused to load: the file holds pickled objects that would run code or are not "
            f"plain tensors/containers (loaded with weights_only=True). Only load checkpoints you trust "
            f"through their own tools. Detail: {_first_line(exc)}"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - any other failure of the reader: truncated, not a torch file
        raise CheckpointError(
            f"{path}: not a readable torch checkpoint (truncated or not a checkpoint file): {_first_line(exc)}"
        ) from exc
    if not isinstance(payload, Mapping):
        raise CheckpointError(f"{path}: expected a dict with 'state_dict' and 'metadata', got {type(payload).__name__}")
    for key in ("state_dict", "metadata"):
        if key not in payload:
            found = ", ".join(map(repr, list(payload)[:8])) or "none"
            raise CheckpointError(f"{path}: no '{key}' key in the checkpoint (top-level keys: {found})")
    state, metadata = payload["state_dict"], payload["metadata"]
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CheckpointError(f"{path}: 'state_dict' must map parameter names to tensors")
    if not isinstance(metadata, Mapping) or not isinstance(metadata.get("kwargs"), Mapping):
        raise CheckpointError(f"{path}: 'metadata' must hold a 'kwargs' dict of constructor arguments")
    return dict(metadata["kwargs"]), dict(state)


def write_checkpoint(path: str | os.PathLike, state: Mapping[str, torch.Tensor], kwargs: Mapping[str, Any]) -> None:
    """Write ``state`` and ``kwargs`` in upstream's format (zip ``torch.save``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": OrderedDict(state), "metadata": {"kwargs": dict(kwargs)}}, path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
