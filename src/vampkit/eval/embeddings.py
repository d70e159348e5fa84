"""Audio embeddings for FAD: the loaded codec's own latents (built in, no download) and
adapters for VGGish (``frechet_audio_distance``) and CLAP (``fadtk``) used only when those
packages are installed and their weights are already cached."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from ..errors import VampkitError


class EmbeddingUnavailableError(VampkitError):
    """An embedding cannot run here (package not installed, weights not cached, offline)."""


@attrs.frozen
class CodecLatents:
    """The codec encoder's quantized latents ``z`` per frame (as fadtk's DAC embedding):
    needs no download, since the codec is already loaded for the evaluation."""

    name = "codec"

    def __call__(self, audio: torch.Tensor, sample_rate: int, context: Any) -> np.ndarray:
        codec = context.codec
        if not getattr(codec, "has_latents", False):
            raise EmbeddingUnavailableError(f"codec '{codec.name}' does not expose encoder latents; "
                                            "choose another FAD embedding")
        z = codec.latents(audio.reshape(1, 1, -1).to(torch.float32), sample_rate)  # [1, dim, frames]
        return z[0].T.cpu().numpy()


def _torch_hub_dir() -> Path:
    return Path(torch.hub.get_dir())


@attrs.frozen
class VGGish:
    """VGGish at 16 kHz through the ``frechet_audio_distance`` package (what upstream's eval
    uses), only when the package is installed and torch.hub has its weights cached."""

    name = "vggish"

    def __call__(self, audio: torch.Tensor, sample_rate: int, context: Any) -> np.ndarray:
        if importlib.util.find_spec("frechet_audio_distance") is None:
            raise EmbeddingUnavailableError("embedding 'vggish' needs the 'frechet_audio_distance' package "
                                       "(pip install frechet_audio_distance); the other metrics still run")
        repo = _torch_hub_dir() / "harritaylor_torchvggish_master"
        if not repo.is_dir():
            raise EmbeddingUnavailableError(f"embedding 'vggish': its weights are not cached in {repo.parent} "
                                       "and vampkit eval never downloads; run frechet_audio_distance once "
                                       "online to cache them")
        from ..audio.resample import resample

        model = _vggish_model()
        x = resample(audio.reshape(1, -1).float(), sample_rate, 16000)[0].cpu().numpy()
        with torch.no_grad():
            emb = model.forward(x, 16000)
        return np.asarray(emb.detach().cpu().numpy() if hasattr(emb, "detach") else emb, dtype=np.float32)


_VGGISH: list[Any] = []


def _vggish_model() -> Any:
    """The cached VGGish (loaded once per process, from the local torch.hub copy only)."""
    if not _VGGISH:
        try:
            model = torch.hub.load(str(_torch_hub_dir() / "harritaylor_torchvggish_master"), "vggish",
                                   source="local")
        except Exception as exc:  # any failure of a third-party loader means "unavailable"
            raise EmbeddingUnavailableError(f"embedding 'vggish' could not be loaded offline: "
                                       f"{type(exc).__name__}: {exc}") from exc
        model.postprocess = False
        model.embeddings = torch.nn.Sequential(*list(model.embeddings.children())[:-1])
        _VGGISH.append(model.eval())
    return _VGGISH[0]


@attrs.frozen
class CLAP:
    """LAION CLAP (music) through ``fadtk``, only when fadtk is installed and its weights cached."""

    name = "clap"

    def __call__(self, audio: torch.Tensor, sample_rate: int, context: Any) -> np.ndarray:
        if importlib.util.find_spec("fadtk") is None:
            raise EmbeddingUnavailableError("embedding 'clap' needs the 'fadtk' package (pip install fadtk); "
                                       "the other metrics still run")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download during an evaluation
        try:
            from fadtk.model_loader import CLAPLaionModel

            model = _FADTK.get("clap") or CLAPLaionModel("music")
            if "clap" not in _FADTK:
                model.load_model()
                _FADTK["clap"] = model
            from ..audio.resample import resample

            x = resample(audio.reshape(1, -1).float(), sample_rate, model.sr)[0].cpu().numpy()
            emb = model.get_embedding(x)
        except Exception as exc:  # any failure of a third-party loader means "unavailable"
            raise EmbeddingUnavailableError(f"embedding 'clap' (fadtk) is unavailable offline or uncached: "
                                       f"{type(exc).__name__}: {exc}") from exc
        return np.asarray(emb, dtype=np.float32)


_FADTK: dict[str, Any] = {}

BUILTIN_EMBEDDINGS = (CodecLatents(), VGGish(), CLAP())
