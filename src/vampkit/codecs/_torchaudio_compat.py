"""Let ``import dac`` work next to CPU torch when torchaudio's compiled extension cannot load.

PyPI's newest torchaudio ships ``_torchaudio.so`` linked against CUDA libraries; next to a CPU
torch, ``import torchaudio`` (hence ``import dac``, through audiotools) fails with an OSError.
torchaudio treats a *missing* extension as optional, so only in that case we import it again
with a stand-in ``torchaudio._extension`` that reports no extension. A torchaudio that imports
normally (e.g. on a CUDA machine) is never touched; nothing on disk is changed.
"""

from __future__ import annotations

import importlib
import logging
import sys
import types
from collections.abc import Callable
from typing import Any

_LOG = logging.getLogger(__name__)
_EXTENSION = "torchaudio._extension"

#: set when the stand-in was installed: the original error's text, for diagnostics
fallback_reason: str | None = None


def _is_extension_load_failure(exc: BaseException) -> bool:
    """True for torchaudio's "Could not load this library: .../torchaudio/lib/_torchaudio..." error."""
    text = str(exc)
    return isinstance(exc, OSError) and "torchaudio" in text and "_torchaudio" in text


def _fail_with_message(message: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"{func.__module__}.{func.__name__}: {message}")

        return wrapped

    return decorator


def _stand_in_extension() -> types.ModuleType:
    """A ``torchaudio._extension`` that says the compiled extension is unavailable."""
    module = types.ModuleType(_EXTENSION, "vampkit stand-in: torchaudio's extension is unavailable")
    module._IS_TORCHAUDIO_EXT_AVAILABLE = False  # type: ignore[attr-defined]  # noqa: SLF001 - torchaudio's own names
    module._IS_ALIGN_AVAILABLE = False  # type: ignore[attr-defined]  # noqa: SLF001 - torchaudio's own names
    module._load_lib = lambda lib: False  # type: ignore[attr-defined]  # noqa: SLF001 - torchaudio's own names
    module._check_cuda_version = lambda: None  # type: ignore[attr-defined]  # noqa: SLF001 - torchaudio's own names
    module.fail_if_no_align = _fail_with_message(  # type: ignore[attr-defined]
        "torchaudio's compiled extension could not be loaded (vampkit fallback)"
    )
    module.__all__ = ["_IS_TORCHAUDIO_EXT_AVAILABLE"]  # type: ignore[attr-defined]
    return module


def _forget_torchaudio() -> None:
    for name in [n for n in sys.modules if n == "torchaudio" or n.startswith("torchaudio.")]:
        del sys.modules[name]


def import_torchaudio() -> types.ModuleType:
    """``import torchaudio``, falling back to the pure-PyTorch paths only when its extension
    fails to load; any other import error propagates unchanged."""
    global fallback_reason
    try:
        return importlib.import_module("torchaudio")
    except OSError as exc:
        if not _is_extension_load_failure(exc):
            raise
        cause = exc.__cause__
        reason = f"{exc}" + (f" ({cause})" if cause is not None else "")
    _forget_torchaudio()
    sys.modules[_EXTENSION] = _stand_in_extension()
    try:
        module = importlib.import_module("torchaudio")
    except BaseException:
        _forget_torchaudio()
        raise
    fallback_reason = reason
    _LOG.debug("torchaudio imported without its compiled extension: %s", reason)
    return module


def import_dac() -> types.ModuleType:
    """``import dac`` (descript-audio-codec), after making torchaudio importable."""
    import_torchaudio()
    try:
        return importlib.import_module("dac")
    except ImportError as exc:  # pragma: no cover - depends on the installation
        from ..errors import CodecError

        raise CodecError(
            f"the DAC and LAC codecs need the 'descript-audio-codec' package, which failed to "
            f"import: {type(exc).__name__}: {exc}"
        ) from exc
