"""The models a pipeline drives, behind one small interface: encode, vamp, decode.

``VampNetEngine`` wires the codec, the coarse and coarse-to-fine models and the sampler; its
facts (loudness target, chunk size) come from the ``ModelBundle`` the weights belong to.
Anything with the same methods (``Engine``) can be passed to ``run_recipe(engine=...)``.
Encoding and decoding go through ``vampkit.audio.encode_audio``/``decode_audio``: the measured
loudness travels in the ``EncodedAudio`` value, never in the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import torch

from ..audio import Audio, EncodedAudio
from ..bundles import Geometry
from ..hashing import sha256_file
from ..prompt import Prompt
from ..recipes.schema import WeightsSpec
from ..sampling.settings import SamplingSettings

__all__ = ["Engine", "Geometry", "VampNetEngine", "geometry_for", "geometry_of", "resolve_weights", "sha256_file"]


class Engine(Protocol):
    """What the pipeline needs from the models."""

    geometry: Geometry
    checkpoints: dict[str, str]

    def encode(self, audio: Audio) -> EncodedAudio:
        """The tokens of ``audio`` (mono, as the model hears it) and the loudness measured."""
        ...

    def decode(self, encoded: EncodedAudio, codes: torch.Tensor) -> Audio:
        """``codes`` as audio at the input's rate and loudness (``encoded`` is the input's)."""
        ...

    def vamp(self, prompt: Prompt, *, coarse: SamplingSettings, c2f: SamplingSettings,
             generator: torch.Generator, progress: Callable[[int], None] | None = None) -> torch.Tensor: ...

    # optional: ``vamp_steps(n_frames, *, coarse, c2f) -> int``, the number of ``progress``
    # calls ``vamp`` makes (a progress bar's total); without it the bar has no total


def resolve_weights(spec: WeightsSpec) -> Any:
    """Checkpoint paths of a bundle (downloaded/cached) or explicit paths; offline errors clear."""
    from ..weights import resolve_weights as resolve

    if spec.preset is not None:
        return resolve(spec.preset)
    return resolve(",".join(str(p) if p is not None else "" for p in (spec.coarse, spec.c2f, spec.codec)))


def geometry_of(codec: Any) -> Geometry:
    return Geometry(int(codec.sample_rate), int(codec.hop_length), int(codec.n_codebooks), int(codec.codebook_size))


def geometry_for(spec: WeightsSpec, device: str = "cpu") -> Geometry:
    """The grid of a weights choice without a token model: the bundle's, or the codec file's."""
    if spec.preset is not None:
        from ..bundles import get
        from ..errors import RecipeError, WeightsUnavailableError

        try:
            return get(spec.preset).geometry
        except WeightsUnavailableError as exc:
            raise RecipeError(f"weights: {exc}") from exc
    from ..codecs import load_codec

    return geometry_of(load_codec(spec.codec, device=device))


def checkpoint_paths(weights: Any, lora: Mapping[str, str] | None = None) -> dict[str, str]:
    """The files a weights choice loads, by role (what manifests and eval caches record)."""
    lora = dict(lora or {})
    return {k: str(v) for k, v in
            (("coarse", weights.coarse), ("c2f", weights.c2f), ("codec", weights.codec),
             ("coarse_lora", lora.get("coarse")), ("c2f_lora", lora.get("c2f"))) if v is not None}


class VampNetEngine:
    """Codec + coarse + coarse-to-fine VampNet models, with the vampkit sampler.

    ``weights`` is a ``vampkit.weights.WeightPaths``; its ``bundle`` gives the loudness target,
    the codec chunk size and the context lengths the models run with.
    """

    def __init__(self, weights: Any, device: str = "auto", lora: Mapping[str, str] | None = None, *,
                 precision: str = "fp32", compile: bool = False) -> None:
        from ..bundles import VAMPNET
        from ..codecs import load_codec
        from ..device import resolve_device
        from ..models.lora_file import load_with_lora

        self.bundle = getattr(weights, "bundle", None) or VAMPNET
        self.device = resolve_device(device)
        self.codec = load_codec(str(weights.codec), device=self.device, precision=precision, compile=compile)
        tables = self.codec.codebook_tables()
        lora = dict(lora or {})
        options = {"precision": precision, "compile": compile}
        self.coarse = load_with_lora(str(weights.coarse), lora.get("coarse"), tables, self.device,
                                     context_frames=self.bundle.coarse_context_frames, **options)
        self.c2f = (load_with_lora(str(weights.c2f), lora.get("c2f"), tables, self.device,
                                   context_frames=self.bundle.c2f_context_frames, **options)
                    if weights.c2f is not None else None)
        self.geometry = geometry_of(self.codec)
        self.checkpoints = checkpoint_paths(weights, lora)

    def encode(self, audio: Audio) -> EncodedAudio:
        """Mono mix -> codes, at the bundle's loudness and peak-limited, as upstream does."""
        from ..audio import encode_audio

        return encode_audio(self.codec, audio, loudness_db=self.bundle.loudness_db,
                            chunk_seconds=self.bundle.chunk_seconds, mono=True)

    def decode(self, encoded: EncodedAudio, codes: torch.Tensor) -> Audio:
        """Codes -> audio at the input's rate, normalised back to the input's loudness."""
        from ..audio import decode_audio

        return decode_audio(self.codec, encoded, codes.clamp(0, self.geometry.codebook_size - 1),
                            chunk_seconds=self.bundle.chunk_seconds)

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
