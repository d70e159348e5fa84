"""Training recipes: YAML read by the recipe loader (``file:line:col`` errors), validated into
typed, frozen values before anything is loaded.

Defaults are upstream VampNet's (``conf/vampnet.yml``, ``conf/lora/lora.yml``): AdamW, Noam
schedule factor 2.0 warmup 10000 (LoRA: warmup 500, lr 1e-4, only LoRA factors trained),
gradient clipping 5.0, label smoothing 0.1, batch 8, fp32, excerpt loudness cut-off -30 dB
(coarse) / -40 dB (c2f), the random training mask only.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping
from pathlib import Path as FsPath
from typing import Any, Literal

import attrs

from ..errors import ParameterError
from ..params import param
from ..paths import output_path
from ..recipes.loader import SourceMap, section, apply_overrides, check_name, parse_yaml, read_text
from .masking import MaskMixture, build_mixture

Path = tuple[Any, ...]
TOP_LEVEL_KEYS = ("name", "description", "model", "data", "masks", "optimizer", "lora", "batch_size",
                  "grad_accumulation", "precision", "steps", "validate_every", "checkpoint_every",
                  "log_every", "validation_items", "seed", "device", "output", "tensorboard")
DEFAULT_MASKS = ({"weight": 1.0, "mask": "random"},)


def _positive(_i: object, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and not value > 0:
        raise ParameterError(f"must be > 0, got {value!r}")


def _non_negative(_i: object, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and value < 0:
        raise ParameterError(f"must be >= 0, got {value!r}")


def _fraction(_i: object, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and not 0 < value < 1:
        raise ParameterError(f"must lie in (0, 1), got {value!r}")


@attrs.frozen
class ModelSpec:
    """Which model to train: a weights preset/folder (``which`` part), a checkpoint, or kwargs."""

    name = "model"

    weights: str | None = param(None, doc="weights preset (vampnet) or folder; the `which` model is trained")
    which: Literal["coarse", "c2f"] = param("coarse", doc="which model of the weights set")
    checkpoint: str | None = param(None, doc="a VampNet checkpoint file to start from")
    kwargs: Mapping[str, Any] | None = param(None, doc="constructor kwargs of a new, randomly initialised model")
    codec: str | None = param(None, doc="codec file or name (default: the weights set's codec)")
    context_frames: int | None = param(None, doc="frames per excerpt (default: 575 coarse, 173 c2f)",
                                       validator=_positive)
    dropout: float = param(0.1, doc="residual dropout while training (upstream 0.1)", validator=_non_negative)


@attrs.frozen
class DataSpec:
    """Token folders and how excerpts are drawn from them."""

    name = "data"

    train: str = param(doc="token folder made by `vampkit encode-dataset`")
    validation: str | None = param(None, doc="token folder for validation")
    validation_split: float | None = param(None, doc="fraction of the train files held out instead",
                                           validator=_fraction)
    loudness_cutoff: float | None = param(None, doc="excerpt loudness cut-off in LUFS (default -30 coarse, -40 c2f)")
    num_tries: int = param(8, doc="excerpt draws before the cut-off gives up (upstream 8)", validator=_positive)


@attrs.frozen
class OptimizerSpec:
    """AdamW and its learning-rate schedule (upstream: Noam, factor 2.0, warmup 10000)."""

    name = "optimizer"

    schedule: Literal["noam", "constant"] = param("noam", doc="noam (upstream) or constant lr after a linear warmup")
    lr: float | None = param(None, doc="constant schedule's lr (default 1e-3; LoRA 1e-4)", validator=_positive)
    factor: float = param(2.0, doc="Noam factor", validator=_positive)
    warmup: int | None = param(None, doc="warmup steps (default 10000; LoRA 500)", validator=_non_negative)
    d_model: int | None = param(None, doc="Noam's model width (default: the model's embedding_dim)",
                                validator=_positive)
    weight_decay: float = param(0.01, doc="AdamW weight decay (torch's default, as upstream)",
                                validator=_non_negative)
    beta1: float = param(0.9, doc="AdamW beta1")
    beta2: float = param(0.999, doc="AdamW beta2")
    grad_clip: float | None = param(5.0, doc="clip the gradient norm to this (null: no clipping)",
                                    validator=_positive)
    label_smoothing: float = param(0.1, doc="cross-entropy label smoothing", validator=_non_negative)


@attrs.frozen(eq=False)
class TrainRecipe:
    """A validated training recipe; ``data`` keeps the plain data it came from."""

    name: str
    description: str
    model: ModelSpec
    dataset: DataSpec
    masks: MaskMixture
    optimizer: OptimizerSpec
    lora: bool
    batch_size: int
    grad_accumulation: int
    precision: Literal["fp32", "bf16"]
    steps: int
    validate_every: int
    checkpoint_every: int
    log_every: int
    validation_items: int
    seed: int
    device: str
    output: str | None
    tensorboard: bool | None
    data: Mapping[str, Any] = attrs.field(repr=False)
    source: Any = attrs.field(repr=False)

    @property
    def warmup(self) -> int:
        return self.optimizer.warmup if self.optimizer.warmup is not None else (500 if self.lora else 10000)

    @property
    def lr(self) -> float:
        return self.optimizer.lr if self.optimizer.lr is not None else (1e-4 if self.lora else 1e-3)


def _int(data: Mapping, key: str, default: int, src: SourceMap, minimum: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise src.error((key,), f"expected an integer, got {value!r}")
    if value < minimum:
        raise src.error((key,), f"must be >= {minimum}, got {value}")
    return value


def _relative(value: str | None, path: Path, src: SourceMap, *, maybe_name: bool = False) -> str | None:
    """Paths written in a recipe file are relative to the file's folder (a ``maybe_name`` value
    that is no file there stays as written: a preset or codec name)."""
    if value is None or os.path.isabs(value) or not src.from_file(path) or not os.path.exists(src.file):
        return value
    resolved = FsPath(src.file).resolve().parent / value
    if maybe_name and not resolved.exists():
        return value
    return str(resolved)


def _output(value: str | None, src: SourceMap) -> str | None:
    """The output folder; written in a (shared, untrusted) recipe file it must be a folder below
    the file's own folder (given on the command line, ``--out`` or ``--set``, it may be anywhere)."""
    if value is not None and src.from_file(("output",)):
        base = FsPath(src.file).resolve().parent if os.path.exists(src.file) else FsPath(".")
        output_path(base, value.rstrip("/\\") or "/", key="output", where=src.where(("output",)))
    return _relative(value, ("output",), src)


