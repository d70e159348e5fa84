"""Model bundles: every fact about one published model set in one frozen value.

In the spirit of torchaudio's pipelines, a ``ModelBundle`` names the codec, coarse and
coarse-to-fine files (a Hugging Face Hub repository and file names), the token grid (sample
rate, hop, codebooks, codebook size, hence the frame rate), the models' context lengths, the
loudness the audio is encoded at, the codec's chunk size, the licence, and how to load it:
``vampkit.bundles.VAMPNET.load(device="cpu")`` returns the loaded models (an engine). Presets
(``weights.PRESETS``), the engine, dry runs (``geometry_for``) and the docs read these values.

Third-party bundles register through the ``register_bundles`` hook; ``--weights NAME`` and a
recipe's ``weights: NAME`` resolve any registered bundle name (``NAME:<fine-tuned>`` too).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .errors import WeightsUnavailableError

if TYPE_CHECKING:
    from .pipeline.engine import VampNetEngine
    from .weights import WeightPaths

_FINE_TUNED_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@attrs.frozen
class Geometry:
    """The token grid of a codec: what a mask can be built for without loading a model."""

    sample_rate: int
    hop_length: int
    n_codebooks: int
    codebook_size: int

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    def n_frames(self, n_samples: int) -> int:
        """Frames the codec makes of ``n_samples`` at its own rate (right-padded to the hop)."""
        return max(1, math.ceil(n_samples / self.hop_length))


def _positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or not math.isfinite(value):
        raise ValueError(f"bundle {getattr(instance, 'name', '?')}: {attribute.name} must be a positive number, "
                         f"got {value!r}")


@attrs.frozen(kw_only=True)
class ModelBundle:
    """One VampNet-architecture model set: where its files are, its grid, and how to run it.

    ``coarse``, ``c2f`` and ``codec`` are file names in the Hub repository ``repo_id`` at
    ``revision`` (``c2f`` None: a coarse-only set). ``sha256`` maps a file name to its published
    checksum where one is known; downloaded files are checked against it.
    """

    name: str
    repo_id: str
    coarse: str = "coarse.pth"
    c2f: str | None = "c2f.pth"
    codec: str = "codec.pth"
    revision: str = "main"
    sample_rate: int = attrs.field(validator=_positive)
    hop_length: int = attrs.field(validator=_positive)
    n_codebooks: int = attrs.field(validator=_positive)
    codebook_size: int = attrs.field(validator=_positive)
    #: codebooks the coarse model generates (the c2f model generates the rest)
    coarse_codebooks: int = attrs.field(validator=_positive)
    #: frames per model call: the longest grid each model sees at once
    coarse_context_frames: int = attrs.field(validator=_positive)
    c2f_context_frames: int = attrs.field(validator=_positive)
    #: integrated loudness (LUFS) the audio is normalised to before encoding
    loudness_db: float = -24.0
    #: seconds per codec chunk when encoding/decoding (None: the codec's automatic chunking)
    chunk_seconds: float | None = None
    license: str = ""
    description: str = ""
    sha256: Mapping[str, str] = attrs.field(factory=dict, converter=lambda m: dict(m or {}))

    @property
    def frame_rate(self) -> float:
        """Token frames per second."""
        return self.sample_rate / self.hop_length

    @property
    def geometry(self) -> Geometry:
        """The token grid, for dry runs and previews (no download, no model)."""
        return Geometry(self.sample_rate, self.hop_length, self.n_codebooks, self.codebook_size)

    @property
    def files(self) -> dict[str, str]:
        """Role (``coarse``, ``c2f``, ``codec``) -> file name in the repository."""
        return {role: name for role, name in (("coarse", self.coarse), ("c2f", self.c2f), ("codec", self.codec))
                if name is not None}

    def fine_tuned(self, name: str) -> ModelBundle:
        """The fine-tuned set ``loras/<name>/{coarse,c2f}.pth`` of the repository, same codec."""
        if not isinstance(name, str) or not _FINE_TUNED_NAME.match(name):
            raise WeightsUnavailableError(f"weights '{self.name}:{name}': '{name}' is not a valid fine-tuned model name")
        return attrs.evolve(self, name=f"{self.name}:{name}", coarse=f"loras/{name}/coarse.pth",
                            c2f=f"loras/{name}/c2f.pth", sha256={},
                            description=f"{self.description}, fine-tuned '{name}'")

    def resolve(self, *, offline: bool | None = None) -> WeightPaths:
        """Local paths of the three files, downloaded into vampkit's cache when missing."""
        from .weights import fetch_bundle

        return fetch_bundle(self, offline=offline)

    def load(self, device: str = "auto", *, offline: bool | None = None) -> VampNetEngine:
        """The codec and both models loaded on ``device`` (downloaded first if needed)."""
        from .pipeline.engine import VampNetEngine

        return VampNetEngine(self.resolve(offline=offline), device)


#: upstream VampNet's published weights: LAC codec at 44.1 kHz, hop 768, 14 codebooks of 1024;
#: the coarse model makes codebooks 0-3 over 10 s (575 frames), c2f the rest over 3 s (173).
VAMPNET = ModelBundle(
    name="vampnet",
    repo_id="hugggof/vampnet",
    sample_rate=44100,
    hop_length=768,
    n_codebooks=14,
    codebook_size=1024,
    coarse_codebooks=4,
    coarse_context_frames=575,
    c2f_context_frames=173,
    loudness_db=-24.0,
    chunk_seconds=None,
    license="CC BY-NC-SA 4.0",
    description="upstream VampNet (CC BY-NC-SA 4.0 weights)",
)

BUILTIN_BUNDLES = (VAMPNET,)


def registered() -> dict[str, ModelBundle]:
    """Every bundle the loaded plugins register (built-ins included), by name."""
    from . import plugins

    return {name: reg.obj for name, reg in plugins.registered("bundles").items()}


def get(spec: str) -> ModelBundle:
    """The bundle ``NAME`` or its fine-tuned ``NAME:<fine-tuned name>``; an error lists the known names."""
    from .naming import did_you_mean

    base, sep, fine = spec.partition(":")
    known = registered()
    if base not in known:
        names = ", ".join(sorted(known)) or "none"
        raise WeightsUnavailableError(
            f"unknown weights '{spec}'{did_you_mean(base, known)}: not a registered bundle ({names}, or "
            f"'<bundle>:<fine-tuned name>') nor an existing local path"
        )
    return known[base].fine_tuned(fine) if sep else known[base]
