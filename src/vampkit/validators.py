"""attrs validators for plugin parameters whose errors name the plugin and the parameter.

Use them with ``vampkit.param(..., validator=...)`` (or a list of them). A failure is a
``ParameterError`` such as ``periodic: period must be >= 0, got -1``; a recipe then reports it
at the value's ``file:line:col``. ``param()`` already refuses NaN and infinity for ``float``
parameters, and turns attrs' own validators (``attrs.validators.ge``, ``in_``...) into the same
errors, so these are a convenience, not a requirement. ``None`` passes every range check here:
whether a parameter may be ``None`` is its type's business (``float | None``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from .errors import ParameterError

__all__ = [
    "at_least", "at_most", "between", "check_within_grid", "choices", "fail", "finite", "non_negative",
    "positive", "probability", "unit_interval",
]

Validator = Callable[[Any, attrs.Attribute, Any], None]


def owner_name(instance: object) -> str:
    """The registered name of a plugin object (or class), else its class name."""
    name = getattr(instance, "name", None)
    if isinstance(name, str):
        return name
    return instance.__name__ if isinstance(instance, type) else type(instance).__name__


def fail(instance: object, attribute: attrs.Attribute, problem: str) -> None:
    """Raise the ``ParameterError`` of a bad value: ``owner: parameter problem``."""
    raise ParameterError(f"{owner_name(instance)}: {attribute.name} {problem}", path=(attribute.name,),
                         problem=problem)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite(instance: object, attribute: attrs.Attribute, value: Any) -> None:
    """Refuse NaN and infinity (and integers too large for a float)."""
    if not _number(value):
        return
    try:
        ok = math.isfinite(value)
    except OverflowError:
        ok = False
    if not ok:
        fail(instance, attribute, f"must be a finite number, got {short_repr(value)}")


def at_least(minimum: float, *, strict: bool = False) -> Validator:
    """``value >= minimum`` (``> minimum`` when ``strict``); the value must also be finite."""
    sign = ">" if strict else ">="

    def check(instance: object, attribute: attrs.Attribute, value: Any) -> None:
        if value is None:
            return
        finite(instance, attribute, value)
        if value < minimum or (strict and value == minimum):
            fail(instance, attribute, f"must be {sign} {minimum}, got {short_repr(value)}")

    return check


def at_most(maximum: float, *, strict: bool = False) -> Validator:
    """``value <= maximum`` (``< maximum`` when ``strict``); the value must also be finite."""
    sign = "<" if strict else "<="

    def check(instance: object, attribute: attrs.Attribute, value: Any) -> None:
        if value is None:
            return
        finite(instance, attribute, value)
        if value > maximum or (strict and value == maximum):
            fail(instance, attribute, f"must be {sign} {maximum}, got {short_repr(value)}")

    return check


def between(low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> Validator:
    """``low <= value <= high``; ``low_open``/``high_open`` exclude an end (``(0, 1]``)."""
    text = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"

    def check(instance: object, attribute: attrs.Attribute, value: Any) -> None:
        if value is None:
            return
        finite(instance, attribute, value)
        below = value < low or (low_open and value == low)
        above = value > high or (high_open and value == high)
        if below or above:
            fail(instance, attribute, f"must lie in {text}, got {short_repr(value)}")

    return check


def choices(allowed: Iterable[Any]) -> Validator:
    """The value is one of ``allowed``."""
    options = tuple(allowed)

    def check(instance: object, attribute: attrs.Attribute, value: Any) -> None:
        if value not in options:
            fail(instance, attribute, f"must be one of {', '.join(map(repr, options))}, got {short_repr(value)}")

    return check


def non_negative(instance: object, attribute: attrs.Attribute, value: Any) -> None:
    """``value >= 0`` and finite."""
    if value is None:
        return
    finite(instance, attribute, value)
    if value < 0:
        fail(instance, attribute, f"must be >= 0, got {short_repr(value)}")


def positive(instance: object, attribute: attrs.Attribute, value: Any) -> None:
    """``value > 0`` and finite."""
    if value is None:
        return
    finite(instance, attribute, value)
    if value <= 0:
        fail(instance, attribute, f"must be > 0, got {short_repr(value)}")


#: the longest span a recipe value may name, in seconds (a day): longer is surely a typo, and
#: would overflow frame counts and allocations instead of failing at its line
MAX_SECONDS = 86400.0


def duration(instance: object, attribute: attrs.Attribute, value: Any) -> None:
    """Seconds: ``0 <= value <= MAX_SECONDS``."""
    non_negative(instance, attribute, value)
    _within_a_day(instance, attribute, value)


def positive_duration(instance: object, attribute: attrs.Attribute, value: Any) -> None:
    """Seconds: ``0 < value <= MAX_SECONDS``."""
    positive(instance, attribute, value)
    _within_a_day(instance, attribute, value)


def _within_a_day(instance: object, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and value > MAX_SECONDS:
        fail(instance, attribute, f"must be at most {MAX_SECONDS:g} seconds (a day), got {short_repr(value)}")


def probability(instance: object, attribute: attrs.Attribute, value: Any) -> None:
    """``0 <= value <= 1``."""
    if value is None:
        return
    finite(instance, attribute, value)
    if not 0.0 <= value <= 1.0:
        fail(instance, attribute, f"must be between 0 and 1, got {short_repr(value)}")


def unit_interval(instance: object, attribute: attrs.Attribute, value: Any) -> None:
    """``0 < value <= 1`` (a fraction that must keep something)."""
    if value is None:
        return
    finite(instance, attribute, value)
    if not 0.0 < value <= 1.0:
        fail(instance, attribute, f"must lie in (0, 1], got {short_repr(value)}")


def check_within_grid(instance: object, what: str, frames: int, n_frames: int, seconds: float) -> None:
    """Raise if a time parameter lies past the end of the grid it is applied to."""
    if frames > n_frames:
        raise ParameterError(
            f"{owner_name(instance)}: {what}={seconds} s is past the end of the input ({n_frames} frames)",
            path=(what,), problem=f"{seconds} s is past the end of the input ({n_frames} frames)",
        )


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages about untrusted values."""
    try:
        text = repr(value)
    except ValueError:  # an int beyond Python's digit limit for str()
        text = f"<{type(value).__name__} too large to print>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
