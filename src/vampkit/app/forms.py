"""Form fields made from parameter declarations, and mask specs made from form values.

No Gradio here: the page (``vampkit.app.ui``) turns each ``Field`` into a widget, and these
plain functions turn widget values back into the plain data a recipe holds, so a third-party
generator gets a form the moment it is registered.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import yaml

from .. import plugins
from ..errors import ParameterError
from ..params import describe, resolved_fields

#: vampkit's named validators (which plugins reuse) -> (minimum, maximum, readable range)
RANGES: dict[str, tuple[float | None, float | None, str]] = {
    "non_negative": (0, None, ">= 0"),
    "_non_negative": (0, None, ">= 0"),
    "positive": (0, None, "> 0"),
    "_positive_int": (1, None, ">= 1"),
    "_optional_positive": (1, None, ">= 1 or null"),
    "probability": (0, 1, "0 to 1"),
    "unit_interval": (0, 1, "in (0, 1]"),
    "_unit_interval": (0, 1, "in (0, 1]"),
}


@attrs.frozen
class Field:
    """One parameter as a form field: ``kind`` picks the widget (``text`` holds YAML)."""

    name: str
    kind: str  # "int" | "float" | "bool" | "choice" | "text"
    type: str
    default: Any
    required: bool
    doc: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    range: str = ""

    @property
    def label(self) -> str:
        extra = f", {self.range}" if self.range else ""
        return f"{self.name} ({self.type}{extra})"


def _validators(validator: Any) -> list[Any]:
    """The validators inside attrs' ``and_`` and ``param()``'s error wrappers, innermost."""
    inner = getattr(validator, "_validators", None)
    if inner is not None:
        return [v for item in inner for v in _validators(item)]
    free = dict(zip(getattr(getattr(validator, "__code__", None), "co_freevars", ()),
                    (c.cell_contents for c in getattr(validator, "__closure__", None) or ())))
    if "validator" in free and callable(free["validator"]):  # param()'s ParameterError wrapper
        return _validators(free["validator"])
    return [validator] if validator is not None else []


def _range(validator: Any) -> tuple[float | None, float | None, str] | None:
    """What a validator says about a number's range, where it says it plainly."""
    name = getattr(validator, "__qualname__", "")
    if name in RANGES:
        return RANGES[name]
    free = dict(zip(getattr(getattr(validator, "__code__", None), "co_freevars", ()),
                    (c.cell_contents for c in getattr(validator, "__closure__", None) or ())))
    if name.startswith("at_least."):
        return free["minimum"], None, f"{'>' if free.get('strict') else '>='} {free['minimum']}"
    if name.startswith("at_most."):
        return None, free["maximum"], f"{'<' if free.get('strict') else '<='} {free['maximum']}"
    if name.startswith("between."):
        low, high = free["low"], free["high"]
        return low, high, f"in {free.get('text') or f'[{low}, {high}]'}"
    bound, op = getattr(validator, "bound", None), getattr(validator, "compare_op", None)
    if isinstance(bound, (int, float)) and op in (">=", ">"):
        return bound, None, f"{op} {bound}"
    if isinstance(bound, (int, float)) and op in ("<=", "<"):
        return None, bound, f"{op} {bound}"
    return None


def _kind(tp: Any) -> tuple[str, tuple[Any, ...]]:
    if tp is bool:
        return "bool", ()
    if tp is int:
        return "int", ()
    if tp is float:
        return "float", ()
    if typing.get_origin(tp) is typing.Literal:
        return "choice", typing.get_args(tp)
    return "text", ()


def fields_of(cls: type) -> tuple[Field, ...]:
    """The form fields of a plugin class, in declaration order, with ranges its validators imply."""
    declared = {f.name: f for f in resolved_fields(cls)}
    out = []
    for info in describe(cls):
        attribute = declared[info.name]
        kind, choices = _kind(attribute.type)
        low = high = None
        texts = []
        for validator in _validators(attribute.validator):
            found = _range(validator)
            if found:
                low = found[0] if found[0] is not None else low
                high = found[1] if found[1] is not None else high
                texts.append(found[2])
        text = ", ".join(texts)
        out.append(Field(info.name, kind, info.type, info.default, info.required, info.doc,
                         choices, low, high, text))
    return tuple(out)


