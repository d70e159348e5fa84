"""vampkit: prompt masked acoustic token models of music (VampNet) with pluggable masks.

Everything in ``__all__`` is the public API that plugins and notebooks may rely on.

Public names are resolved lazily (module ``__getattr__``): ``import vampkit`` and the command
line stay quick, and torch is imported only when a name that needs it is first used.
``from vampkit import X`` works as usual. To add a public name, add it to ``_LAZY`` (name ->
submodule), to the ``TYPE_CHECKING`` imports and to ``tests/test_public_api.py``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    AnalysisError,
    AudioError,
    CheckpointError,
    CodecError,
    ParameterError,
    PluginError,
    RecipeError,
    TrainingError,
    UnknownNameError,
    VampkitError,
    WeightsUnavailableError,
)

__version__ = "0.1.0"

#: public name -> the submodule that defines it (imported on first access)
_LAZY: dict[str, str] = {
    "analyses_for": ".analysis",
    "Beats": ".beats",
    "BeatTracker": ".beats",
    "OnsetDetector": ".beats",
    "Audio": ".audio",
    "EncodedAudio": ".audio",
    "encode_audio": ".audio",
    "decode_audio": ".audio",
    "ModelBundle": ".bundles",
    "VAMPNET": ".bundles",
    "load_audio": ".audio",
    "save_audio": ".audio",
    "Codec": ".codecs",
    "load_codec": ".codecs",
    "MaskContext": ".context",
    "hookimpl": ".hookspecs",
    "Mask": ".mask",
    "MaskGenerator": ".masks",
    "build_mask_generator": ".masks",
    "param": ".params",
    "Prompt": ".prompt",
    "frames_to_seconds": ".units",
    "seconds_to_frames": ".units",
    "resolve_device": ".device",
    "TokenModel": ".models",
    "VampNet": ".models",
    "SamplingSettings": ".sampling",
    "coarse_to_fine": ".sampling",
    "sample": ".sampling",
    "vamp": ".sampling",
    "resolve_weights": ".weights",
    "RunResult": ".pipeline",
    "run_recipe": ".pipeline",
    "Env": ".pipeline",
    "Stage": ".pipeline",
    "State": ".pipeline",
    "Recipe": ".recipes",
    "load_recipe": ".recipes",
    "train": ".training",
    "encode_dataset": ".training",
    "evaluate": ".eval",
    "EvalResult": ".eval",
}

if TYPE_CHECKING:  # what type checkers and IDEs see: the same names, eagerly
    from .analysis import analyses_for
    from .audio import Audio, EncodedAudio, decode_audio, encode_audio, load_audio, save_audio
    from .beats import Beats, BeatTracker, OnsetDetector
    from .bundles import VAMPNET, ModelBundle
    from .codecs import Codec, load_codec
    from .context import MaskContext
    from .device import resolve_device
    from .eval import EvalResult, evaluate
    from .hookspecs import hookimpl
    from .mask import Mask
    from .masks import MaskGenerator, build_mask_generator
    from .models import TokenModel, VampNet
    from .params import param
    from .pipeline import Env, RunResult, Stage, State, run_recipe
    from .prompt import Prompt
    from .recipes import Recipe, load_recipe
    from .sampling import SamplingSettings, coarse_to_fine, sample, vamp
    from .training import encode_dataset, train
    from .units import frames_to_seconds, seconds_to_frames
    from .weights import resolve_weights


def __getattr__(name: str) -> Any:
    """Import the submodule defining a public name on first use, then cache the name here."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vampkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "Audio",
    "EncodedAudio",
    "ModelBundle",
    "VAMPNET",
    "decode_audio",
    "encode_audio",
    "Codec",
    "load_audio",
    "load_codec",
    "save_audio",
    "Recipe",
    "RunResult",
    "Env",
    "Stage",
    "State",
    "OnsetDetector",
    "load_recipe",
    "run_recipe",
    "vamp",
    "evaluate",
    "EvalResult",
    "sample",
    "train",
    "encode_dataset",
    "TrainingError",
    "resolve_weights",
    "resolve_device",
    "coarse_to_fine",
    "VampNet",
    "TokenModel",
    "SamplingSettings",
    "AnalysisError",
    "BeatTracker",
    "Beats",
    "analyses_for",
    "AudioError",
    "CheckpointError",
    "CodecError",
    "Mask",
    "MaskContext",
    "MaskGenerator",
    "ParameterError",
    "PluginError",
    "Prompt",
    "RecipeError",
    "UnknownNameError",
    "VampkitError",
    "WeightsUnavailableError",
    "__version__",
    "build_mask_generator",
    "frames_to_seconds",
    "hookimpl",
    "param",
    "seconds_to_frames",
]
