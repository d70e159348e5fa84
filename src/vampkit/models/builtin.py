"""The built-in model bundle (VampNet), registered through the same hook as any plugin's."""

from __future__ import annotations

from ..bundles import BUILTIN_BUNDLES
from ..hookspecs import hookimpl


@hookimpl
def register_bundles(register):  # noqa: ANN001, ANN201 - hook signature
    for bundle in BUILTIN_BUNDLES:
        register(bundle)
