"""Training checkpoints: one folder per tag (``latest``, ``best``), swapped in atomically.

A tag folder holds ``vampnet/weights.pth`` (upstream's checkpoint format, loadable by
``VampNet.load`` and upstream's ``VampNet.load``), ``vampnet/lora.pth`` (LoRA factors only,
when fine-tuning with LoRA) and ``train_state.pth`` (optimizer, schedule, RNG and data-order
state). It is written to a hidden temporary folder first and renamed into place, so a failed
write (disk full, a crash) leaves the previous checkpoint as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from ..atomic import process_umask
from ..checkpoint import load_weights_only
from ..errors import CheckpointError

WEIGHTS = Path("vampnet") / "weights.pth"
LORA = Path("vampnet") / "lora.pth"
STATE = "train_state.pth"


def write_tag(out: Path, tag: str, writer: Callable[[Path], None]) -> Path:
    """Run ``writer(folder)`` on a temporary folder, then make it ``out/tag`` atomically."""
    final = out / tag
    temp = Path(tempfile.mkdtemp(dir=out, prefix=f".{tag}.partial-"))
    os.chmod(temp, 0o777 & ~process_umask())  # mkdtemp's 0700, else: the user's umask decides
    old = out / f".{tag}.old"
    try:
        writer(temp)
        if old.exists():
            shutil.rmtree(old)
        if final.exists():
            os.replace(final, old)
        os.replace(temp, final)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return final


def find_tag(out: Path, tag: str) -> Path | None:
    """``out/tag``, or the previous copy when a crash came between the two renames."""
    for candidate in (out / tag, out / f".{tag}.old"):
        if (candidate / STATE).is_file() and (candidate / WEIGHTS).is_file():
            return candidate
    return None


def save_state(path: Path, state: Mapping[str, Any]) -> None:
    torch.save(dict(state), path)


def load_state(folder: Path) -> dict[str, Any]:
    """The training state of a tag folder, read with ``weights_only=True``."""
    path = folder / STATE
    data = load_weights_only(path, what="training state")
    if not isinstance(data, dict) or "step" not in data or "optimizer" not in data:
        raise CheckpointError(f"{path}: not a vampkit training state (no step / optimizer)")
    return data


def remove_partials(out: Path) -> None:
    """Leftover temporary folders of an interrupted write (never a finished tag)."""
    for path in out.glob(".*.partial-*"):
        with contextlib.suppress(OSError):
            shutil.rmtree(path)

