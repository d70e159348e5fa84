"""attrs validators for generator parameters; errors name the generator and the parameter."""

from __future__ import annotations

from typing import Any

import attrs

from ..errors import ParameterError
from ..params import owner_name


def _fail(instance: object, attribute: attrs.Attribute, message: str) -> None:
    raise ParameterError(f"{owner_name(instance)}: {attribute.name} {message}")


def non_negative(instance: object, attribute: attrs.Attribute, value: Any) -> None:
    if value < 0:
        _fail(instance, attribute, f"must be >= 0, got {value}")


def positive(instance: object, attribute: attrs.Attribute, value: Any) -> None:
    if value <= 0:
        _fail(instance, attribute, f"must be > 0, got {value}")


def probability(instance: object, attribute: attrs.Attribute, value: Any) -> None:
    if not 0.0 <= value <= 1.0:
        _fail(instance, attribute, f"must be between 0 and 1, got {value}")


def check_within_grid(instance: object, what: str, frames: int, n_frames: int, seconds: float) -> None:
    """Raise if a time parameter lies past the end of the grid it is applied to."""
    if frames > n_frames:
        raise ParameterError(
            f"{owner_name(instance)}: {what}={seconds} s is past the end of the input "
            f"({n_frames} frames)"
        )
