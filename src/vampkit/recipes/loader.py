"""Recipe files: YAML with ``safe_load`` semantics, every node's line:column kept for errors.

Every problem is a ``RecipeError`` that starts with where it is and which key:
``recipes/x.yaml:12:5: sampling.temperature: expected a number, got 'hot'``. Values set on
the command line (``--set a.b=value``, parsed as YAML scalars) are named by that option.
"""

from __future__ import annotations

import copy
import importlib.resources
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path as FsPath
from typing import Any

import attrs
import yaml

from .. import plugins
from ..errors import ParameterError, RecipeError, UnknownNameError
from ..masks import build_mask_generator
from ..naming import did_you_mean
from ..params import _type_problem, build, resolved_fields
from ..sampling.pipeline import DEFAULT_C2F_SETTINGS
from ..sampling.settings import SamplingSettings
from .schema import (
    DEFAULT_PIPELINE,
    TEMPLATE_FIELDS,
    OutputSpec,
    Path,
    Recipe,
    StageSpec,
    WeightsSpec,
)

TOP_LEVEL_KEYS = ("name", "description", "weights", "input", "output", "seed", "variations",
                  "device", "mask", "sampling", "c2f", "analysis", "pipeline")
WEIGHT_KEYS = ("coarse", "c2f", "codec")
LORA_KEYS = ("coarse_lora", "c2f_lora")  # LoRA-only files (vampkit train's lora.pth) on top
ANALYSIS_KEYS = ("beat_tracker", "onset_detector", "options", "cache")  # vampkit.analysis.analyses_for


def _shipped_dir() -> FsPath:
    """The shipped recipes: package data of ``vampkit.recipes`` (``shipped/*.yaml``), found with
    ``importlib.resources`` so that checkouts, editable installs and wheels read the same files."""
    return FsPath(str(importlib.resources.files(__package__) / "shipped"))


SHIPPED_DIR = _shipped_dir()


def dotted(path: Iterable[Any]) -> str:
    return ".".join(str(p) for p in path)


@attrs.define
class SourceMap:
    """Where each value of a recipe came from: file line:column, or a ``--set`` option."""

    file: str
    positions: dict[Path, tuple[int, int]] = attrs.field(factory=dict)
    key_positions: dict[Path, tuple[int, int]] = attrs.field(factory=dict)
    overrides: dict[Path, str] = attrs.field(factory=dict)

    def where(self, path: Path, *, key: bool = False) -> str:
        """``file:line:col`` of the value (or its key) at ``path``, else of its nearest parent."""
        for n in range(len(path), -1, -1):
            prefix = tuple(path[:n])
            if prefix in self.overrides:
                return self.overrides[prefix]
            table = self.key_positions if key and n == len(path) and prefix in self.key_positions else self.positions
            if prefix in table:
                line, col = table[prefix]
                return f"{self.file}:{line}:{col}"
        return f"{self.file}:1:1"

    def from_file(self, path: Path) -> bool:
        """True when the value at ``path`` was written in the file, not set by an override."""
        return not any(tuple(path[:n]) in self.overrides for n in range(len(path) + 1))

    def error(self, path: Path, message: str, *, key: bool = False) -> RecipeError:
        label = f" {dotted(path)}:" if path else ""
        return RecipeError(f"{self.where(path, key=key)}:{label} {message}")

    def copy(self) -> "SourceMap":
        return SourceMap(self.file, dict(self.positions), dict(self.key_positions), dict(self.overrides))


