"""Token models: the ``TokenModel`` interface and the built-in ``VampNet``."""

from __future__ import annotations

from .base import TokenModel
from ..checkpoint import read_checkpoint, write_checkpoint
from .layers import relative_position_buckets
from .vampnet import VampNet

__all__ = ["TokenModel", "VampNet", "read_checkpoint", "relative_position_buckets", "write_checkpoint"]
