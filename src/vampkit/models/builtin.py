"""The built-in token models, registered through the same hook as any plugin's."""

from __future__ import annotations

from ..hookspecs import hookimpl
from .vampnet import VampNet

BUILTIN_MODELS = (VampNet,)


@hookimpl
def register_models(register):  # noqa: ANN001, ANN201 - hook signature
    for model in BUILTIN_MODELS:
        register(model)
