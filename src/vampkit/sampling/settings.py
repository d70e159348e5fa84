"""``SamplingSettings``: the sampler's knobs as one value, with upstream VampNet's defaults."""

from __future__ import annotations

from typing import Any

import attrs

from ..errors import ParameterError


def _check(instance: "SamplingSettings") -> None:
    if not isinstance(instance.steps, int) or isinstance(instance.steps, bool) or instance.steps < 1:
        raise ParameterError(f"sampling: steps must be a positive integer, got {instance.steps!r}")
    if instance.temperature < 0:
        raise ParameterError(f"sampling: temperature must be >= 0, got {instance.temperature}")
    if instance.mask_temperature < 0:
        raise ParameterError(f"sampling: mask_temperature must be >= 0, got {instance.mask_temperature}")
    if instance.top_p is not None and not 0 < instance.top_p <= 1:
        raise ParameterError(f"sampling: top_p must lie in (0, 1], got {instance.top_p}")
    if instance.top_k is not None and (isinstance(instance.top_k, bool) or instance.top_k < 1):
        raise ParameterError(f"sampling: top_k must be a positive integer, got {instance.top_k}")
    if not 0 < instance.typical_mass <= 1:
        raise ParameterError(f"sampling: typical_mass must lie in (0, 1], got {instance.typical_mass}")
    if instance.typical_min_tokens < 1:
        raise ParameterError(f"sampling: typical_min_tokens must be >= 1, got {instance.typical_min_tokens}")


@attrs.frozen
class SamplingSettings:
    """Knobs of ``vampkit.sampling.sample``, named and defaulted as upstream ``main``'s ``generate``.

    ``typical_filtering`` defaults to off: upstream's is on by default but does nothing, so
    off is what upstream really does. ``top_k`` is ours (upstream never sets it).
    """

    steps: int = 12
    temperature: float = attrs.field(default=1.0, converter=float)
    mask_temperature: float = attrs.field(default=10.5, converter=float)
    sample_cutoff: float = attrs.field(default=1.0, converter=float)
    top_p: float | None = attrs.field(default=None, converter=attrs.converters.optional(float))
    top_k: int | None = attrs.field(default=None, converter=attrs.converters.optional(int))
    typical_filtering: bool = False
    typical_mass: float = attrs.field(default=0.15, converter=float)
    typical_min_tokens: int = attrs.field(default=1, converter=int)

    def __attrs_post_init__(self) -> None:
        _check(self)

    def as_kwargs(self) -> dict[str, Any]:
        """The knobs as keyword arguments of ``sample``."""
        return attrs.asdict(self)

    def replace(self, **changes: Any) -> "SamplingSettings":
        unknown = set(changes) - set(attrs.fields_dict(SamplingSettings))
        if unknown:
            raise ParameterError(f"sampling: unknown setting(s) {', '.join(sorted(unknown))}")
        return attrs.evolve(self, **changes)
