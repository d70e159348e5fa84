"""Training masks: upstream's random training mask and a weighted mixture of recipe mask specs.

Upstream VampNet trains on one mask only (``scripts/exp/train.py``): per item a value ``r``
from a scrambled 1-D Sobol sequence, ``gamma(r) = cos(pi r / 2)``, and every token generated
with probability ``gamma(r)``; conditioning codebooks are never generated. A mixture entry
``random`` (no parameters) is exactly that; any other entry is a mask spec as in a recipe
(built-in or plugin generator), where a scalar parameter written as ``[low, high]`` is drawn
per item (integers inclusive, numbers uniform).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import torch

from ..context import MaskContext
from ..errors import ParameterError
from ..masks import build_mask_generator
from ..params import resolved_fields

UPSTREAM_RANDOM = "random"
Path = tuple[Any, ...]


def gamma(r: torch.Tensor) -> torch.Tensor:
    """Upstream's mask schedule ``cos(pi r / 2)``, clamped to ``[1e-10, 1]`` as upstream does."""
    return (r * math.pi / 2).cos().clamp(1e-10, 1.0)


def sobol_engine(seed: int, already_drawn: int = 0) -> torch.quasirandom.SobolEngine:
    """Upstream's source of ``r``: a scrambled 1-D Sobol engine seeded with the run seed."""
    engine = torch.quasirandom.SobolEngine(1, scramble=True, seed=int(seed))
    if already_drawn:
        engine.fast_forward(int(already_drawn))
    return engine


def upstream_random_mask(shape: Sequence[int], r: torch.Tensor, n_conditioning_codebooks: int,
                         generator: torch.Generator) -> torch.Tensor:
    """Bool ``[B, C, T]``: each token generated with probability ``gamma(r_b)`` (one Bernoulli
    draw per token, in one ``torch.bernoulli`` call over the batch, as upstream), conditioning
    codebooks kept."""
    batch, n_codebooks, n_frames = (int(s) for s in shape)
    probs = torch.ones(batch, n_codebooks, n_frames) * gamma(r.to(torch.float32))[:, None, None]
    mask = torch.bernoulli(probs, generator=generator).bool()
    mask[:, :n_conditioning_codebooks] = False
    return mask


@attrs.frozen
class RangedParam:
    """A scalar mask parameter written as ``[low, high]``: drawn per item."""

    path: Path  # inside the entry's mask spec
    low: float
    high: float
    integer: bool

    def draw(self, generator: torch.Generator) -> int | float:
        u = float(torch.rand((), generator=generator, dtype=torch.float64))
        if self.integer:
            return int(self.low) + min(int(u * (int(self.high) - int(self.low) + 1)), int(self.high) - int(self.low))
        return self.low + u * (self.high - self.low)


@attrs.frozen(eq=False)
class MixtureEntry:
    """One weighted family of the mixture: its label, spec and the parameters drawn per item."""

    label: str
    weight: float
    spec: Any  # plain data; UPSTREAM_RANDOM for upstream's training mask
    ranges: tuple[RangedParam, ...]
    _built: dict = attrs.field(factory=dict, init=False, repr=False)

    @property
    def is_upstream_random(self) -> bool:
        return self.spec == UPSTREAM_RANDOM

    def generator_for(self, generator: torch.Generator) -> Any:
        """The mask generator of one item, its ranged parameters drawn from ``generator``."""
        if not self.ranges:
            if "generator" not in self._built:
                self._built["generator"] = build_mask_generator(self.spec)
            return self._built["generator"]
        spec = copy.deepcopy(self.spec)
        for ranged in self.ranges:
            _set(spec, ranged.path, ranged.draw(generator))
        return build_mask_generator(spec)