def train_recipe_from_data(data: Any, src: SourceMap, *, default_name: str = "train") -> TrainRecipe:
    """Validate plain data into a ``TrainRecipe``; errors name ``file:line:col`` and the key."""
    if not isinstance(data, Mapping):
        raise src.error((), f"a training recipe is a mapping of settings, got {type(data).__name__}")
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            from ..naming import did_you_mean

            raise src.error((key,), f"unknown key '{key}'{did_you_mean(str(key), TOP_LEVEL_KEYS)} "
                                    f"(known: {', '.join(TOP_LEVEL_KEYS)})", key=True)
    if "model" not in data:
        raise src.error((), "missing key 'model' (weights, checkpoint or kwargs of the model to train)")
    if "data" not in data:
        raise src.error((), "missing key 'data' (at least `data: {train: TOKEN_FOLDER}`)")
    model = section(ModelSpec, data["model"], ("model",), src)
    given = [k for k in ("weights", "checkpoint", "kwargs") if getattr(model, k) is not None]
    if len(given) != 1:
        raise src.error(("model",), "give exactly one of weights, checkpoint or kwargs"
                        + (f" (got {', '.join(given)})" if given else ""))
    if model.kwargs is not None and not isinstance(model.kwargs, Mapping):
        raise src.error(("model", "kwargs"), f"expected a mapping of constructor kwargs, got {model.kwargs!r}")
    if model.kwargs is not None:  # sizes checked now (on the meta device: no memory), not after the codec loads
        from ..errors import CheckpointError
        from ..models.vampnet import VampNet

        try:
            VampNet.from_kwargs(model.kwargs, empty=True, source="kwargs")
        except CheckpointError as exc:
            raise src.error(("model", "kwargs"), str(exc).removeprefix("kwargs: ")) from None
    if model.weights is None and model.codec is None:
        raise src.error(("model",), "missing key 'codec': a checkpoint or kwargs model needs the codec file "
                                    "its tokens come from")
    model = attrs.evolve(model, weights=_relative(model.weights, ("model", "weights"), src, maybe_name=True),
                         checkpoint=_relative(model.checkpoint, ("model", "checkpoint"), src),
                         codec=_relative(model.codec, ("model", "codec"), src, maybe_name=True))
    dataset = section(DataSpec, data["data"], ("data",), src) if isinstance(data["data"], Mapping) \
        else section(DataSpec, {"train": data["data"]}, ("data",), src)
    if dataset.validation is not None and dataset.validation_split is not None:
        raise src.error(("data",), "give validation or validation_split, not both")
    dataset = attrs.evolve(dataset, train=_relative(dataset.train, ("data", "train"), src),
                           validation=_relative(dataset.validation, ("data", "validation"), src))
    try:
        masks = build_mixture(data.get("masks", list(DEFAULT_MASKS)))
    except ParameterError as exc:
        path = tuple(exc.path) if exc.path and exc.path[0] == "masks" else ("masks",) + tuple(exc.path)
        raise src.error(path, str(exc)) from exc
    optimizer = section(OptimizerSpec, data.get("optimizer"), ("optimizer",), src)
    lora = data.get("lora", False)
    if not isinstance(lora, bool):
        raise src.error(("lora",), f"expected true or false, got {lora!r}")
    batch_size = _int(data, "batch_size", 8, src, 1)
    accumulation = _int(data, "grad_accumulation", 1, src, 1)
    if batch_size % accumulation:
        raise src.error(("grad_accumulation",), f"batch_size {batch_size} is not divisible by "
                                                f"grad_accumulation {accumulation}")
    precision = data.get("precision", "fp32")
    if precision not in ("fp32", "bf16"):
        raise src.error(("precision",), f"expected fp32 or bf16, got {precision!r}")
    steps = _int(data, "steps", 1000, src, 1)
    tensorboard = data.get("tensorboard")
    if tensorboard is not None and not isinstance(tensorboard, bool):
        raise src.error(("tensorboard",), f"expected true, false or null (when installed), got {tensorboard!r}")
    for key in ("name", "description", "device", "output"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise src.error((key,), f"expected a string, got {data[key]!r}")
    name = data.get("name", default_name)
    problem = check_name(name)
    if problem:  # the default output folder is runs/<name>
        raise src.error(("name",), problem)
    return TrainRecipe(
        name=name, description=data.get("description") or "", model=model,
        dataset=dataset, masks=masks, optimizer=optimizer, lora=lora, batch_size=batch_size,
        grad_accumulation=accumulation, precision=precision, steps=steps,
        validate_every=_int(data, "validate_every", 1000, src, 1),
        checkpoint_every=_int(data, "checkpoint_every", 1000, src, 1),
        log_every=_int(data, "log_every", 10, src, 1),
        validation_items=_int(data, "validation_items", 16, src, 0),
        seed=_int(data, "seed", 0, src, 0), device=data.get("device", "auto"),
        output=_output(data.get("output"), src), tensorboard=tensorboard,
        data=copy.deepcopy(dict(data)), source=src,
    )


def loads_train_recipe(text: str, *, file: str = "<train recipe>",
                       overrides: Iterable[str | tuple[Path, Any]] = (), default_name: str = "train") -> TrainRecipe:
    """A training recipe from YAML text (``file`` names it in errors)."""
    data, src = parse_yaml(text, file)
    if not isinstance(data, dict):
        raise src.error((), f"a training recipe is a mapping of settings, got {type(data).__name__}")
    apply_overrides(data, src, overrides)
    return train_recipe_from_data(data, src, default_name=default_name)


def load_train_recipe(path: str | os.PathLike,
                      overrides: Iterable[str | tuple[Path, Any]] = ()) -> TrainRecipe:
    """Load and validate a training recipe file, with ``--set`` overrides."""
    file = FsPath(path)
    return loads_train_recipe(read_text(file, "training recipe"), file=str(file), overrides=overrides,
                              default_name=file.stem)
