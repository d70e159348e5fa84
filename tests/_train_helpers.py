"""Tiny codecs, token folders and training recipes the training tests build on the fly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml

from vampkit.codecs import load_codec
from vampkit.codecs.fixtures import make_lac_checkpoint
from vampkit.training.tokens import CodecInfo, write_tokens

VOCAB = 32
TINY_MODEL = {"n_heads": 2, "n_layers": 1, "n_codebooks": 4, "embedding_dim": 16}


def tiny_codec(root: Path, n_codebooks: int = 4, vocab: int = VOCAB, seed: int = 0) -> tuple[Path, CodecInfo]:
    """A LAC checkpoint with VampNet's rates (hop 768) and its ``CodecInfo``."""
    path = make_lac_checkpoint(root / f"codec-{n_codebooks}x{vocab}-{seed}.pth", seed=seed, n_codebooks=n_codebooks,
                               codebook_size=vocab)
    return path, CodecInfo.of(load_codec(str(path)))


def random_tokens(root: Path, info: CodecInfo, lengths: dict[str, int], seed: int = 0, name: str = "tokens") -> Path:
    g = torch.Generator().manual_seed(seed)
    items = {k: torch.randint(0, info.codebook_size, (info.n_codebooks, n), generator=g) for k, n in lengths.items()}
    write_tokens(root / name, info, items)
    return root / name


def recipe_text(codec: Path, tokens: Path, **settings: Any) -> str:
    """A training recipe for a tiny new model (16 frames per excerpt, no dropout)."""
    model = {"kwargs": dict(TINY_MODEL), "codec": str(codec), "context_frames": 16, "dropout": 0.0}
    model.update(settings.pop("model", {}))
    data = {"train": str(tokens), **settings.pop("data", {})}
    recipe = {"model": model, "data": data, "batch_size": 4, "steps": 4, "validate_every": 1000,
              "checkpoint_every": 1000, "validation_items": 0, "tensorboard": False}
    recipe.update(settings)
    return yaml.safe_dump(recipe, sort_keys=False)


def weights_of(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]
