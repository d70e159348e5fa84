"""vampkit eval's built-in metrics and embeddings, registered through the same hooks as a plugin's."""

from __future__ import annotations

from ..hookspecs import hookimpl


@hookimpl
def register_metrics(register):  # noqa: ANN001, ANN201 - hook signature
    from .metrics import BUILTIN_METRICS

    for metric in BUILTIN_METRICS:
        register(metric)


@hookimpl
def register_embeddings(register):  # noqa: ANN001, ANN201 - hook signature
    from .embeddings import BUILTIN_EMBEDDINGS

    for embedding in BUILTIN_EMBEDDINGS:
        register(embedding)
