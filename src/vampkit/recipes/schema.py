"""Typed, frozen values a recipe file validates into before any audio is touched."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ..params import param
from ..sampling.settings import SamplingSettings

Path = tuple[Any, ...]

DEFAULT_TEMPLATE = "{stem}.{recipe}.{seed}.{variation}.wav"
DEFAULT_PIPELINE = ("load", "encode", "mask", "vamp", "decode", "write")
TEMPLATE_FIELDS = ("stem", "recipe", "seed", "variation", "point", "ext")


@attrs.frozen
class WeightsSpec:
    """A weights preset name (``vampnet``) or explicit checkpoint paths, and optionally
    LoRA-only files (``lora.pth`` of ``vampkit train``) applied on top of the coarse / c2f model."""

    preset: str | None = "vampnet"
    coarse: str | None = None
    c2f: str | None = None
    codec: str | None = None
    coarse_lora: str | None = None
    c2f_lora: str | None = None

    @property
    def lora(self) -> dict[str, str]:
        """``{"coarse": path, "c2f": path}`` of the LoRA files given (maybe empty)."""
        return {k: v for k, v in (("coarse", self.coarse_lora), ("c2f", self.c2f_lora)) if v is not None}

    @property
    def paths(self) -> dict[str, str] | None:
        if self.preset is not None:
            return None
        return {"coarse": self.coarse, "c2f": self.c2f, "codec": self.codec}  # type: ignore[dict-item]

    def describe(self) -> str | dict[str, str]:
        base = self.preset if self.preset is not None else dict(self.paths or {})
        if not self.lora:
            return base
        return {**({"preset": base} if isinstance(base, str) else base), **{f"{k}_lora": v for k, v in self.lora.items()}}


@attrs.frozen
class OutputSpec:
    """Where outputs go and how they are named."""

    name = "output"

    template: str = param(DEFAULT_TEMPLATE, doc="output file name template")
    dir: str | None = param(None, doc="output folder (the command line's --out wins)")


@attrs.frozen(eq=False)
class StageSpec:
    """One pipeline step: its registered name, parameters and the built stage object."""

    name: str
    params: Mapping[str, Any]
    stage: Any
    path: Path


@attrs.frozen(eq=False)
class Recipe:
    """A validated recipe. ``data`` is the plain data it was built from (overrides applied)."""

    name: str
    description: str
    weights: WeightsSpec
    inputs: tuple[str, ...]
    output: OutputSpec
    seed: int
    variations: int
    device: str
    precision: str  # fp32 | bf16 | fp16 | auto (vampkit.precision)
    compile: bool  # torch.compile the transformer layers and the codec's Snake
    mask: Any  # a vampkit.MaskGenerator
    sampling: SamplingSettings
    c2f: SamplingSettings
    analysis: Mapping[str, Any]
    pipeline: tuple[StageSpec, ...]
    data: Mapping[str, Any] = attrs.field(repr=False)
    source: Any = attrs.field(repr=False)  # loader.SourceMap

    @property
    def path(self) -> str:
        return self.source.file

    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.pipeline)
