"""The one place ``vampkit eval`` touches the models: load, encode, generate, decode.

Encoding and decoding go through the pipeline engine's own ``encode``/``decode`` (the one
encode/decode path: ``vampkit.audio.encode_audio``/``decode_audio`` with the bundle's
loudness and chunking); masks and sampling through the pipeline's ``mask`` and ``vamp``
stages (which batch rows sharing a grid shape), so an evaluated condition is exactly what
``vampkit run`` would make of it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import attrs
import torch

from ..audio import Audio, EncodedAudio
from ..mask import Mask
from ..pipeline.engine import VampNetEngine, resolve_weights
from ..pipeline.stages import MaskStage, Vamp, prompt_measures
from ..pipeline.state import Env, State
from ..recipes.loader import override
from .experiment import Condition


@attrs.define
class ModelClock:
    """Seconds spent inside model calls (codec and token models), for the overhead figure."""

    seconds: float = 0.0

    def timed(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


def load_engine(weights: Any, device: str) -> Any:
    """The codec and token models of a weights choice (a ``WeightsSpec``)."""
    return VampNetEngine(resolve_weights(weights), device)


def codec_of(engine: Any) -> Any:
    return engine.codec


def encode(engine: Any, reference: torch.Tensor, clock: ModelClock) -> EncodedAudio:
    """Tokens of a prepared excerpt ``[1, n]`` at the codec's rate."""
    return clock.timed(engine.encode, Audio(reference, int(engine.geometry.sample_rate)))


def decode(engine: Any, encoded: EncodedAudio, codes: torch.Tensor, clock: ModelClock) -> torch.Tensor:
    """Audio ``[1, n]`` of ``codes [1, C, T]`` at the excerpt's rate and loudness."""
    return clock.timed(engine.decode, encoded, codes.to(encoded.codes.device)).samples


def _condition_recipe(condition: Condition, engine: Any) -> Any:
    recipe = condition.recipe
    if condition.baseline == "coarse2fine":  # keep as many codebooks as the coarse model makes
        keep = int(engine.coarse.n_codebooks)
        if keep != 4:
            recipe = override(recipe, [(("mask", "codebooks", "keep"), keep)])
    return recipe


def generate(engine: Any, condition: Condition, items: list[tuple[Path, torch.Tensor, EncodedAudio, int, dict]],
             clock: ModelClock) -> list[tuple[torch.Tensor, dict[str, float | None]]]:
    """Output codes and prompt measures (kept fraction, bitrate) of a condition for a batch of
    excerpts ``(path, reference, encoded, seed, analyses)``; one batched sampling call where
    shapes allow. ``analyses`` is one dict per excerpt, shared by its conditions (beats once)."""
    geometry = engine.geometry
    if condition.baseline == "original":
        return [(item[2].codes, {"kept_fraction": None, "bitrate": None}) for item in items]
    if condition.baseline == "reconstructed":
        out = []
        for _, _, encoded, _, _ in items:
            mask = Mask.empty(geometry.n_codebooks, encoded.codes.shape[-1])
            out.append((encoded.codes, {"kept_fraction": 1.0, "bitrate": mask.bitrate(geometry.frame_rate,
                                                                                        geometry.codebook_size)}))
        return out
    recipe = _condition_recipe(condition, engine)
    env = Env(out_dir=Path("."), device=str(getattr(engine, "device", "cpu")), engine=engine)
    states = [State(input=Path(path), recipe=recipe, seed=seed, audio=Audio(reference, int(geometry.sample_rate)),
                    encoded=encoded, codes=encoded.codes if encoded.codes.dim() == 3 else encoded.codes.unsqueeze(0),
                    n_frames=encoded.codes.shape[-1], analyses=analyses)
              for path, reference, encoded, seed, analyses in items]
    states = MaskStage()(states, env)
    states = clock.timed(Vamp(), states, env)
    return [(s.out_codes, {k: prompt_measures(s.mask, env)[k] for k in ("kept_fraction", "bitrate")})
            for s in states]