# -- YAML with positions -------------------------------------------------------------------
def parse_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Plain data (as ``yaml.safe_load`` builds it) and the position of every key and value."""
    src = SourceMap(file)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        problem = getattr(exc, "problem", None) or str(exc)
        raise RecipeError(f"{where}: invalid YAML: {problem}") from exc
    if node is None:
        raise RecipeError(f"{file}:1:1: the recipe is empty")
    constructor = yaml.SafeLoader("")
    return _construct(node, (), src, constructor), src


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _construct(node: yaml.Node, path: Path, src: SourceMap, constructor: yaml.SafeLoader) -> Any:
    src.positions.setdefault(path, _mark(node))
    if isinstance(node, yaml.MappingNode):
        constructor.flatten_mapping(node)  # YAML merge keys (<<), as safe_load does
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise RecipeError(f"{src.file}:{_mark(key_node)[0]}:{_mark(key_node)[1]}: "
                                  f"{dotted(path) or 'recipe'}: keys must be plain scalars")
            if key in out:
                line, col = _mark(key_node)
                raise RecipeError(f"{src.file}:{line}:{col}: {dotted(path + (key,))}: duplicate key")
            src.key_positions[path + (key,)] = _mark(key_node)
            out[key] = _construct(value_node, path + (key,), src, constructor)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, path + (i,), src, constructor) for i, item in enumerate(node.value)]
    try:
        return constructor.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        line, col = _mark(node)
        raise RecipeError(f"{src.file}:{line}:{col}: {dotted(path)}: {exc}") from exc


# -- overrides -----------------------------------------------------------------------------
def key_path(key: str) -> Path:
    """``"mask.all-of.0.period"`` -> ``("mask", "all-of", 0, "period")``."""
    return tuple(int(p) if p.isdigit() else p for p in key.strip().split("."))


def parse_override(text: str) -> tuple[Path, Any]:
    """``a.b.0.c=value`` -> (path, value); the value is read as a YAML scalar or flow list."""
    if "=" not in text:
        raise RecipeError(f"--set {text}: expected KEY=VALUE (e.g. sampling.temperature=0.8)")
    key, raw = text.split("=", 1)
    parts = key_path(key)
    if not key.strip() or any(p == "" for p in parts):
        raise RecipeError(f"--set {text}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw  # not YAML (e.g. a template "{stem}.wav"): the text itself
    if isinstance(value, str):
        try:  # YAML 1.1 reads "1e-05" as a string; on a command line it is a number
            value = float(value) if value.strip().lower() not in ("nan", "inf", "-inf", "infinity") else value
        except ValueError:
            pass
    return parts, value


def set_path(data: dict, path: Path, value: Any, label: str) -> None:
    """Set ``value`` at ``path`` inside nested dicts/lists, creating missing mappings."""
    target: Any = data
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(target, list):
            if not isinstance(part, int) or not -len(target) <= part < len(target):
                raise RecipeError(f"{label}: {dotted(path[: i + 1])}: no item {part} in a list of {len(target)}")
        elif isinstance(target, dict):
            if isinstance(part, int) and part not in target and str(part) in target:
                part = str(part)
            if not last and not isinstance(target.get(part), (dict, list)):
                target[part] = {}
        else:
            raise RecipeError(f"{label}: {dotted(path[:i])} is a {type(target).__name__}, not a mapping")
        if last:
            target[part] = value
        else:
            target = target[part]


def apply_overrides(data: dict, src: SourceMap, overrides: Iterable[str | tuple[Path, Any]]) -> None:
    for item in overrides:
        if isinstance(item, str):
            path, value = parse_override(item)
            label = f"--set {item}"
        else:
            path, value = tuple(item[0]), item[1]
            label = f"{dotted(path)}={value!r}"
        set_path(data, path, value, label)
        src.overrides[path] = label
        # forget positions below an overridden key: they describe the old value
        for table in (src.positions, src.key_positions):
            for p in [p for p in table if p[: len(path)] == path and len(p) > len(path)]:
                del table[p]


# -- validation ----------------------------------------------------------------------------
def _check_mapping(value: Any, path: Path, src: SourceMap, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise src.error(path, f"expected a mapping of {what}, got {value!r}")
    return dict(value)


def _unknown_key(key: Any, known: Sequence[str], path: Path, src: SourceMap) -> RecipeError:
    hint = did_you_mean(str(key), known)
    return src.error(path + (key,), f"unknown key '{key}'{hint} (known: {', '.join(known)})", key=True)


def _section(cls: type, value: Any, path: Path, src: SourceMap, base: Any = None) -> Any:
    """Build a typed section (``sampling``, ``output``...) naming the offending key on error."""
    data = _check_mapping(value, path, src, "settings")
    fields = {f.name: f for f in resolved_fields(cls)}
    for key in data:
        if key not in fields:
            raise _unknown_key(key, list(fields), path, src)
    values = {}
    for name, raw in data.items():
        field = fields[name]
        if field.type is float and isinstance(raw, int) and not isinstance(raw, bool):
            raw = float(raw)
        if field.type == (float | None) and isinstance(raw, int) and not isinstance(raw, bool):
            raw = float(raw)
        problem = _type_problem(field.type, raw)
        if problem:
            raise src.error(path + (name,), problem)
        if field.validator is not None:
            try:
                field.validator(None, field, raw)
            except (ValueError, ParameterError) as exc:
                message = str(exc).split(f"{name}: ", 1)[-1] if isinstance(exc, ParameterError) else str(exc)
                raise src.error(path + (name,), message) from exc
        values[name] = raw
    return attrs.evolve(base, **values) if base is not None else cls(**values)


def _expect(value: Any, path: Path, src: SourceMap, kind: type | tuple, label: str) -> Any:
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise src.error(path, f"expected {label}, got {value!r}")
    if not isinstance(value, kind):
        raise src.error(path, f"expected {label}, got {value!r}")
    return value


def _relative(value: str, path: Path, src: SourceMap) -> str:
    """Relative paths written in a recipe file are relative to that file's folder."""
    if src.from_file(path) and not os.path.isabs(value) and os.path.exists(src.file):
        return str(FsPath(src.file).resolve().parent / value)
    return value


