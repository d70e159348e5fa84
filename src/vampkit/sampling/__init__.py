"""The sampling engine: iterative parallel decoding of a ``Prompt`` with a ``TokenModel``."""

from __future__ import annotations

from .engine import sample, sample_codes
from .filters import top_k_filter, top_p_filter, typical_filter
from .pipeline import DEFAULT_C2F_SETTINGS, coarse_to_fine, coarse_vamp, vamp
from .schedule import gamma, masked_counts, num_to_mask, schedule
from .settings import SamplingSettings

__all__ = [
    "DEFAULT_C2F_SETTINGS",
    "SamplingSettings",
    "coarse_to_fine",
    "coarse_vamp",
    "gamma",
    "masked_counts",
    "num_to_mask",
    "sample",
    "sample_codes",
    "schedule",
    "top_k_filter",
    "top_p_filter",
    "typical_filter",
    "vamp",
]
