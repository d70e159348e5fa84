"""The built-in metrics of ``vampkit eval`` and how a metric entry of an experiment is built.

A *pair* metric scores one output against its reference excerpt (mel distance); a *set*
metric reduces per-excerpt features of a condition's outputs against those of the references
(FAD). Both register through ``register_metrics``, as a plugin's metrics do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import torch

from .. import plugins
from ..errors import ParameterError
from ..params import build, param


@attrs.frozen
class EvalContext:
    """What a set metric's ``features`` may use: the loaded codec and the device."""

    codec: Any
    device: str = "cpu"


@attrs.frozen
class MelDistance:
    """Multi-scale mel distance to the reference (audiotools ``MelSpectrogramLoss()``; lower is better)."""

    name = "mel"
    kind = "pair"

    def __call__(self, output: torch.Tensor, reference: torch.Tensor, sample_rate: int) -> float:
        from .mel import mel_distance

        return mel_distance(output, reference, sample_rate)


@attrs.frozen
class FrechetAudioDistance:
    """Fréchet Audio Distance between the outputs and the references of a condition (lower is better)."""

    name = "fad"
    kind = "set"

    embedding: str = param("codec", doc="embedding of the frames: 'codec' (the codec's own latents, no "
                                        "download), or a registered one such as 'vggish' or 'clap'")

    @property
    def label(self) -> str:
        return "fad" if self.embedding == "codec" else f"fad-{self.embedding}"

    def features(self, audio: torch.Tensor, sample_rate: int, context: EvalContext) -> np.ndarray:
        embed = plugins.get("embeddings", self.embedding)
        return np.asarray(embed(audio, sample_rate, context), dtype=np.float32)

    def compare(self, outputs: np.ndarray, references: np.ndarray) -> float:
        from .fad import frechet_audio_distance

        return frechet_audio_distance(outputs, references)


BUILTIN_METRICS = (MelDistance, FrechetAudioDistance)
DEFAULT_METRICS = ("mel", "fad")


def metric_label(metric: Any) -> str:
    """The column a metric's values go in: its ``label`` if it has one, else its name."""
    return str(getattr(metric, "label", None) or metric.name)


def build_metric(spec: Any, path: tuple = ()) -> Any:
    """A metric from an experiment entry: ``name`` or ``{name: {parameters}}``."""
    if isinstance(spec, str):
        name, params = spec, {}
    elif isinstance(spec, Mapping) and len(spec) == 1:
        ((name, params),) = spec.items()
        path = path + (name,)
        if params is not None and not isinstance(params, Mapping):
            raise ParameterError(f"metric '{name}': parameters must be a mapping, got {params!r}", path=path)
    else:
        raise ParameterError(f"a metric is a name or a one-key mapping {{name: parameters}}, got {spec!r}", path=path)
    cls = plugins.get("metrics", str(name))
    metric = build(cls, params or {}, path=path)
    if metric.kind == "set" and getattr(metric, "embedding", None) is not None:
        plugins.get("embeddings", metric.embedding)  # an unknown embedding fails at validation
    return metric