def _weights(value: Any, src: SourceMap) -> WeightsSpec:
    path: Path = ("weights",)
    if value is None:
        return WeightsSpec()
    if isinstance(value, str):
        return WeightsSpec(preset=value)
    data = _check_mapping(value, path, src, "checkpoint paths (coarse, c2f, codec) or a preset, and LoRA files")
    for key in data:
        if key not in WEIGHT_KEYS + LORA_KEYS + ("preset",):
            raise _unknown_key(key, WEIGHT_KEYS + LORA_KEYS + ("preset",), path, src)
    lora = {k: _relative(_expect(data[k], path + (k,), src, str, "a LoRA file path"), path + (k,), src)
            for k in LORA_KEYS if k in data}
    if "preset" in data:
        extra = [k for k in WEIGHT_KEYS if k in data]
        if extra:
            raise src.error(path + (extra[0],), "give a preset or checkpoint paths, not both", key=True)
        return WeightsSpec(preset=_expect(data["preset"], path + ("preset",), src, str, "a preset name"), **lora)
    for key in WEIGHT_KEYS:
        if key not in data:
            raise src.error(path, f"missing key '{key}' (explicit weights need coarse, c2f and codec paths)")
        _expect(data[key], path + (key,), src, str, "a file path")
    return WeightsSpec(preset=None, **{k: _relative(data[k], path + (k,), src) for k in WEIGHT_KEYS}, **lora)


def _inputs(value: Any, src: SourceMap) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (_relative(value, ("input",), src),)
    _expect(value, ("input",), src, list, "a file, glob or folder, or a list of them")
    return tuple(_relative(_expect(v, ("input", i), src, str, "a file path or glob"), ("input", i), src)
                 for i, v in enumerate(value))


def _template(spec: OutputSpec, src: SourceMap) -> None:
    import string

    try:
        names = [f for _, f, _, _ in string.Formatter().parse(spec.template) if f is not None]
    except ValueError as exc:
        raise src.error(("output", "template"), f"bad template: {exc}") from exc
    for name in names:
        if name not in TEMPLATE_FIELDS:
            raise src.error(("output", "template"),
                            f"unknown field '{{{name}}}'{did_you_mean(name, TEMPLATE_FIELDS)}"
                            f" (fields: {', '.join(TEMPLATE_FIELDS)})")


def _mask(value: Any, src: SourceMap, pipeline: tuple[StageSpec, ...]) -> Any:
    if value is None:
        users = [s.name for s in pipeline if getattr(s.stage, "needs_mask", False)]
        if not users:
            return None
        raise src.error(("mask",), f"missing: the stage '{users[0]}' needs a mask "
                                   "(e.g. `mask: {periodic: {period: 7}}`)")
    try:
        return build_mask_generator(value, ("mask",))
    except ParameterError as exc:
        path = tuple(exc.path) if exc.path and exc.path[0] == "mask" else ("mask",) + tuple(exc.path)
        raise src.error(path, str(exc), key=_names_key(str(exc))) from exc


def _names_key(message: str) -> bool:
    return message.startswith("unknown") or "unknown parameter" in message or "unknown mask" in message


def _pipeline(value: Any, src: SourceMap) -> tuple[StageSpec, ...]:
    items = list(DEFAULT_PIPELINE) if value is None else value
    _expect(items, ("pipeline",), src, list, "a list of stages")
    if not items:
        raise src.error(("pipeline",), "the pipeline is empty")
    stages = []
    for i, item in enumerate(items):
        path: Path = ("pipeline", i)
        if isinstance(item, str):
            name, params = item, {}
        elif isinstance(item, Mapping) and len(item) == 1:
            ((name, params),) = item.items()
            path = path + (name,)
            params = _check_mapping(params, path, src, "stage parameters")
        else:
            raise src.error(path, f"a stage is a name or a one-key mapping {{name: parameters}}, got {item!r}")
        try:
            cls = plugins.get("stages", str(name))
        except UnknownNameError as exc:
            raise src.error(path, str(exc), key=isinstance(item, Mapping)) from exc
        try:
            stage = build(cls, params, path=path)
        except ParameterError as exc:
            raise src.error(tuple(exc.path) or path, str(exc), key=_names_key(str(exc))) from exc
        stages.append(StageSpec(str(name), params, stage, path))
    return tuple(stages)


