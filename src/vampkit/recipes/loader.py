"""Recipe files: YAML with ``safe_load`` semantics, every node's line:column kept for errors.

Every problem is a ``RecipeError`` that starts with where it is and which key:
``recipes/x.yaml:12:5: sampling.temperature: expected a number, got 'hot'``. Values set on
the command line (``--set a.b=value``, parsed as YAML scalars) are named by that option.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.resources
import os
import re
import string
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path as FsPath
from typing import Any

import attrs
import yaml

from .. import plugins
from ..errors import ParameterError, RecipeError, UnknownNameError
from ..masks import build_mask_generator
from ..naming import did_you_mean
from ..params import build, resolved_fields
from ..sampling.pipeline import DEFAULT_C2F_SETTINGS
from ..sampling.settings import SamplingSettings
from ..validators import short_repr
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
                  "device", "precision", "compile", "mask", "sampling", "c2f", "analysis", "pipeline")
PRECISIONS = ("fp32", "bf16", "fp16", "auto")  # vampkit.precision.PRECISIONS
WEIGHT_KEYS = ("coarse", "c2f", "codec")
LORA_KEYS = ("coarse_lora", "c2f_lora")  # LoRA-only files (vampkit train's lora.pth) on top
ANALYSIS_KEYS = ("beat_tracker", "onset_detector", "options", "cache")  # vampkit.analysis.analyses_for


def _shipped_dir() -> FsPath:
    """The shipped recipes: package data of ``vampkit.recipes`` (``shipped/*.yaml``), found with
    ``importlib.resources`` so that checkouts, editable installs and wheels read the same files."""
    return FsPath(str(importlib.resources.files(__package__) / "shipped"))


SHIPPED_DIR = _shipped_dir()


#: longest problem text one error message shows, and longest key path (a message has both)
MAX_SHOWN_CHARS = 300
MAX_SHOWN_KEY_CHARS = 150


def clean(text: str) -> str:
    """Text that any terminal can print: lone surrogates and control characters escaped."""
    if text.isprintable():
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text).encode(
        "utf-8", "backslashreplace").decode("utf-8")


def clip(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    """Untrusted text cut to ``limit`` characters for a message (keys can be any length)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
        """A ``RecipeError`` at ``path``: ``file:line:col: dotted.key: message``."""
        where, name, message = clean(self.where(path, key=key)), clean(dotted(path)), clean(message)
        name, message = clip(name, MAX_SHOWN_KEY_CHARS), clip(message)  # untrusted: must not flood the terminal
        return RecipeError(f"{where}: {name + ': ' if name else ''}{message}", where=where, key=name,
                           problem=message)

    def copy(self) -> SourceMap:
        return SourceMap(self.file, dict(self.positions), dict(self.key_positions), dict(self.overrides))


# -- YAML with positions -------------------------------------------------------------------
#: a recipe file is at most this many characters (shipped recipes are under 2,000)
MAX_RECIPE_CHARS = 256 * 1024
#: YAML collections may nest this deep (aliases included); deeper is refused, never a RecursionError
MAX_YAML_DEPTH = 64
#: values a recipe may hold once aliases are expanded; more is refused (an alias bomb)
MAX_YAML_NODES = 20_000

MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"
MERGE_TAG = "tag:yaml.org,2002:merge"


class _YamlProblem(Exception):  # noqa: N818 - internal signal, never shown as such
    """A problem at a YAML node, before the file name is known to the message."""

    def __init__(self, mark: tuple[int, int] | None, path: Path, problem: str) -> None:
        super().__init__(problem)
        self.mark, self.path, self.problem = mark, path, problem


class _DepthLimitedLoader(yaml.SafeLoader):
    """``SafeLoader`` whose composer refuses collections nested deeper than ``MAX_YAML_DEPTH``
    (PyYAML's composer recurses once per level)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _compose(text: str) -> yaml.Node | None:
    """The node graph of one YAML document (aliases are shared nodes, not copies)."""
    if len(text) > MAX_RECIPE_CHARS:
        raise _YamlProblem((1, 1), (), f"the recipe is longer than {MAX_RECIPE_CHARS} characters")
    loader = None
    try:
        loader = _DepthLimitedLoader(text)  # its reader checks the characters here
        return loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise _YamlProblem(_mark_of(mark), (), f"invalid YAML: {problem}") from exc
    except yaml.YAMLError as exc:  # the reader: characters YAML does not allow
        raise _YamlProblem(_reader_mark(exc, text), (), f"invalid YAML: {_reader_problem(exc)}") from exc
    except RecursionError as exc:  # a safety net under MAX_YAML_DEPTH
        raise _YamlProblem((1, 1), (), "invalid YAML: nested too deeply") from exc
    finally:
        if loader is not None:
            loader.dispose()


def _mark_of(mark: Any) -> tuple[int, int] | None:
    return (mark.line + 1, mark.column + 1) if mark is not None else None


def _reader_mark(exc: yaml.YAMLError, text: str) -> tuple[int, int] | None:
    position = getattr(exc, "position", None)
    if not isinstance(position, int):
        return None
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


def _reader_problem(exc: yaml.YAMLError) -> str:
    reason = getattr(exc, "reason", None)
    character = getattr(exc, "character", None)
    if reason and character is not None:
        code = character if isinstance(character, int) else ord(character) if isinstance(character, str) else None
        return f"{reason}: #x{code:04x}" if code is not None else str(reason)
    return str(exc).splitlines()[0]


class _Builder:
    """Plain data from a node graph, as ``yaml.safe_load`` builds it, with every position kept.

    Aliases are expanded into copies (so an override of one place never changes another) but
    counted: more than ``MAX_YAML_NODES`` values, deeper than ``MAX_YAML_DEPTH`` levels or an
    alias inside its own anchor is refused. Every exception raised while constructing a value
    (``!!int abc``, unknown tags...) becomes a problem at that value's position.
    """

    def __init__(self, src: SourceMap) -> None:
        self.src = src
        self.constructor = yaml.SafeLoader("")
        self.count = 0
        self.open: set[int] = set()

    def build(self, node: yaml.Node, path: Path, depth: int = 1) -> Any:
        self.count += 1
        if self.count > MAX_YAML_NODES:
            raise _YamlProblem(_mark(node), path, f"more than {MAX_YAML_NODES} values once aliases are expanded "
                                                  "(an alias bomb?)")
        if depth > MAX_YAML_DEPTH:
            raise _YamlProblem(_mark(node), path, f"nested deeper than {MAX_YAML_DEPTH} levels")
        if id(node) in self.open:
            raise _YamlProblem(_mark(node), path, "an alias refers to a value that contains it")
        self.src.positions.setdefault(path, _mark(node))
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, path, depth)
            if node.tag != SEQ_TAG:
                raise _YamlProblem(_mark(node), path, f"the tag {_tag(node.tag)} is not supported in recipes")
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except Exception as exc:  # any failure to build a value is the file's fault
            raise _YamlProblem(_mark(node), path, _scalar_problem(node, exc)) from exc

    def mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict:
        if node.tag != MAP_TAG:
            raise _YamlProblem(_mark(node), path, f"the tag {_tag(node.tag)} is not supported in recipes")
        out: dict[Any, Any] = {}
        merges = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merges.append((key_node, value_node))
                continue
            key = self.key(key_node, path)
            if key in out:
                raise _YamlProblem(_mark(key_node), path + (key,), "duplicate key")
            self.src.key_positions[path + (key,)] = _mark(key_node)
            out[key] = self.build(value_node, path + (key,), depth + 1)
        for key_node, value_node in merges:  # YAML merge keys (<<): the mapping's own keys win
            for merged in self.merged(key_node, value_node, path, depth):
                for key, value in merged.items():
                    out.setdefault(key, value)
        return out

    def key(self, node: yaml.Node, path: Path) -> Any:
        key = self.scalar(node, path) if isinstance(node, yaml.ScalarNode) else None
        if isinstance(key, bool) or not isinstance(key, (str, int, float)):
            raise _YamlProblem(_mark(node), path, "keys must be plain scalars (text or numbers)")
        return key

    def merged(self, key_node: yaml.Node, node: yaml.Node, path: Path, depth: int) -> list[dict]:
        items = node.value if isinstance(node, yaml.SequenceNode) and node.tag == SEQ_TAG else [node]
        if not all(isinstance(item, yaml.MappingNode) for item in items):
            raise _YamlProblem(_mark(key_node), path, "a merge key (<<) takes a mapping or a list of mappings")
        return [self.build(item, path, depth + 1) for item in items]


def _tag(tag: str) -> str:
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix):] if tag.startswith(prefix) else tag


def _scalar_problem(node: yaml.ScalarNode, exc: Exception) -> str:
    """Why a tagged scalar could not be read, in one short line."""
    if not node.value:
        return f"the tag {_tag(node.tag)} needs a value"
    value = node.value if len(node.value) <= 40 else node.value[:37] + "..."
    if isinstance(exc, (KeyError, IndexError)):
        detail = "not a valid value"
    else:
        detail = getattr(exc, "problem", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
        detail = detail.split(";")[0]
    return f"cannot read {_tag(node.tag)} {value!r}: {detail if len(detail) <= 100 else detail[:97] + '...'}"


def parse_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Plain data (as ``yaml.safe_load`` builds it) and the position of every key and value."""
    src = SourceMap(file)
    try:
        node = _compose(text)
        if node is None:
            raise _YamlProblem((1, 1), (), "the recipe is empty")
        return _Builder(src).build(node, ()), src
    except _YamlProblem as exc:
        raise _located(exc, file) from None


def _located(exc: _YamlProblem, file: str) -> RecipeError:
    where = clean(f"{file}:{exc.mark[0]}:{exc.mark[1]}" if exc.mark else file)
    key, problem = clean(dotted(exc.path)), clean(exc.problem)
    return RecipeError(f"{where}: {key + ': ' if key else ''}{problem}", where=where, key=key, problem=problem)


def parse_value(text: str) -> Any:
    """A value written on the command line, as YAML (``0.8``, ``[7, 13]``, ``{periodic: {}}``),
    within the file's limits; text that is not YAML at all (``{stem}.wav``) is the text itself."""
    try:
        node = _compose(text)
    except _YamlProblem as exc:
        if exc.problem.startswith("invalid YAML") and "nested deeper" not in exc.problem:
            return text
        raise
    return None if node is None else _Builder(SourceMap("--set")).build(node, ())


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


# -- overrides -----------------------------------------------------------------------------
def key_path(key: str) -> Path:
    """``"mask.all-of.0.period"`` -> ``("mask", "all-of", 0, "period")``."""
    return tuple(int(p) if p.isascii() and p.isdigit() else p for p in key.strip().split("."))


def parse_override(text: str) -> tuple[Path, Any]:
    """``a.b.0.c=value`` -> (path, value); the value is read as YAML (a scalar, a flow list or
    mapping) with the recipe file's limits; errors are named by the option."""
    label = f"--set {clean(_printable(text))}"
    if "=" not in text:
        raise RecipeError(f"{label}: expected KEY=VALUE (e.g. sampling.temperature=0.8)", where=label,
                          problem="expected KEY=VALUE (e.g. sampling.temperature=0.8)")
    key, raw = text.split("=", 1)
    parts = key_path(key)
    if not key.strip() or any(p == "" for p in parts):
        raise RecipeError(f"{label}: empty key", where=label, problem="empty key")
    if len(parts) > MAX_YAML_DEPTH:
        problem = f"the key is nested deeper than {MAX_YAML_DEPTH} levels"
        raise RecipeError(f"{label}: {problem}", where=label, problem=problem)
    try:
        value = parse_value(raw) if raw.strip() else None
    except _YamlProblem as exc:
        raise RecipeError(f"{label}: {exc.problem}", where=label, key=dotted(parts), problem=exc.problem) from None
    if isinstance(value, str):
        try:  # YAML 1.1 reads "1e-05" as a string; on a command line it is a number
            value = float(value) if value.strip().lower() not in ("nan", "inf", "-inf", "infinity") else value
        except ValueError:
            pass
    return parts, value


def _printable(text: str, limit: int = 80) -> str:
    """Command-line text for a message: control characters and lone surrogates escaped, cut short."""
    shown = "".join(c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else repr(c)[1:-1] for c in text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def set_path(data: dict, path: Path, value: Any, label: str) -> None:
    """Set ``value`` at ``path`` inside nested dicts/lists, creating missing mappings."""
    target: Any = data
    label = clip(label)
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(target, list):
            if not isinstance(part, int) or not -len(target) <= part < len(target):
                problem = f"no item {clip(str(part), 40)} in a list of {len(target)}"
                key = clip(dotted(path[: i + 1]), MAX_SHOWN_KEY_CHARS)
                raise RecipeError(f"{label}: {key}: {problem}", where=label, key=key, problem=problem)
        elif isinstance(target, dict):
            if isinstance(part, int) and part not in target and str(part) in target:
                part = str(part)
            if not last and not isinstance(target.get(part), (dict, list)):
                target[part] = {}
        else:
            problem = f"is a {type(target).__name__}, not a mapping"
            key = clip(dotted(path[:i]), MAX_SHOWN_KEY_CHARS)
            raise RecipeError(f"{label}: {key} {problem}", where=label, key=key, problem=problem)
        if last:
            target[part] = value
        else:
            target = target[part]


def apply_overrides(data: dict, src: SourceMap, overrides: Iterable[str | tuple[Path, Any]]) -> None:
    for item in overrides:
        if isinstance(item, str):
            path, value = parse_override(item)
            label = f"--set {_printable(item)}"
        else:
            path, value = tuple(item[0]), item[1]
            label = f"{dotted(path)}={short_repr(value)}"
        if len(path) > 1 and path[0] == "weights" and isinstance(data.get("weights"), str):
            data["weights"] = {"preset": data["weights"]}  # a preset name is short for {preset: NAME}
        set_path(data, path, value, label)
        src.overrides[path] = label
        # forget positions below an overridden key: they describe the old value
        for table in (src.positions, src.key_positions):
            for p in [p for p in table if p[: len(path)] == path and len(p) > len(path)]:
                del table[p]


# -- validation ----------------------------------------------------------------------------
#: most variations one recipe may ask for (each is a full model pass; states are made up front)
MAX_VARIATIONS = 256
#: a seed is an integer in [0, MAX_SEED]
MAX_SEED = 2**63 - 1
#: longest recipe name (it becomes part of file names)
MAX_NAME_CHARS = 100
#: widest field (and longest precision) a template's format spec may ask for: ``{seed:>08}``
MAX_TEMPLATE_WIDTH = 64
_FORMAT_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d*))?[a-zA-Z%]?",
                          re.DOTALL)


class _Problems:
    """Every problem of one recipe, so that ``validate`` can report them all at once."""

    def __init__(self) -> None:
        self.items: list[RecipeError] = []

    @contextlib.contextmanager
    def collect(self) -> Iterator[None]:
        try:
            yield
        except RecipeError as exc:
            self.items.extend(exc.each())

    def attempt(self, fn: Callable[..., Any], *args: Any, default: Any = None) -> Any:
        with self.collect():
            return fn(*args)
        return default

    def raise_any(self) -> None:
        """Raise one ``RecipeError`` holding every problem, in line order, each once."""
        if not self.items:
            return
        unique = list({str(e): e for e in sorted(self.items, key=_order)}.values())
        if len(unique) == 1:
            raise unique[0]
        raise RecipeError("\n".join(map(str, unique)), where=unique[0].where, key=unique[0].key,
                          problem=unique[0].problem, errors=tuple(unique))


def _order(error: RecipeError) -> tuple[int, int, int]:
    """Overrides first, then by line and column in the file."""
    parts = error.where.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return 1, int(parts[1]), int(parts[2])
    return 0, 0, 0


def check_mapping(value: Any, path: Path, src: SourceMap, what: str) -> dict:
    """``value`` as a dict (None: empty), or a ``file:line:col`` error naming ``what`` was expected."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise src.error(path, f"expected a mapping of {what}, got {short_repr(value)}")
    return dict(value)


def unknown_key_error(key: Any, known: Sequence[str], path: Path, src: SourceMap) -> RecipeError:
    """The ``file:line:col`` error for an unknown ``key`` at ``path``, with a did-you-mean hint."""
    hint = did_you_mean(str(key), known)
    return src.error(path + (key,), f"unknown key '{str(key)[:40]}'{hint} (known: {', '.join(known)})", key=True)


def _parameter_errors(exc: ParameterError, src: SourceMap, fallback: Path) -> RecipeError:
    """A ``ParameterError`` (one or several) as ``file:line:col`` errors at the values' keys."""
    errors = []
    for err in exc.each():
        path = tuple(err.path) or fallback
        errors.append(src.error(path, err.problem, key=err.problem.startswith("unknown")))
    return errors[0] if len(errors) == 1 else RecipeError(
        "\n".join(map(str, errors)), where=errors[0].where, key=errors[0].key, problem=errors[0].problem,
        errors=tuple(errors))


def section(cls: type, value: Any, path: Path, src: SourceMap, base: Any = None) -> Any:
    """Build a typed section (``sampling``, ``output``...) through ``params.build``."""
    data = check_mapping(value, path, src, "settings")
    known = [f.name for f in resolved_fields(cls)]
    problems = _Problems()
    problems.items.extend(unknown_key_error(key, known, path, src) for key in data if key not in known)
    with problems.collect():
        try:
            built = build(cls, {k: v for k, v in data.items() if k in known}, path=path, base=base)
        except ParameterError as exc:
            raise _parameter_errors(exc, src, path) from None
    problems.raise_any()
    return built


def _precision(value: Any, src: SourceMap) -> str:
    """The recipe's ``precision``: one of ``PRECISIONS``."""
    precision = expect_type(value, ("precision",), src, str, "one of " + ", ".join(PRECISIONS))
    if precision not in PRECISIONS:
        raise src.error(("precision",), f"expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def expect_type(value: Any, path: Path, src: SourceMap, kind: type | tuple, label: str) -> Any:
    """``value`` when it is a ``kind`` (a bool never passes for a number), else a ``file:line:col`` error."""
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise src.error(path, f"expected {label}, got {short_repr(value)}")
    if not isinstance(value, kind):
        raise src.error(path, f"expected {label}, got {short_repr(value)}")
    return value


def relative_to_file(value: str, path: Path, src: SourceMap) -> str:
    """Relative paths written in a recipe file are relative to that file's folder."""
    if src.from_file(path) and not os.path.isabs(value) and os.path.exists(src.file):
        return str(FsPath(src.file).resolve().parent / value)
    return value


def parse_weights(value: Any, src: SourceMap) -> WeightsSpec:
    """The top-level ``weights`` value (a preset name or coarse/c2f/codec paths) as a ``WeightsSpec``."""
    path: Path = ("weights",)
    if value is None:
        return WeightsSpec()
    if isinstance(value, str):
        return WeightsSpec(preset=value)
    data = check_mapping(value, path, src, "checkpoint paths (coarse, c2f, codec) or a preset, and LoRA files")
    known = WEIGHT_KEYS + LORA_KEYS + ("preset",)
    problems = _Problems()
    for key in data:
        if key not in known:
            problems.items.append(unknown_key_error(key, known, path, src))
    for key in LORA_KEYS:
        if key in data:
            problems.attempt(expect_type, data[key], path + (key,), src, str, "a LoRA file path")
    if "preset" in data:
        problems.attempt(expect_type, data["preset"], path + ("preset",), src, str, "a preset name")
        for key in WEIGHT_KEYS:
            if key in data:
                problems.items.append(src.error(path + (key,), "give a preset or checkpoint paths, not both",
                                                key=True))
    else:
        for key in WEIGHT_KEYS:
            if key not in data:
                problems.items.append(src.error(path, f"missing key '{key}' (explicit weights need coarse, c2f and "
                                                      "codec paths)"))
            else:
                problems.attempt(expect_type, data[key], path + (key,), src, str, "a file path")
    problems.raise_any()
    lora = {k: relative_to_file(data[k], path + (k,), src) for k in LORA_KEYS if k in data}
    if "preset" in data:
        return WeightsSpec(preset=data["preset"], **lora)
    return WeightsSpec(preset=None, **{k: relative_to_file(data[k], path + (k,), src) for k in WEIGHT_KEYS}, **lora)


def _inputs(value: Any, src: SourceMap) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (relative_to_file(value, ("input",), src),)
    expect_type(value, ("input",), src, list, "a file, glob or folder, or a list of them")
    return tuple(relative_to_file(expect_type(v, ("input", i), src, str, "a file path or glob"), ("input", i), src)
                 for i, v in enumerate(value))


def check_name(name: str) -> str | None:
    """Why ``name`` cannot be a recipe name (it becomes part of file names), else None."""
    if not name:
        return "must not be empty"
    if len(name) > MAX_NAME_CHARS:
        return f"must be at most {MAX_NAME_CHARS} characters, got {len(name)}"
    if "/" in name or "\\" in name:
        return "must not contain a path separator ('/' or '\\')"
    if ".." in name or name == ".":
        return "must not be '.' or contain '..'"
    for c in name:
        if 0xD800 <= ord(c) <= 0xDFFF:
            return "must not contain a lone surrogate"
        if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp"):
            return f"must not contain control characters (found {c!r})"
    return None


def _name(value: Any, src: SourceMap) -> str:
    name = expect_type(value, ("name",), src, str, "a string")
    problem = check_name(name)
    if problem:
        raise src.error(("name",), f"{problem}")
    return name


def _template(spec: OutputSpec, src: SourceMap) -> None:
    """Known fields only, no attribute or index access, bounded widths, and it must format."""
    path: Path = ("output", "template")
    try:
        parts = list(string.Formatter().parse(spec.template))
    except ValueError as exc:
        raise src.error(path, f"bad template: {exc}") from None
    for _, name, fmt, conversion in parts:
        if name is None:
            continue
        if name == "":
            raise src.error(path, f"every field needs a name (fields: {', '.join(TEMPLATE_FIELDS)})")
        if name not in TEMPLATE_FIELDS:
            if any(c in name for c in ".[") and name.split(".")[0].split("[")[0] in TEMPLATE_FIELDS:
                raise src.error(path, f"'{{{name[:40]}}}': attribute and index access are not allowed")
            raise src.error(path, f"unknown field '{{{name[:40]}}}'{did_you_mean(name, TEMPLATE_FIELDS)}"
                                  f" (fields: {', '.join(TEMPLATE_FIELDS)})")
        if conversion is not None:
            raise src.error(path, f"'{{{name}!{conversion}}}': conversions are not allowed")
        if fmt:
            problem = _format_spec_problem(fmt)
            if problem:
                raise src.error(path, f"'{{{name}:{fmt[:20]}}}': {problem}")
    try:
        spec.template.format(stem="input", recipe="recipe", seed=0, variation="0", point="point", ext="wav")
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise src.error(path, f"bad template: {exc}") from None


def _format_spec_problem(fmt: str) -> str | None:
    if "{" in fmt or "}" in fmt:
        return "nested fields are not allowed in a format spec"
    match = _FORMAT_SPEC.fullmatch(fmt)
    if match is None:
        return "not a valid format spec"
    for part in ("width", "precision"):
        digits = match.group(part) or ""
        if len(digits) > 3 or (digits and int(digits) > MAX_TEMPLATE_WIDTH):
            return f"the {part} must be at most {MAX_TEMPLATE_WIDTH}"
    return None


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
        raise _parameter_errors(exc, src, ("mask",)) from None


def _pipeline(value: Any, src: SourceMap) -> tuple[StageSpec, ...]:
    items = list(DEFAULT_PIPELINE) if value is None else value
    expect_type(items, ("pipeline",), src, list, "a list of stages")
    if not items:
        raise src.error(("pipeline",), "the pipeline is empty")
    stages = []
    problems = _Problems()
    for i, item in enumerate(items):
        with problems.collect():
            stages.append(_stage(item, ("pipeline", i), src))
    problems.raise_any()
    return tuple(stages)


def _stage(item: Any, path: Path, src: SourceMap) -> StageSpec:
    if isinstance(item, str):
        name, params = item, {}
    elif isinstance(item, Mapping) and len(item) == 1:
        ((name, params),) = item.items()
        path = path + (name,)
        params = check_mapping(params, path, src, "stage parameters")
    else:
        raise src.error(path, f"a stage is a name or a one-key mapping {{name: parameters}}, got {short_repr(item)}")
    try:
        cls = plugins.get("stages", str(name))
    except UnknownNameError as exc:
        raise src.error(path, str(exc), key=isinstance(item, Mapping)) from None
    try:
        stage = build(cls, params, path=path)
    except ParameterError as exc:
        raise _parameter_errors(exc, src, path) from None
    return StageSpec(str(name), params, stage, path)


def _analysis(value: Any, src: SourceMap) -> dict:
    """The ``analysis`` section: known keys, a registered beat tracker, options per analysis."""
    path: Path = ("analysis",)
    data = check_mapping(value, path, src, "analysis options")
    problems = _Problems()
    for key in data:
        if key not in ANALYSIS_KEYS:
            problems.items.append(unknown_key_error(key, ANALYSIS_KEYS, path, src))
    for key, kind, label in (("beat_tracker", "beat_trackers", "a beat tracker name"),
                             ("onset_detector", "onset_detectors", "an onset detector name")):
        if key in data:
            with problems.collect():
                name = expect_type(data[key], path + (key,), src, str, label)
                try:
                    plugins.get(kind, name)
                except UnknownNameError as exc:
                    raise src.error(path + (key,), str(exc)) from None
    if "cache" in data:
        problems.attempt(expect_type, data["cache"], path + ("cache",), src, bool, "true or false")
    with problems.collect():
        options = check_mapping(data.get("options"), path + ("options",), src, "analysis name -> options")
        known = sorted(plugins.registered("analyses"))
        for name, opts in options.items():
            if name not in known:
                problems.items.append(src.error(path + ("options", name), f"unknown analysis '{str(name)[:40]}'"
                                                f"{did_you_mean(str(name), known)} (analyses: {', '.join(known)})",
                                                key=True))
            else:
                problems.attempt(check_mapping, opts, path + ("options", name), src, "options")
    problems.raise_any()
    return data


def _integer(data: Mapping, key: str, default: int, low: int, high: int, src: SourceMap) -> int:
    value = expect_type(data.get(key, default), (key,), src, int, "an integer")
    if not low <= value <= high:
        raise src.error((key,), f"must lie in [{low}, {high}], got {short_repr(value)}")
    return value


def recipe_from_data(data: Any, src: SourceMap, *, default_name: str = "recipe") -> Recipe:
    """Validate plain recipe data into a ``Recipe``; every problem is reported, each at its key.

    The ``RecipeError`` raised holds them all (``.errors``), in line order, each once.
    """
    if not isinstance(data, Mapping):
        raise src.error((), f"a recipe is a mapping of settings, got {type(data).__name__}")
    problems = _Problems()
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            problems.items.append(unknown_key_error(key, TOP_LEVEL_KEYS, (), src))
    attempt = problems.attempt
    name = attempt(_name, data.get("name", default_name), src, default=default_name)
    description = attempt(expect_type, data.get("description") or "", ("description",), src, str, "a string", default="")
    seed = attempt(_integer, data, "seed", 0, 0, MAX_SEED, src, default=0)
    variations = attempt(_integer, data, "variations", 1, 1, MAX_VARIATIONS, src, default=1)
    device = attempt(expect_type, data.get("device", "auto"), ("device",), src, str,
                     "a device name (auto, cpu, cuda, mps)", default="auto")
    precision = attempt(_precision, data.get("precision", "fp32"), src, default="fp32")
    compiled = attempt(expect_type, data.get("compile", False), ("compile",), src, bool, "true or false", default=False)
    output = attempt(section, OutputSpec, data.get("output"), ("output",), src, default=OutputSpec())
    with problems.collect():
        _template(output, src)
    sampling = attempt(section, SamplingSettings, data.get("sampling"), ("sampling",), src,
                       default=SamplingSettings())
    c2f = attempt(section, SamplingSettings, data.get("c2f"), ("c2f",), src, DEFAULT_C2F_SETTINGS,
                  default=DEFAULT_C2F_SETTINGS)
    analysis = attempt(_analysis, data.get("analysis"), src, default={})
    pipeline = attempt(_pipeline, data.get("pipeline"), src, default=None)
    weights = attempt(parse_weights, data.get("weights"), src, default=WeightsSpec())
    inputs = attempt(_inputs, data.get("input"), src, default=())
    mask = attempt(_mask, data.get("mask"), src, pipeline or (), default=None)
    problems.raise_any()
    recipe = Recipe(
        name=name, description=description, weights=weights, inputs=inputs, output=output, seed=seed,
        variations=variations, device=device, precision=precision, compile=compiled, mask=mask, sampling=sampling, c2f=c2f,
        analysis=analysis, pipeline=pipeline, data=copy.deepcopy(dict(data)), source=src,
    )
    for spec in recipe.pipeline:
        check = getattr(spec.stage, "check_recipe", None)
        if check is not None:
            with problems.collect():
                check(recipe, spec)
    problems.raise_any()
    return recipe


# -- entry points --------------------------------------------------------------------------
def resolve_recipe_path(name_or_path: str | os.PathLike) -> FsPath:
    """A recipe file path, or the name of a shipped recipe (``loop-variation``)."""
    path = FsPath(name_or_path)
    if os.path.exists(path):
        return path
    shipped = SHIPPED_DIR / f"{path.name}.yaml" if path.suffix == "" else SHIPPED_DIR / path.name
    if len(path.parts) == 1 and os.path.exists(shipped):
        return shipped
    known = shipped_recipes()
    hint = did_you_mean(path.stem, known) if len(path.parts) == 1 else ""
    raise RecipeError(clean(f"{clip(str(name_or_path), 120)}: no such recipe file{hint}")
                      + (f" (shipped recipes: {', '.join(known)})" if known else ""))


def read_text(file: str | os.PathLike, what: str = "recipe") -> str:
    """The text of a recipe, experiment or training recipe file, read no further than the parser
    accepts (a longer file is refused by the parser, unread); a clean RecipeError otherwise."""
    try:
        with open(file, encoding="utf-8") as stream:
            return stream.read(MAX_RECIPE_CHARS + 1)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RecipeError(clip(clean(f"{file}: cannot read the {what}: {exc}"))) from exc


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
    text = read_text(file, "recipe")
    return loads_recipe(text, file=str(path) if os.path.exists(path) else str(file),
                        overrides=overrides, default_name=file.stem)


def override(recipe: Recipe, assignments: Iterable[str | tuple[Path, Any]]) -> Recipe:
    """A new recipe with values replaced (``"a.b=1"`` or ``(("a", "b"), 1)``), re-validated."""
    data = copy.deepcopy(dict(recipe.data))
    src = recipe.source.copy()
    apply_overrides(data, src, assignments)
    return recipe_from_data(data, src, default_name=recipe.name)
