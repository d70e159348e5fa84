"""Choosing the compute device and the optional GPU autocast dtype."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from .errors import ParameterError

_DTYPES = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16,
           "fp32": None, "float32": None}


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` (or None) -> CUDA if available, else MPS, else CPU; other names are checked."""
    if isinstance(device, torch.device):
        name = device.type
        resolved = device
    else:
        name = (device or "auto").strip().lower()
        if name == "auto":
            if torch.cuda.is_available():
                return torch.device("cuda")
            if _mps_available():
                return torch.device("mps")
            return torch.device("cpu")
        try:
            resolved = torch.device(name)
        except RuntimeError as exc:
            raise ParameterError(f"device: unknown device {device!r} (use auto, cpu, cuda, cuda:N or mps)") from exc
        name = resolved.type
    if name == "cuda" and not torch.cuda.is_available():
        raise ParameterError(f"device: {device!r} requested but CUDA is not available (use 'auto' or 'cpu')")
    if name == "mps" and not _mps_available():
        raise ParameterError(f"device: {device!r} requested but MPS is not available (use 'auto' or 'cpu')")
    return resolved


def autocast_dtype(name: str | torch.dtype | None) -> torch.dtype | None:
    """``"bf16"`` / ``"fp16"`` -> the torch dtype; None / ``"fp32"`` -> None (no autocast)."""
    if name is None or isinstance(name, torch.dtype):
        return None if name in (None, torch.float32) else name
    key = str(name).strip().lower()
    if key not in _DTYPES:
        raise ParameterError(f"autocast: unknown dtype {name!r} (use bf16, fp16 or fp32)")
    return _DTYPES[key]


@contextlib.contextmanager
def autocast(device: torch.device | str, dtype: str | torch.dtype | None) -> Iterator[None]:
    """Mixed precision on GPU only; on CPU (or with dtype None) this does nothing."""
    device = torch.device(device)
    resolved = autocast_dtype(dtype)
    if resolved is None or device.type not in ("cuda", "mps"):
        yield
        return
    with torch.autocast(device_type=device.type, dtype=resolved):
        yield