@attrs.frozen(eq=False)
class MaskMixture:
    """Weighted mask families; ``draw`` makes one batch's masks."""

    entries: tuple[MixtureEntry, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(e.label for e in self.entries)

    @property
    def probabilities(self) -> torch.Tensor:
        weights = torch.tensor([e.weight for e in self.entries], dtype=torch.float64)
        return weights / weights.sum()

    def families(self, n_items: int, generator: torch.Generator) -> torch.Tensor:
        """Family index of each of ``n_items`` items, drawn at the entries' weights."""
        if len(self.entries) == 1:
            return torch.zeros(n_items, dtype=torch.long)
        return torch.multinomial(self.probabilities, n_items, replacement=True, generator=generator)

    def item_mask(self, family: int, n_codebooks: int, n_frames: int, n_conditioning: int,
                  generator: torch.Generator, *, frame_rate: float, sample_rate: int) -> torch.Tensor:
        """Bool ``[C, T]`` mask of one item of a non-``random`` family (True = generate)."""
        entry = self.entries[family]
        mask_generator = entry.generator_for(generator)
        ctx = MaskContext(n_codebooks, n_frames, sample_rate=sample_rate, frame_rate=frame_rate,
                          seed=int(torch.randint(0, 2**62, (), generator=generator)))
        try:
            mask = mask_generator(ctx).tensor
        except Exception as exc:  # a plugin's failure names its family
            raise ParameterError(f"training mask '{entry.label}': {exc}") from exc
        if mask.dim() == 3:
            mask = mask[0]
        mask = mask.clone()
        mask[:n_conditioning] = False
        return mask


def seed_for(*values: int) -> int:
    """A 63-bit seed mixed from integers (run seed, step, item): counter-based randomness, so a
    resumed run or another process count draws the same numbers for the same item."""
    import numpy as np

    state = np.random.SeedSequence([int(v) & 0xFFFFFFFFFFFFFFFF for v in values]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def generator_for(*values: int) -> torch.Generator:
    """A CPU generator seeded with ``seed_for(*values)``."""
    return torch.Generator().manual_seed(seed_for(*values))


def draw_masks(mixture: MaskMixture, global_shape: Sequence[int], items: Sequence[int], n_conditioning: int,
               *, seed: int, step: int, r: torch.Tensor, frame_rate: float,
               sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One step's masks ``[len(items), C, T]`` and family indices for the global batch items
    ``items`` (this process's share), identical whichever process draws them.

    Families and upstream's random masks are drawn for the whole global batch from the step's
    generator (``r``: the step's Sobol values, one per global item); other families per item
    from the item's own generator.
    """
    n_global, n_codebooks, n_frames = (int(s) for s in global_shape)
    step_gen = generator_for(seed, step, 0x5EED)
    families = mixture.families(n_global, step_gen)
    random_masks = None
    if any(e.is_upstream_random for e in mixture.entries):
        random_masks = upstream_random_mask(global_shape, r, n_conditioning, step_gen)
    masks = torch.empty(len(items), n_codebooks, n_frames, dtype=torch.bool)
    for row, item in enumerate(items):
        family = int(families[item])
        if mixture.entries[family].is_upstream_random:
            masks[row] = random_masks[item]
        else:
            masks[row] = mixture.item_mask(family, n_codebooks, n_frames, n_conditioning,
                                           generator_for(seed, step, item, 0x3A5C), frame_rate=frame_rate,
                                           sample_rate=sample_rate)
    return masks, families[list(items)]


def _set(spec: Any, path: Path, value: Any) -> None:
    target = spec
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def find_ranges(spec: Any, path: Path = ()) -> tuple[tuple[RangedParam, ...], Any]:
    """The ``[low, high]`` scalar parameters of a spec, and the spec with each set to ``low``.

    A two-number list counts as a range only where the generator's parameter is an ``int``
    or ``float`` (a list-valued parameter keeps its list).
    """
    from .. import plugins

    ranges: list[RangedParam] = []
    if isinstance(spec, str) or spec is None or not isinstance(spec, Mapping) or len(spec) != 1:
        return (), spec
    ((name, value),) = spec.items()
    try:
        cls = plugins.get_mask_generator(str(name))
    except Exception:  # noqa: BLE001 - unknown names are reported by build_mask_generator
        return (), spec
    fields = {f.name: f for f in resolved_fields(cls)}
    positional = next((f.name for f in fields.values() if f.metadata.get("positional")), None)
    if positional and (not isinstance(value, Mapping) or not set(value) <= set(fields)):
        value = {positional: value}
    if not isinstance(value, Mapping):
        return (), spec
    out: dict[str, Any] = {}
    for key, item in value.items():
        field = fields.get(key)
        here = path + (name, key)
        nested = field.metadata.get("nested") if field is not None else None
        if nested == "mask":
            sub, item = find_ranges(item, here)
            ranges.extend(sub)
        elif nested == "masks" and isinstance(item, list):
            new = []
            for i, child in enumerate(item):
                sub, child = find_ranges(child, here + (i,))
                ranges.extend(sub)
                new.append(child)
            item = new
        elif field is not None and field.type in (int, float) and isinstance(item, list) and len(item) == 2 \
                and all(_is_number(v) for v in item):
            low, high = item
            integer = field.type is int
            if integer and not all(isinstance(v, int) for v in item):
                raise ParameterError(f"{name}: {key}: an integer range needs integer bounds, got {item!r}",
                                     path=here)
            if high < low:
                raise ParameterError(f"{name}: {key}: range [{low}, {high}] has high < low", path=here)
            ranges.append(RangedParam(here, float(low) if not integer else low, float(high) if not integer else high,
                                      integer))
            item = low
        out[key] = item
    return tuple(ranges), {name: out}


def build_mixture(entries: Sequence[Mapping[str, Any]], path: Path = ("masks",)) -> MaskMixture:
    """A mixture from ``[{weight: w, mask: spec, name?: label}, ...]``; errors carry ``.path``.

    Each spec is built once at its low bounds and once at its high bounds, so a bad spec fails
    here, not in the middle of a run.
    """
    if not isinstance(entries, Sequence) or isinstance(entries, str) or not entries:
        raise ParameterError("masks: expected a non-empty list of {weight, mask} entries", path=path)
    built = []
    labels: set[str] = set()
    for i, entry in enumerate(entries):
        here = path + (i,)
        if not isinstance(entry, Mapping):
            raise ParameterError(f"expected a mapping {{weight: w, mask: spec}}, got {entry!r}", path=here)
        unknown = [k for k in entry if k not in ("weight", "mask", "name")]
        if unknown:
            raise ParameterError(f"unknown key '{unknown[0]}' (known: weight, mask, name)", path=here + (unknown[0],))
        if "mask" not in entry:
            raise ParameterError("missing key 'mask'", path=here)
        weight = entry.get("weight", 1.0)
        if not _is_number(weight) or not weight > 0 or not math.isfinite(weight):
            raise ParameterError(f"weight must be a positive number, got {weight!r}", path=here + ("weight",))
        spec = entry["mask"]
        if spec == UPSTREAM_RANDOM or spec in ({UPSTREAM_RANDOM: None}, {UPSTREAM_RANDOM: {}}):
            spec, ranges = UPSTREAM_RANDOM, ()
        else:
            ranges, low_spec = find_ranges(copy.deepcopy(spec), here + ("mask",))
            ranges = tuple(attrs.evolve(r, path=r.path[len(here) + 1:]) for r in ranges)
            build_mask_generator(low_spec, here + ("mask",))
            if ranges:
                high_spec = copy.deepcopy(low_spec)
                for r in ranges:
                    _set(high_spec, r.path, r.high)
                build_mask_generator(high_spec, here + ("mask",))
            spec = low_spec
        label = entry.get("name") or _label(entry["mask"])
        if not isinstance(label, str):
            raise ParameterError(f"name must be a string, got {label!r}", path=here + ("name",))
        base, n = label, 2
        while label in labels:
            label, n = f"{base}#{n}", n + 1
        labels.add(label)
        built.append(MixtureEntry(label, float(weight), spec, ranges))
    return MaskMixture(tuple(built))


def _label(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, Mapping) and len(spec) == 1:
        return str(next(iter(spec)))
    return "mask"
