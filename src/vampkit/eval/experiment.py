"""Experiment files: a data set, labelled conditions (recipes or inline masks, sweeps,
baselines) and metrics. YAML read by the recipe loader, so every error is ``file:line:col``.

Each condition is validated into a ``Recipe`` (mask, sampling, c2f, analysis) before any
model loads; a sweep expands to one condition per point.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.resources
import itertools
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path as FsPath
from typing import Any

import attrs

from ..paths import show
from ..errors import ParameterError, RecipeError, UnknownNameError, VampkitError
from ..recipes.loader import (
    SourceMap,
    clip,
    read_text,
    check_mapping,
    expect_type,
    relative_to_file,
    unknown_key_error,
    parse_weights,
    apply_overrides,
    key_path,
    load_recipe,
    parse_yaml,
    recipe_from_data,
    set_path,
)
from ..recipes.schema import Recipe, WeightsSpec
from .metrics import DEFAULT_METRICS, build_metric, metric_label

TOP_LEVEL_KEYS = ("name", "description", "data", "weights", "seed", "device", "metrics", "conditions")
DATA_KEYS = ("files", "excerpt", "count", "per_file", "seed")
CONDITION_KEYS = ("label", "family", "baseline", "recipe", "mask", "sampling", "c2f", "analysis", "sweep", "trim")
RECIPE_KEYS = ("mask", "sampling", "c2f", "analysis")
#: original: the reference itself; reconstructed: codec encode -> decode; coarse2fine: keep the
#: c2f model's conditioning codebooks, regenerate the fine ones
BASELINES = ("original", "reconstructed", "coarse2fine")


def _shipped_dir() -> FsPath:
    """The shipped grids: package data of ``vampkit.eval`` (``shipped/*.yaml``; ``experiments/``
    in a checkout links to them), found as the shipped recipes are."""
    return FsPath(str(importlib.resources.files(__package__) / "shipped"))


SHIPPED_DIR = _shipped_dir()


@attrs.frozen
class DataSpec:
    """Which excerpts: files (a glob inside the data folder), excerpt seconds, how many, seed."""

    files: str = "*"
    excerpt: float = 10.0
    count: int = 2000
    per_file: int = 1
    seed: int = 0


@attrs.frozen(eq=False)
class Condition:
    """One evaluated condition: a baseline or a validated recipe, its label and family."""

    label: str
    family: str
    baseline: str | None
    recipe: Recipe | None
    trim: float = 0.0
    point: Mapping[str, Any] = attrs.field(factory=dict)
    where: str | None = None  # ``file:line:col`` of the label (named by output-path errors)

    @property
    def steps(self) -> int | None:
        """Coarse sampling steps (None for baselines without sampling)."""
        return self.recipe.sampling.steps if self.recipe is not None and self.baseline is None else None

    @property
    def needs_model(self) -> bool:
        return self.baseline not in ("original", "reconstructed")

    def describe(self) -> dict[str, Any]:
        """What determines this condition's outputs (its cache identity and JSON summary)."""
        out: dict[str, Any] = {"baseline": self.baseline, "trim": self.trim}
        if self.recipe is not None:
            out.update(mask=self.recipe.data.get("mask"), sampling=attrs.asdict(self.recipe.sampling),
                       c2f=attrs.asdict(self.recipe.c2f), analysis=dict(self.recipe.analysis))
        return out

    @property
    def fingerprint(self) -> str:
        text = json.dumps(self.describe(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@attrs.frozen(eq=False)
class Experiment:
    """A validated experiment file."""

    name: str
    description: str
    path: str
    data: DataSpec
    weights: WeightsSpec
    seed: int
    device: str
    metrics: tuple[Any, ...]
    conditions: tuple[Condition, ...]

    @property
    def metric_labels(self) -> tuple[str, ...]:
        return tuple(metric_label(m) for m in self.metrics)


# -- loading -------------------------------------------------------------------------------
def resolve_experiment_path(name_or_path: str | os.PathLike) -> FsPath:
    """An experiment file, or the name of a shipped one (``compression``)."""
    path = FsPath(name_or_path)
    if os.path.exists(path):
        return path
    shipped = SHIPPED_DIR / (path.name if path.suffix else f"{path.name}.yaml")
    if len(path.parts) == 1 and os.path.exists(shipped):
        return shipped
    known = sorted(p.stem for p in SHIPPED_DIR.glob("*.yaml")) if SHIPPED_DIR.is_dir() else []
    raise RecipeError(f"{clip(show(str(name_or_path)), 120)}: no such experiment file"
                      + (f" (shipped experiments: {', '.join(known)})" if known else ""))


def load_experiment(path: str | os.PathLike, overrides: Iterable[str] = ()) -> Experiment:
    """Load and validate an experiment file (``--set key=value`` overrides applied first)."""
    file = resolve_experiment_path(path)
    return loads_experiment(read_text(file, "experiment"), file=str(path) if os.path.exists(path) else str(file),
                            overrides=overrides, default_name=file.stem)


def loads_experiment(text: str, *, file: str = "<experiment>", overrides: Iterable[str] = (),
                     default_name: str = "experiment") -> Experiment:
    """An experiment from YAML text (``file`` names it in errors)."""
    data, src = parse_yaml(text, file)
    if not isinstance(data, dict):
        raise src.error((), f"an experiment is a mapping of settings, got {type(data).__name__}")
    apply_overrides(data, src, overrides)
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise unknown_key_error(key, TOP_LEVEL_KEYS, (), src)
    name = _text(data.get("name", default_name), ("name",), src)
    description = expect_type(data.get("description") or "", ("description",), src, str, "a string")
    seed = expect_type(data.get("seed", 0), ("seed",), src, int, "an integer")
    device = expect_type(data.get("device", "auto"), ("device",), src, str, "a device name")
    metrics = _metrics(data.get("metrics"), src)
    conditions = _conditions(data.get("conditions"), src)
    return Experiment(name=name, description=description, path=file, data=_data(data.get("data"), src),
                      weights=parse_weights(data.get("weights"), src), seed=seed, device=device,
                      metrics=metrics, conditions=conditions)


def _data(value: Any, src: SourceMap) -> DataSpec:
    data = check_mapping(value, ("data",), src, "data set settings")
    for key in data:
        if key not in DATA_KEYS:
            raise unknown_key_error(key, DATA_KEYS, ("data",), src)
    spec = DataSpec()
    files = expect_type(data.get("files", spec.files), ("data", "files"), src, str, "a glob inside the data folder")
    excerpt = expect_type(data.get("excerpt", spec.excerpt), ("data", "excerpt"), src, (int, float), "seconds")
    if not excerpt > 0:
        raise src.error(("data", "excerpt"), f"must be > 0 seconds, got {excerpt}")
    counts = {}
    for key in ("count", "per_file"):
        counts[key] = expect_type(data.get(key, getattr(spec, key)), ("data", key), src, int, "an integer")
        if counts[key] < 1:
            raise src.error(("data", key), f"must be >= 1, got {counts[key]}")
    seed = expect_type(data.get("seed", spec.seed), ("data", "seed"), src, int, "an integer")
    return DataSpec(files=files, excerpt=float(excerpt), seed=seed, **counts)


def _metrics(value: Any, src: SourceMap) -> tuple[Any, ...]:
    items = list(DEFAULT_METRICS) if value is None else value
    expect_type(items, ("metrics",), src, list, "a list of metric names")
    metrics, labels = [], set()
    for i, item in enumerate(items):
        try:
            metric = build_metric(item, ("metrics", i))
        except ParameterError as exc:
            raise src.error(exc.path or ("metrics", i), str(exc)) from exc
        except UnknownNameError as exc:
            raise src.error(("metrics", i), str(exc)) from exc
        label = metric_label(metric)
        if label in labels:
            raise src.error(("metrics", i), f"metric '{label}' is listed twice")
        labels.add(label)
        metrics.append(metric)
    return tuple(metrics)


def _conditions(value: Any, src: SourceMap) -> tuple[Condition, ...]:
    if value is None:
        raise src.error((), "missing key 'conditions' (a list of labelled recipes, masks or baselines)")
    expect_type(value, ("conditions",), src, list, "a list of conditions")
    if not value:
        raise src.error(("conditions",), "the list of conditions is empty")
    out: list[Condition] = []
    seen: dict[str, tuple] = {}
    for i, item in enumerate(value):
        path = ("conditions", i)
        for condition in _condition(item, path, src):
            if condition.label in seen:
                raise src.error(path, f"two conditions are labelled '{condition.label}' "
                                      f"(the other at {src.where(seen[condition.label])}); give each a unique label")
            seen[condition.label] = path
            out.append(condition)
    return tuple(out)


def _condition(item: Any, path: tuple, src: SourceMap) -> list[Condition]:
    data = check_mapping(item, path, src, "condition settings")
    for key in data:
        if key not in CONDITION_KEYS:
            raise unknown_key_error(key, CONDITION_KEYS, path, src)
    trim = expect_type(data.get("trim", 0.0), path + ("trim",), src, (int, float), "seconds")
    if trim < 0:
        raise src.error(path + ("trim",), f"must be >= 0 seconds, got {trim}")
    baseline = data.get("baseline")
    if baseline is not None:
        expect_type(baseline, path + ("baseline",), src, str, "a baseline name")
        if baseline not in BASELINES:
            raise src.error(path + ("baseline",), f"unknown baseline '{baseline}' (known: {', '.join(BASELINES)})")
        extra = [k for k in data if k in ("recipe", "mask", "sweep")]
        if extra:
            raise src.error(path + (extra[0],), f"a baseline condition takes no '{extra[0]}'", key=True)
    label = data.get("label", baseline)
    if label is None:
        raise src.error(path, "missing key 'label' (each condition needs a label for the table)")
    _text(label, path + ("label",), src)
    family = _text(data.get("family", _family_of(label)), path + ("family",), src)
    points = _sweep_points(data.get("sweep"), path + ("sweep",), src)
    where = src.where(path + ("label",) if "label" in data else path)
    conditions = []
    for point in points:
        recipe = _condition_recipe(data, baseline, point, path, src)
        conditions.append(Condition(label=_text(_point_label(label, point), path + ("label",), src), family=family,
                                    baseline=baseline, recipe=recipe, trim=float(trim), point=dict(point),
                                    where=where))
    return conditions


#: characters in a name or label (they name files, table rows and plot lines)
MAX_LABEL = 200


def _text(value: Any, path: tuple, src: SourceMap) -> str:
    """A name, label or family: a string without NUL, control characters or lone surrogates, at
    most ``MAX_LABEL`` characters (file names made from it are sanitised separately)."""
    expect_type(value, path, src, str, "a string")
    if any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise src.error(path, f"{show(value[:40])} contains a NUL, control character or lone surrogate")
    if len(value) > MAX_LABEL:
        raise src.error(path, f"is {len(value)} characters long (at most {MAX_LABEL})")
    return value


def _family_of(label: str) -> str:
    """A sweep's family (one line in the plots) defaults to its label template."""
    return label


def _sweep_points(value: Any, path: tuple, src: SourceMap) -> list[dict[str, Any]]:
    """``{key: [values]}`` (every combination) or a list of ``{key: value}`` points."""
    if value is None:
        return [{}]
    if isinstance(value, Mapping):
        if not value:
            raise src.error(path, "the sweep is empty")
        for key, values in value.items():
            _check_sweep_key(key, path, src)
            if not isinstance(values, list) or not values:
                raise src.error(path + (key,), f"expected a non-empty list of values, got {values!r}")
        keys = list(value)
        return [dict(zip(keys, combo)) for combo in itertools.product(*(value[k] for k in keys))]
    if isinstance(value, list) and value:
        for i, point in enumerate(value):
            if not isinstance(point, Mapping) or not point:
                raise src.error(path + (i,), f"a sweep point is a mapping of key: value, got {point!r}")
            for key in point:
                _check_sweep_key(key, path + (i,), src)
        return [dict(p) for p in value]
    raise src.error(path, f"a sweep is a mapping of key: [values] or a list of points, got {value!r}")


def _check_sweep_key(key: Any, path: tuple, src: SourceMap) -> None:
    if not isinstance(key, str) or key_path(key)[0] not in RECIPE_KEYS:
        raise src.error(path + (key,), f"sweep key '{key}' must start with one of {', '.join(RECIPE_KEYS)} "
                                       "(e.g. sampling.steps or mask.periodic.period)", key=True)


def _point_label(label: str, point: Mapping[str, Any]) -> str:
    """The label of a sweep point: ``{name}`` fields filled with the last part of each key,
    else the point appended (``periodic steps=12``)."""
    if not point:
        return label
    fields = {str(k).split(".")[-1]: v for k, v in point.items()}
    if "{" in label:
        try:
            return label.format(**fields)
        except (KeyError, IndexError, ValueError):
            pass
    return f"{label} " + " ".join(f"{k}={v}" for k, v in fields.items())


def _condition_recipe(data: dict, baseline: str | None, point: Mapping[str, Any], path: tuple,
                      src: SourceMap) -> Recipe | None:
    """The condition's recipe, validated with errors pointing into the experiment file."""
    if baseline in ("original", "reconstructed"):
        return None
    base: dict[str, Any] = {}
    if "recipe" in data:
        name = expect_type(data["recipe"], path + ("recipe",), src, str, "a recipe name or path")
        target = relative_to_file(name, path + ("recipe",), src) if (os.sep in name or name.endswith(".yaml")) else name
        try:
            loaded = load_recipe(target)
        except VampkitError as exc:
            raise RecipeError(f"{src.where(path + ('recipe',))}: recipe: {exc}") from exc
        base = {k: copy.deepcopy(loaded.data[k]) for k in RECIPE_KEYS if k in loaded.data}
    if baseline == "coarse2fine":
        base["mask"] = {"codebooks": {"keep": 4}}  # re-pointed to the c2f model's count at run time
    sub = SourceMap(src.file)
    sub.positions[()] = src.positions.get(path, (1, 1))
    for table, target_table in ((src.positions, sub.positions), (src.key_positions, sub.key_positions)):
        for p, mark in table.items():
            if p[: len(path)] == path and len(p) > len(path) and p[len(path)] in RECIPE_KEYS:
                target_table[p[len(path):]] = mark
    recipe_data: dict[str, Any] = {"name": "condition"}
    recipe_data.update(base)
    for key in RECIPE_KEYS:
        if key in data:
            value = copy.deepcopy(data[key])
            if key in ("sampling", "c2f") and isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
                value = {**base[key], **value}  # sampling overrides on top of the recipe's
            recipe_data[key] = value
    for key, value in point.items():
        kp = key_path(key)
        set_path(recipe_data, kp, copy.deepcopy(value), f"{src.where(path + ('sweep',))}: sweep {clip(str(key), 80)}")
        for table in (sub.positions, sub.key_positions):
            for p in [p for p in table if p[: len(kp)] == kp]:
                del table[p]
        where = src.where(path + ("sweep", key)) if (path + ("sweep", key)) in src.positions else src.where(path + ("sweep",))
        sub.overrides[kp] = f"{where}: sweep {clip(str(key), 80)}={clip(repr(value), 80)}"
    try:
        return recipe_from_data(recipe_data, sub, default_name="condition")
    except RecipeError:
        raise
    except VampkitError as exc:
        raise RecipeError(f"{src.where(path)}: {exc}") from exc

