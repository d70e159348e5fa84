"""The built-in pipeline stages, registered through the same hook as any plugin's."""

from __future__ import annotations

from ..hookspecs import hookimpl
from .stages import Decode, Encode, Load, MaskStage, Vamp, Write
from .techniques import Continue, Loop, Sweep, WindowedVamp

BUILTIN_STAGES = (Load, Encode, MaskStage, Vamp, Decode, Write, Loop, Continue, WindowedVamp, Sweep)


@hookimpl
def register_stages(register):  # noqa: ANN001, ANN201 - hook signature
    for stage in BUILTIN_STAGES:
        register(stage)