def to_widget(field: Field, value: Any) -> Any:
    """A parameter value as its widget shows it (YAML text for lists, masks and optionals)."""
    if field.kind != "text":
        return value
    if value is None and field.required:
        return ""
    plain = list(value) if isinstance(value, tuple) else value
    return yaml.safe_dump(_plain(plain), default_flow_style=True, sort_keys=False, width=10_000).strip().removesuffix("...").strip()


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def from_widget(owner: str, field: Field, raw: Any) -> Any:
    """A widget's value as recipe data; a value the widget cannot hold names the field."""
    if field.kind == "int":
        if raw is None or raw == "":
            raise ParameterError(f"{owner}: {field.name}: expected an integer, got nothing")
        number = float(raw)
        if not number.is_integer():
            raise ParameterError(f"{owner}: {field.name}: expected an integer, got {raw!r}")
        return int(number)
    if field.kind == "float":
        if raw is None or raw == "":
            raise ParameterError(f"{owner}: {field.name}: expected a number, got nothing")
        return float(raw)
    if field.kind == "bool":
        return bool(raw)
    if field.kind == "choice":
        return raw
    text = "" if raw is None else str(raw)
    if not text.strip():
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParameterError(f"{owner}: {field.name}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc


def generator_fields(name: str) -> tuple[Field, ...]:
    return fields_of(plugins.get_mask_generator(name))


def combinators() -> list[str]:
    """Registered generators whose positional parameter is a list of masks (all-of, any-of...)."""
    out = []
    for name, cls in sorted(plugins.mask_generators().items()):
        if any(f.metadata.get("nested") == "masks" and f.metadata.get("positional") for f in resolved_fields(cls)):
            out.append(name)
    return out


def layer_spec(name: str, values: Mapping[str, Any]) -> Any:
    """``{name: {param: value}}`` with only the values that differ from the defaults."""
    changed = {}
    for field in generator_fields(name):
        if field.name not in values:
            continue
        value = values[field.name]
        default = list(field.default) if isinstance(field.default, tuple) else field.default
        if field.required or value != default:
            changed[field.name] = value
    return {name: changed} if changed else name


def layer_values(spec: Any) -> tuple[str, dict[str, Any]]:
    """The generator name and every parameter value (defaults filled in) of a one-layer spec."""
    if isinstance(spec, str):
        name, given = spec, {}
    elif isinstance(spec, Mapping) and len(spec) == 1:
        ((name, given),) = spec.items()
    else:
        raise ParameterError(f"a mask is a generator name or a one-key mapping, got {spec!r}")
    fields = generator_fields(str(name))
    known = {f.name for f in fields}
    positional = next((f.name for f in resolved_fields(plugins.get_mask_generator(str(name)))
                       if f.metadata.get("positional")), None)
    if given is None:
        given = {}
    elif positional and (not isinstance(given, Mapping) or not set(given) <= known):
        given = {positional: given}
    elif not isinstance(given, Mapping):
        raise ParameterError(f"{name}: parameters must be a mapping, got {given!r}")
    values = {f.name: given.get(f.name, f.default) for f in fields}
    return str(name), values


def compose(combinator: str, layers: Sequence[Any]) -> Any:
    """One mask spec from up to N layer specs joined by a combinator (one layer: itself)."""
    chosen = [spec for spec in layers if spec is not None]
    if not chosen:
        raise ParameterError("choose at least one mask generator")
    return chosen[0] if len(chosen) == 1 else {combinator: list(chosen)}


def decompose(spec: Any, n_layers: int, default_combinator: str = "any-of") -> tuple[str, list[Any]]:
    """The combinator and layer specs a mask spec spreads over (deeper nesting stays in a layer)."""
    if isinstance(spec, Mapping) and len(spec) == 1:
        ((name, value),) = spec.items()
        if name in combinators() and isinstance(value, list) and 1 <= len(value) <= n_layers:
            return str(name), list(value)
        if name in combinators() and isinstance(value, Mapping) and isinstance(value.get("masks"), list) \
                and set(value) == {"masks"} and 1 <= len(value["masks"]) <= n_layers:
            return str(name), list(value["masks"])
    return default_combinator, [spec]
