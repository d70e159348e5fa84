"""The models a pipeline drives, behind one small interface: encode, vamp, decode.

``VampNetEngine`` wires the codec, the coarse and coarse-to-fine models and the sampler.
Anything with the same methods (``Engine``) can be passed to ``run_recipe(engine=...)``.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs
import torch

from ..prompt import Prompt
from ..recipes.schema import WeightsSpec
from ..sampling.settings import SamplingSettings


@attrs.frozen
class Geometry:
    """The token grid of a codec: what a mask can be built for without loading a model."""

    sample_rate: int
    hop_length: int
    n_codebooks: int
    codebook_size: int

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    def n_frames(self, n_samples: int) -> int:
        """Frames the codec makes of ``n_samples`` at its own rate (right-padded to the hop)."""
        return max(1, math.ceil(n_samples / self.hop_length))


#: Grids of the weights presets, for dry runs and previews (no download needed).
PRESET_GEOMETRY = {"vampnet": Geometry(44100, 768, 14, 1024)}


class Engine(Protocol):
    """What the pipeline needs from the models."""

    geometry: Geometry
    checkpoints: dict[str, str]

    def encode(self, audio: torch.Tensor, sample_rate: int) -> torch.Tensor: ...

    def decode(self, codes: torch.Tensor) -> torch.Tensor: ...

    def vamp(self, prompt: Prompt, *, coarse: SamplingSettings, c2f: SamplingSettings,
             generator: torch.Generator, progress: Callable[[int], None] | None = None) -> torch.Tensor: ...

    # optional: ``vamp_steps(n_frames, *, coarse, c2f) -> int``, the number of ``progress``
    # calls ``vamp`` makes (a progress bar's total); without it the bar has no total


def resolve_weights(spec: WeightsSpec) -> Any:
    """Checkpoint paths of a preset (downloaded/cached) or explicit paths; offline errors clear."""
    from ..weights import resolve_weights as resolve

    if spec.preset is not None:
        return resolve(spec.preset)
    return resolve(",".join(str(p) for p in (spec.coarse, spec.c2f, spec.codec)))


def sha256_file(path: str | os.PathLike, _cache: dict[tuple, str] = {}) -> str:  # noqa: B006
    """sha256 of a file, cached per (path, size, mtime) for the life of the process."""
    stat = os.stat(path)
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _cache:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        _cache[key] = digest.hexdigest()
    return _cache[key]


def geometry_of(codec: Any) -> Geometry:
    return Geometry(int(codec.sample_rate), int(codec.hop_length), int(codec.n_codebooks), int(codec.codebook_size))


def geometry_for(spec: WeightsSpec, device: str = "cpu") -> Geometry:
    """The grid of a weights choice without a token model: a preset's table, or the codec file."""
    if spec.preset is not None:
        if spec.preset in PRESET_GEOMETRY:
            return PRESET_GEOMETRY[spec.preset]
        from ..errors import RecipeError

        raise RecipeError(f"weights preset '{spec.preset}' has no known grid for a dry run "
                          f"(known: {', '.join(PRESET_GEOMETRY)}); give explicit paths")
    from ..codecs import load_codec

    return geometry_of(load_codec(spec.codec, device=device))


TARGET_LUFS = -24.0  # upstream encodes at -24 LUFS and restores the input loudness after decoding


class VampNetEngine:
    """Codec + coarse + coarse-to-fine VampNet models, with the vampkit sampler."""

    def __init__(self, weights: Any, device: str = "auto", lora: Mapping[str, str] | None = None) -> None:
        from ..codecs import load_codec
        from ..device import resolve_device
        from ..models.lora_file import load_with_lora

        self.device = resolve_device(device)
        self.codec = load_codec(str(weights.codec), device=self.device)
        tables = self.codec.codebook_tables()
        lora = dict(lora or {})
        self.coarse = load_with_lora(str(weights.coarse), lora.get("coarse"), tables, self.device)
        self.c2f = load_with_lora(str(weights.c2f), lora.get("c2f"), tables, self.device) \
            if weights.c2f is not None else None
        self.geometry = geometry_of(self.codec)
        self.checkpoints = {k: str(v) for k, v in
                            (("coarse", weights.coarse), ("c2f", weights.c2f), ("codec", weights.codec),
                             ("coarse_lora", lora.get("coarse")), ("c2f_lora", lora.get("c2f"))) if v is not None}
        self._loudness: float | None = None

    def encode(self, audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Mono audio -> codes, loudness-normalised and peak-limited as upstream does."""
        from ..audio.loudness import limit_peak, normalize_loudness

        mono = audio.mean(dim=0, keepdim=True) if audio.dim() == 2 else audio
        normalised, loudness = normalize_loudness(mono, sample_rate, TARGET_LUFS)
        self._loudness = loudness if math.isfinite(loudness) else None
        return self.codec.encode(limit_peak(normalised).unsqueeze(0), sample_rate)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes -> audio ``(1, samples)``, brought back to the last encoded input's loudness."""
        from ..audio.loudness import db_to_gain, limit_peak

        audio = self.codec.decode(codes.clamp(0, self.geometry.codebook_size - 1))[0]
        if self._loudness is not None:
            audio = audio * db_to_gain(self._loudness - TARGET_LUFS)
        return limit_peak(audio)

    def vamp_steps(self, n_frames: int, *, coarse: SamplingSettings, c2f: SamplingSettings) -> int:
        """The number of ``progress`` calls ``vamp`` makes on ``n_frames`` (chunked sampling)."""
        from ..sampling.pipeline import vamp_steps

        return vamp_steps(self.coarse, self.c2f, n_frames, coarse_settings=coarse, c2f_settings=c2f)

    def vamp(self, prompt: Prompt, *, coarse: SamplingSettings, c2f: SamplingSettings,
             generator: torch.Generator, progress: Callable[[int], None] | None = None) -> torch.Tensor:
        from ..sampling import vamp

        step = (lambda _i, _total: progress(1)) if progress is not None else None  # vamp_steps counts these
        return vamp(self.coarse, self.c2f, prompt.with_codes(prompt.codes.to(self.device)),
                    coarse_settings=coarse, c2f_settings=c2f,
                    generator=generator, progress=step)
