"""Numeric precision of the models (``fp32 | bf16 | fp16 | auto``) and opt-in ``torch.compile``.

Reduced precision is autocast over weights that are cast once (at merge time), so a forward
pass does not cast them again; ``auto`` chooses bf16 only where it is faster than fp32 (a CPU
with avx512_bf16 or AMX, a CUDA device with bf16) and fp32 everywhere else.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch

from .errors import ParameterError

PRECISIONS = ("fp32", "bf16", "fp16", "auto")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
_NAMES = {v: k for k, v in _DTYPES.items()}


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU computes bf16 matrix products natively (avx512_bf16 or AMX)."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def best_precision(device: torch.device | str) -> str:
    """What ``auto`` means on ``device``: bf16 where it is native and faster, else fp32."""
    device = torch.device(device)
    if device.type == "cpu" and cpu_has_fast_bf16():
        return "bf16"
    if device.type == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"


def resolve_precision(precision: str | torch.dtype | None, device: torch.device | str) -> torch.dtype:
    """The compute dtype for ``precision`` on ``device``; unsupported pairs are a ParameterError
    naming both (fp16 on a CPU, bf16 on a GPU without it); bf16 on a CPU without native bf16
    runs (emulated, slower) with a warning."""
    device = torch.device(device)
    if isinstance(precision, torch.dtype):
        if precision not in _NAMES:
            raise ParameterError(f"precision: unsupported dtype {precision} (use fp32, bf16, fp16 or auto)")
        name = _NAMES[precision]
    else:
        name = str(precision or "fp32").strip().lower()
    if name not in PRECISIONS:
        raise ParameterError(f"precision: unknown precision {precision!r} (use fp32, bf16, fp16 or auto)")
    if name == "auto":
        name = best_precision(device)
    if name == "fp16" and device.type == "cpu":
        raise ParameterError("precision fp16 is not supported on device cpu (use bf16 or fp32)")
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        gpu = torch.cuda.get_device_name(device)
        raise ParameterError(f"precision bf16 is not supported on device {device} ({gpu}); use fp16 or fp32")
    if name == "bf16" and device.type == "cpu" and not cpu_has_fast_bf16():
        warnings.warn("precision bf16 on a CPU without avx512_bf16/AMX is emulated and slower than fp32",
                      stacklevel=2)
    return _DTYPES[name]


def precision_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` -> ``"bf16"``."""
    return _NAMES[dtype]


@contextlib.contextmanager
def autocast(device: torch.device | str, dtype: torch.dtype) -> Iterator[None]:
    """Autocast to ``dtype`` on ``device``; float32 does nothing."""
    if dtype == torch.float32:
        yield
        return
    with torch.autocast(device_type=torch.device(device).type, dtype=dtype):
        yield


class Compiled:
    """``fn`` through ``torch.compile``, falling back to ``fn`` itself (one warning) if
    compiling or running the compiled code fails, never crashing a run over it."""

    def __init__(self, fn: Callable[..., Any], what: str, **options: Any) -> None:
        self.eager = fn
        self.what = what
        try:
            self.compiled: Callable[..., Any] | None = torch.compile(fn, **options)
        except Exception as exc:  # noqa: BLE001 - compile is an optimisation; eager always works
            self._give_up(exc)

    def _give_up(self, exc: BaseException) -> None:
        self.compiled = None
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        warnings.warn(f"compile: torch.compile failed for the {self.what}; running it eagerly "
                      f"({type(exc).__name__}: {first[:200]})", stacklevel=3)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.compiled is not None:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - see the class docstring
                self._give_up(exc)
        return self.eager(*args, **kwargs)
