"""Parameters of plugin classes (mask generators, stages): declaration, description, building.

A mask generator's parameters are its ``attrs`` fields. ``param()`` adds a one-line doc and a
type check; ``describe()`` lists them for ``vampkit masks``; ``build()`` turns plain data (a
recipe's mapping) into an instance, checking types and naming the offending key.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from .errors import ParameterError

Path = tuple[Any, ...]


def owner_name(instance: object) -> str:
    """The registered name of a plugin object, else its class name (for error messages)."""
    return str(getattr(instance, "name", type(instance).__name__))


def param(default: Any = attrs.NOTHING, *, doc: str = "", validator: Callable | None = None,
          converter: Callable | None = None) -> Any:
    """An ``attrs`` field documented with ``doc``, whose type is checked on construction."""
    validators = [_check_type] + ([validator] if validator else [])
    return attrs.field(default=default, validator=validators, converter=converter, metadata={"doc": doc})


def _check_type(instance: object, attribute: attrs.Attribute, value: Any) -> None:
    expected = attribute.type
    if isinstance(expected, str):  # postponed annotations: resolve them once, on first use
        try:
            attrs.resolve_types(type(instance))
            expected = attrs.fields_dict(type(instance))[attribute.name].type
        except Exception:  # noqa: BLE001 - an unresolvable annotation is not checked
            return
        if isinstance(expected, str):
            return
    problem = _type_problem(expected, value)
    if problem:
        raise ParameterError(f"{owner_name(instance)}: {attribute.name}: {problem}")


def _type_problem(expected: Any, value: Any) -> str | None:
    origin = typing.get_origin(expected)
    if expected is Any or expected is None:
        return None
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(expected)
        if any(_type_problem(arg, value) is None for arg in args if arg is not type(None)) or (
            value is None and type(None) in args
        ):
            return None
        return f"expected {type_name(expected)}, got {value!r}"
    if origin is typing.Literal:
        allowed = typing.get_args(expected)
        return None if value in allowed else f"expected one of {', '.join(map(repr, allowed))}, got {value!r}"
    if expected is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else f"expected a number, got {value!r}"
    if expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"expected an integer, got {value!r}"
    if expected is bool:
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if expected is str:
        return None if isinstance(value, str) else f"expected a string, got {value!r}"
    if origin in (tuple, Sequence, list) or expected in (tuple, list):
        return None if isinstance(value, (tuple, list)) else f"expected a list, got {value!r}"
    return None


def type_name(tp: Any) -> str:
    """A short readable name of a parameter type (``int``, ``float | None``, ``mask``...)."""
    if isinstance(tp, str):
        return tp
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(tp))
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (tuple, list, Sequence):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return f"list of {type_name(args[0])}" if args else "list"
    if tp is type(None):
        return "None"
    if getattr(tp, "_is_mask_generator_protocol", False):
        return "mask"
    return getattr(tp, "__name__", str(tp))


@attrs.frozen
class ParamInfo:
    """One parameter of a plugin class, as listed by ``vampkit masks``."""

    name: str
    type: str
    default: Any
    required: bool
    doc: str


def resolved_fields(cls: type) -> tuple[attrs.Attribute, ...]:
    """The ``attrs`` fields of ``cls`` with string annotations resolved where possible."""
    try:
        attrs.resolve_types(cls)
    except Exception:  # noqa: BLE001 - unresolvable annotations stay strings; still listable
        pass
    return tuple(f for f in attrs.fields(cls) if f.init and not f.name.startswith("_"))


def describe(cls: type) -> list[ParamInfo]:
    """The parameters of an attrs plugin class, in declaration order."""
    infos = []
    for field in resolved_fields(cls):
        default = field.default
        required = default is attrs.NOTHING
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory() if not default.takes_self else None
        infos.append(ParamInfo(field.name, type_name(field.type), None if required else default,
                               required, str(field.metadata.get("doc", ""))))
    return infos


def first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0].strip() if (doc or "").strip() else ""


NestedBuilder = Callable[[Any, Path], Any]


def build(cls: type, params: Mapping[str, Any] | None, *, path: Path = (),
          nested: Mapping[str, NestedBuilder] | None = None) -> Any:
    """Instantiate ``cls`` from plain data, checking names and types.

    ``nested`` maps a field name to a builder for values that are themselves plugin specs
    (e.g. the masks inside ``all-of``). Errors are ``ParameterError`` with ``.path`` set to
    the key path of the offending value.
    """
    label = owner_name(cls)
    params = dict(params or {})
    fields = {f.name: f for f in resolved_fields(cls)}
    unknown = [k for k in params if k not in fields]
    if unknown:
        from .naming import did_you_mean

        key = unknown[0]
        raise ParameterError(
            f"{label}: unknown parameter '{key}'{did_you_mean(str(key), fields)}"
            f" (parameters: {', '.join(fields) or 'none'})",
            path=path + (key,),
        )
    missing = [n for n, f in fields.items() if f.default is attrs.NOTHING and n not in params]
    if missing:
        raise ParameterError(f"{label}: missing required parameter '{missing[0]}'", path=path)
    values: dict[str, Any] = {}
    for name, value in params.items():
        field = fields[name]
        if nested and name in nested:
            values[name] = nested[name](value, path + (name,))
            continue
        expected = field.type
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if typing.get_origin(expected) is tuple and isinstance(value, list):
            value = tuple(value)
        problem = None if isinstance(expected, str) else _type_problem(expected, value)
        if problem:
            raise ParameterError(f"{label}: {name}: {problem}", path=path + (name,))
        values[name] = value
    try:
        return cls(**values)
    except ParameterError as exc:
        if exc.path == ():
            exc.path = path + _param_in_message(str(exc), fields)
        raise
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{label}: {exc}", path=path) from exc


def _param_in_message(message: str, fields: Mapping[str, Any]) -> Path:
    for name in fields:
        if f": {name}" in message or f" {name} " in message:
            return (name,)
    return ()