def recipe_from_data(data: Any, src: SourceMap, *, default_name: str = "recipe") -> Recipe:
    """Validate plain recipe data into a ``Recipe``; errors point at the offending key."""
    if not isinstance(data, Mapping):
        raise src.error((), f"a recipe is a mapping of settings, got {type(data).__name__}")
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise _unknown_key(key, TOP_LEVEL_KEYS, (), src)
    name = _expect(data.get("name", default_name), ("name",), src, str, "a string")
    description = _expect(data.get("description") or "", ("description",), src, str, "a string")
    seed = _expect(data.get("seed", 0), ("seed",), src, int, "an integer")
    variations = _expect(data.get("variations", 1), ("variations",), src, int, "an integer")
    if variations < 1:
        raise src.error(("variations",), f"must be >= 1, got {variations}")
    device = _expect(data.get("device", "auto"), ("device",), src, str, "a device name (auto, cpu, cuda, mps)")
    output = _section(OutputSpec, data.get("output"), ("output",), src)
    _template(output, src)
    sampling = _section(SamplingSettings, data.get("sampling"), ("sampling",), src)
    c2f = _section(SamplingSettings, data.get("c2f"), ("c2f",), src, base=DEFAULT_C2F_SETTINGS)
    analysis = _check_mapping(data.get("analysis"), ("analysis",), src, "analysis options")
    for key in analysis:
        if key not in ANALYSIS_KEYS:
            raise _unknown_key(key, ANALYSIS_KEYS, ("analysis",), src)
    pipeline = _pipeline(data.get("pipeline"), src)
    recipe = Recipe(
        name=name, description=description, weights=_weights(data.get("weights"), src),
        inputs=_inputs(data.get("input"), src), output=output, seed=seed, variations=variations,
        device=device, mask=_mask(data.get("mask"), src, pipeline), sampling=sampling, c2f=c2f,
        analysis=analysis, pipeline=pipeline,
        data=copy.deepcopy(dict(data)), source=src,
    )
    for spec in recipe.pipeline:
        check = getattr(spec.stage, "check_recipe", None)
        if check is not None:
            check(recipe, spec)
    return recipe


# -- entry points --------------------------------------------------------------------------
def resolve_recipe_path(name_or_path: str | os.PathLike) -> FsPath:
    """A recipe file path, or the name of a shipped recipe (``loop-variation``)."""
    path = FsPath(name_or_path)
    if path.exists():
        return path
    shipped = SHIPPED_DIR / f"{path.name}.yaml" if path.suffix == "" else SHIPPED_DIR / path.name
    if shipped.exists() and len(path.parts) == 1:
        return shipped
    known = shipped_recipes()
    hint = did_you_mean(path.stem, known) if len(path.parts) == 1 else ""
    raise RecipeError(f"{name_or_path}: no such recipe file{hint}"
                      + (f" (shipped recipes: {', '.join(known)})" if known else ""))


def shipped_recipes() -> list[str]:
    return sorted(p.stem for p in SHIPPED_DIR.glob("*.yaml")) if SHIPPED_DIR.is_dir() else []


def loads_recipe(text: str, *, file: str = "<recipe>", overrides: Iterable[str | tuple[Path, Any]] = (),
                 default_name: str = "recipe") -> Recipe:
    """A recipe from YAML text (``file`` names it in errors)."""
    data, src = parse_yaml(text, file)
    if not isinstance(data, dict):
        raise src.error((), f"a recipe is a mapping of settings, got {type(data).__name__}")
    apply_overrides(data, src, overrides)
    return recipe_from_data(data, src, default_name=default_name)


def load_recipe(path: str | os.PathLike, overrides: Iterable[str | tuple[Path, Any]] = ()) -> Recipe:
    """Load and validate a recipe file (or a shipped recipe by name), with ``--set`` overrides."""
    file = resolve_recipe_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"{file}: cannot read the recipe: {exc}") from exc
    return loads_recipe(text, file=str(path) if FsPath(path).exists() else str(file),
                        overrides=overrides, default_name=file.stem)


def override(recipe: Recipe, assignments: Iterable[str | tuple[Path, Any]]) -> Recipe:
    """A new recipe with values replaced (``"a.b=1"`` or ``(("a", "b"), 1)``), re-validated."""
    data = copy.deepcopy(dict(recipe.data))
    src = recipe.source.copy()
    apply_overrides(data, src, assignments)
    return recipe_from_data(data, src, default_name=recipe.name)
