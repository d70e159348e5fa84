"""The built-in codecs (DAC, LAC), registered through the same hook as any plugin's."""

from __future__ import annotations

from ..hookspecs import hookimpl
from .dac import DACCodec
from .lac import LACCodec

BUILTIN_CODECS = (DACCodec, LACCodec)


@hookimpl
def register_codecs(register):  # noqa: ANN001, ANN201 - hook signature
    for codec in BUILTIN_CODECS:
        register(codec)
