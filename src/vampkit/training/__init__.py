"""Training and fine-tuning VampNet models on token data sets (``vampkit train``).

``encode_dataset`` turns audio folders into memory-mapped token shards; ``train`` runs a
training recipe (plain PyTorch, DDP under torchrun) with a mixture of mask generators.
"""

from __future__ import annotations

from .loop import TrainResult, train
from .masking import MaskMixture, build_mixture, gamma, upstream_random_mask
from .recipe import TrainRecipe, load_train_recipe, loads_train_recipe
from .tokens import DatasetError, EncodeReport, TokenDataset, encode_dataset

__all__ = ["DatasetError", "EncodeReport", "MaskMixture", "TokenDataset", "TrainRecipe", "TrainResult",
           "build_mixture", "encode_dataset", "gamma", "load_train_recipe", "loads_train_recipe", "train",
           "upstream_random_mask"]
