"""``SamplingSettings``: the sampler's knobs as one value, with upstream VampNet's defaults.

The same value is a recipe's ``sampling`` and ``c2f`` sections, so a knob is declared,
documented and validated once.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from ..errors import ParameterError
from ..params import owner_name, param
from ..validators import at_least, between, non_negative, unit_interval

TOKEN_DRAWS = ("upstream", "inverse-cdf")

#: most sampling passes one run may ask for (upstream uses 12 to 36; each is a model forward)
MAX_STEPS = 1000


@attrs.frozen
class SamplingSettings:
    """Knobs of ``vampkit.sample``, named and defaulted as upstream ``main``'s ``generate``.

    ``typical_filtering`` defaults to off: upstream's is on by default but does nothing, so
    off is what upstream really does. ``top_k`` and ``draw`` are ours.
    """

    name = "sampling"

    steps: int = param(12, doc="sampling passes, one forward each (upstream main: 12; the paper's demo: 36)",
                       validator=between(1, MAX_STEPS))
    temperature: float = param(1.0, doc="divides the logits before the softmax (0: plain softmax)",
                               validator=non_negative)
    mask_temperature: float = param(10.5, doc="scale of the Gumbel noise when ranking confidences, annealed to 0",
                                    validator=non_negative)
    sample_cutoff: float = param(1.0, doc="steps past this fraction of the run take the argmax "
                                          "(in [-1, 1]; negative: argmax from the first step, deterministic)",
                                 validator=between(-1, 1))
    top_p: float | None = param(None, doc="nucleus filtering (null: off)", validator=unit_interval)
    top_k: int | None = param(None, doc="keep the k most likely tokens (null: off)", validator=at_least(1))
    typical_filtering: bool = param(False, doc="locally typical filtering (upstream's is a no-op)")
    typical_mass: float = param(0.15, doc="probability mass typical filtering keeps", validator=unit_interval)
    typical_min_tokens: int = param(1, doc="tokens typical filtering always keeps", validator=at_least(1))
    draw: Literal["upstream", "inverse-cdf"] = param(
        "upstream", doc="token draw: 'upstream' (torch.multinomial: upstream's random stream, bit-exact "
                        "seeded runs) or 'inverse-cdf' (same distribution, one uniform per position: faster on CPU)")

    def as_kwargs(self) -> dict[str, Any]:
        """The knobs as keyword arguments of ``sample``."""
        return attrs.asdict(self)

    def replace(self, **changes: Any) -> "SamplingSettings":
        unknown = set(changes) - set(attrs.fields_dict(SamplingSettings))
        if unknown:
            raise ParameterError(f"{owner_name(self)}: unknown setting(s) {', '.join(sorted(unknown))}")
        return attrs.evolve(self, **changes)
