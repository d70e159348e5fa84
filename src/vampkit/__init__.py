"""vampkit: prompt masked acoustic token models of music (VampNet) with pluggable masks.

Everything in ``__all__`` is the public API that plugins and notebooks may rely on.
"""

from __future__ import annotations

from .analysis import analyses_for
from .beats import Beats, BeatTracker
from .audio import Audio, load_audio, save_audio
from .codecs import Codec, load_codec
from .context import MaskContext
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
from .hookspecs import hookimpl
from .mask import Mask
from .masks import MaskGenerator, build_mask_generator
from .params import param
from .prompt import Prompt
from .units import frames_to_seconds, seconds_to_frames
from .device import resolve_device
from .models import TokenModel, VampNet
from .sampling import SamplingSettings, coarse_to_fine, sample, vamp
from .weights import resolve_weights
from .pipeline import RunResult, run_recipe
from .recipes import Recipe, load_recipe
from .training import encode_dataset, train

__version__ = "0.1.0"

__all__ = [
    "Audio",
    "Codec",
    "load_audio",
    "load_codec",
    "save_audio",
    "Recipe",
    "RunResult",
    "load_recipe",
    "run_recipe",
    "vamp",
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
