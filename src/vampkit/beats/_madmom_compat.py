"""Import madmom 0.16.1 on current Python and numpy, by patching its source as it is imported.

madmom 0.16.1 (2018, the newest release) fails on Python 3.10+ and numpy 1.24+/2.x. Instead of
editing site-packages or changing numpy or ``collections`` for everyone, a meta-path finder
rewrites madmom's own modules, and only them, while they load: ``collections`` ABCs, removed
numpy aliases (``np.float``...), ``np.in1d``, a ragged ``np.asarray`` in the downbeat DBN,
``pkg_resources``, ``distutils`` and ``scipy.ndimage.filters``; its compiled modules get a
``np`` that still has the old aliases. Bytecode caches are bypassed so the patch always applies.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import re
import sys
import threading
from types import ModuleType

import numpy

from ..errors import AnalysisError

#: numpy aliases removed in numpy 1.24 (the builtins they stood for)
_NUMPY_ALIASES = re.compile(r"\bnp\.(float|int|complex|object|bool|str|long|unicode)\b(?![.\w])")
_ALIAS_TARGET = {"long": "int", "unicode": "str"}

#: exact-text fixes: (module, old, new); a fix whose text is absent (a newer madmom) is skipped
_TEXT_FIXES: tuple[tuple[str, str, str], ...] = (
    ("madmom.processors", "from collections import MutableSequence",
     "from collections.abc import MutableSequence"),
    ("madmom", "import pkg_resources\n", "import importlib.metadata as _vk_metadata\n"),
    ("madmom", 'pkg_resources.get_distribution("madmom").version', '_vk_metadata.version("madmom")'),
    ("madmom", "del pkg_resources, doctest", "del _vk_metadata, doctest"),
    ("madmom.ml.nn.activations", "from distutils.version import LooseVersion",
     "LooseVersion = lambda v: tuple(int(x) for x in v.split('.')[:2] if x.isdigit())"),
    ("madmom.features.downbeats", "np.argmax(np.asarray(results)[:, 1])",
     "np.argmax(np.asarray([_vk_r[1] for _vk_r in results]))"),
)


def patch_source(fullname: str, source: str) -> str:
    """madmom module ``fullname``'s source with the compatibility fixes applied."""
    for module, old, new in _TEXT_FIXES:
        if module == fullname:
            source = source.replace(old, new)
    source = _NUMPY_ALIASES.sub(lambda m: _ALIAS_TARGET.get(m.group(1), m.group(1)), source)
    source = source.replace("from scipy.ndimage.filters import", "from scipy.ndimage import")
    return source.replace("np.in1d(", "np.isin(")


class _PatchingLoader(importlib.machinery.SourceFileLoader):
    """Loads a madmom module from source, patched; never from (unpatched) bytecode."""

    def get_code(self, fullname: str):  # noqa: ANN202 - importlib signature
        source = self.get_data(self.path).decode("utf-8")
        return compile(patch_source(fullname, source), self.path, "exec", dont_inherit=True)


class _NumpyWithAliases(ModuleType):
    """numpy, plus the removed aliases, as the ``np`` global of madmom's compiled modules."""

    def __getattr__(self, name: str) -> object:
        if name in _REMOVED_ALIASES:
            return _REMOVED_ALIASES[name]
        return getattr(numpy, name)


_REMOVED_ALIASES = {"float": float, "int": int, "complex": complex, "object": object, "bool": bool,
                    "str": str, "long": int, "unicode": str}
_numpy_with_aliases = _NumpyWithAliases("numpy")


class _PatchingExtensionLoader(importlib.machinery.ExtensionFileLoader):
    """Loads a compiled (Cython) madmom module, then gives it numpy with the old aliases:
    its code looks up ``np.float`` and kin at run time, which numpy 1.24+ lacks."""

    def exec_module(self, module: ModuleType) -> None:
        super().exec_module(module)
        if module.__dict__.get("np") is numpy:
            module.__dict__["np"] = _numpy_with_aliases


class _MadmomFinder(importlib.abc.MetaPathFinder):
    """Finds madmom's modules as usual and hands them to the patching loaders."""

    def find_spec(self, fullname, path, target=None):  # noqa: ANN001, ANN202 - importlib signature
        if fullname != "madmom" and not fullname.startswith("madmom."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader:
            spec.loader = _PatchingLoader(fullname, spec.origin)
        elif spec is not None and type(spec.loader) is importlib.machinery.ExtensionFileLoader:
            spec.loader = _PatchingExtensionLoader(fullname, spec.origin)
        return spec


_lock = threading.Lock()


def install() -> None:
    """Put the patching finder first on ``sys.meta_path`` (idempotent)."""
    with _lock:
        if not any(isinstance(finder, _MadmomFinder) for finder in sys.meta_path):
            sys.meta_path.insert(0, _MadmomFinder())


def import_madmom() -> ModuleType:
    """``madmom``, imported through the compatibility layer; ``AnalysisError`` if it cannot be."""
    loaded = sys.modules.get("madmom")
    if loaded is not None:
        return loaded
    install()
    try:
        import madmom
    except Exception as exc:  # any import failure means "madmom unusable"
        for name in [n for n in sys.modules if n == "madmom" or n.startswith("madmom.")]:
            del sys.modules[name]
        raise AnalysisError(
            f"madmom could not be imported ({type(exc).__name__}: {exc}); install it with the "
            f"project's set-up (scripts/setup.sh) or use the 'simple' beat tracker"
        ) from exc
    return madmom


def madmom_available() -> bool:
    """Whether madmom imports (through the compatibility layer) on this machine."""
    try:
        import_madmom()
    except AnalysisError:
        return False
    return True
