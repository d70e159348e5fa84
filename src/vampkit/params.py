"""Parameters of plugin classes (mask generators, stages): declaration, description, building.

A plugin's parameters are its ``attrs`` fields. ``param()`` adds a one-line doc, a type check
(numbers finite, integers within 64 bits) and turns every validator's failure, attrs' own
included, into a ``ParameterError`` naming the plugin and the parameter. ``describe()`` lists
them for ``vampkit masks``; ``build()`` turns plain data (a recipe's mapping) into an instance,
checking every key and reporting each problem with the key path of its value. The recipe
loader takes this same road, so a value is judged the same in Python and in a recipe file.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from .errors import ParameterError
from .validators import owner_name, short_repr

__all__ = ["ParamInfo", "build", "describe", "first_line", "owner_name", "param", "resolved_fields", "type_name"]

Path = tuple[Any, ...]

#: integer parameters must fit a signed 64-bit integer (what torch and numpy compute with)
INT_LIMIT = 2**63 - 1


def param(default: Any = attrs.NOTHING, *, doc: str = "", validator: Callable | Sequence[Callable] | None = None,
          converter: Callable | None = None) -> Any:
    """An ``attrs`` field documented with ``doc``: type-checked (finite numbers), then ``validator``.

    ``validator`` is one validator or a list; attrs' own (``attrs.validators.ge(0)``...) and
    those of ``vampkit.validators`` both end in a ``ParameterError`` that names the plugin and
    the parameter.
    """
    extra = list(validator) if isinstance(validator, (list, tuple)) else [validator] if validator else []
    validators = [_check_type] + [_as_parameter_error(v) for v in extra]
    return attrs.field(default=default, validator=validators, converter=converter, metadata={"doc": doc})


def _as_parameter_error(validator: Callable) -> Callable:
    """Run ``validator``; a ``ValueError``/``TypeError`` it raises becomes a ``ParameterError``."""

    def check(instance: object, attribute: attrs.Attribute, value: Any) -> None:
        try:
            validator(instance, attribute, value)
        except ParameterError as exc:
            if not exc.path:
                exc.path = (attribute.name,)
            raise
        except (ValueError, TypeError) as exc:
            problem = _attrs_problem(exc, attribute.name)
            raise ParameterError(f"{owner_name(instance)}: {attribute.name} {problem}", path=(attribute.name,),
                                 problem=problem) from exc

    check.__wrapped__ = validator  # type: ignore[attr-defined]
    return check


def _attrs_problem(exc: Exception, name: str) -> str:
    """attrs' ``'period' must be >= 0: -1`` -> ``must be >= 0: -1``; other messages as they are."""
    message = str(exc.args[0]) if exc.args else str(exc)
    for prefix in (f"'{name}' ", f"{name} "):
        if message.startswith(prefix):
            return message[len(prefix):].rstrip(".")
    return message


def _check_type(instance: object, attribute: attrs.Attribute, value: Any) -> None:
    expected = attribute.type
    if isinstance(expected, str):  # postponed annotations: resolve them once, on first use
        try:
            attrs.resolve_types(instance if isinstance(instance, type) else type(instance))
            expected = attrs.fields_dict(instance if isinstance(instance, type) else type(instance))[attribute.name].type
        except Exception:  # noqa: BLE001 - an unresolvable annotation is not checked
            return
        if isinstance(expected, str):
            return
    problem = _type_problem(expected, value)
    if problem:
        raise ParameterError(f"{owner_name(instance)}: {attribute.name}: {problem}", path=(attribute.name,),
                             problem=problem)


def _number_problem(expected: Any, value: Any) -> str | None:
    """Non-finite floats for a number type, integers beyond 64 bits for an integer type."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if _accepts(expected, float):
        try:
            ok = math.isfinite(value)
        except OverflowError:
            ok = False
        if not ok:
            return f"must be a finite number, got {short_repr(value)}"
    elif isinstance(value, int) and not -INT_LIMIT - 1 <= value <= INT_LIMIT:
        return f"must fit in a 64-bit integer, got {short_repr(value)}"
    return None


def _accepts(expected: Any, kind: type) -> bool:
    if expected is kind:
        return True
    if typing.get_origin(expected) in (typing.Union, types.UnionType):
        return kind in typing.get_args(expected)
    return False


def _type_problem(expected: Any, value: Any) -> str | None:
    """Why ``value`` does not fit the annotation ``expected`` (None: it fits)."""
    problem = _shape_problem(expected, value)
    return problem if problem is not None else _number_problem(expected, value)


def _shape_problem(expected: Any, value: Any) -> str | None:
    origin = typing.get_origin(expected)
    if expected is Any or expected is None:
        return None
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(expected)
        if any(_shape_problem(arg, value) is None for arg in args if arg is not type(None)) or (
            value is None and type(None) in args
        ):
            return None
        return f"expected {type_name(expected)}, got {short_repr(value)}"
    if origin is typing.Literal:
        allowed = typing.get_args(expected)
        return None if value in allowed else f"expected one of {', '.join(map(repr, allowed))}, got {short_repr(value)}"
    if expected is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else f"expected a number, got {short_repr(value)}"
    if expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"expected an integer, got {short_repr(value)}"
    if expected is bool:
        return None if isinstance(value, bool) else f"expected true or false, got {short_repr(value)}"
    if expected is str:
        return None if isinstance(value, str) else f"expected a string, got {short_repr(value)}"
    if origin in (tuple, Sequence, list) or expected in (tuple, list):
        return None if isinstance(value, (tuple, list)) else f"expected a list, got {short_repr(value)}"
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
          nested: Mapping[str, NestedBuilder] | None = None, base: Any = None) -> Any:
    """Instantiate ``cls`` from plain data (or replace values of ``base``), checking every key.

    ``nested`` maps a field name to a builder for values that are themselves plugin specs
    (e.g. the masks inside ``all-of``). Every problem is found before giving up: unknown and
    missing keys, wrong types, each parameter's validators. The ``ParameterError`` raised has
    ``.path`` set to the key path of the offending value and, when there were several,
    ``.errors`` with each one. Checks across parameters (``__attrs_post_init__``) run once
    every parameter is good; their errors point at the spec itself.
    """
    label = owner_name(cls)
    if params is not None and not isinstance(params, Mapping):
        problem = f"parameters must be a mapping, got {short_repr(params)}"
        raise ParameterError(f"{label}: {problem}", path=path, problem=problem)
    params = dict(params or {})
    fields = {f.name: f for f in resolved_fields(cls)}
    problems: list[ParameterError] = []
    for key in params:
        if key not in fields:
            from .naming import did_you_mean

            problem = (f"unknown parameter '{str(key)[:40]}'{did_you_mean(str(key), fields)}"
                       f" (parameters: {', '.join(fields) or 'none'})")
            problems.append(ParameterError(f"{label}: {problem}", path=path + (key,), problem=problem))
    if base is None:
        for name, field in fields.items():
            if field.default is attrs.NOTHING and name not in params:
                problem = f"missing required parameter '{name}'"
                problems.append(ParameterError(f"{label}: {problem}", path=path, problem=problem))
    values: dict[str, Any] = {}
    for name, value in params.items():
        if name not in fields:
            continue
        if nested and name in nested:
            try:
                values[name] = nested[name](value, path + (name,))
            except ParameterError as exc:
                problems.extend(exc.each())
            continue
        values[name] = _coerce(fields[name].type, value)
    problems.extend(_field_problems(cls, fields, values, path, base))
    if problems:
        raise _combined(problems)
    try:
        return attrs.evolve(base, **values) if base is not None else cls(**values)
    except ParameterError as exc:
        raise _relocated(exc, path) from None
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{label}: {exc}", path=path, problem=str(exc)) from exc


def _coerce(expected: Any, value: Any) -> Any:
    """Plain data to the declared type: an integer for a float parameter, a list for a tuple."""
    if isinstance(value, int) and not isinstance(value, bool) and _accepts(expected, float) \
            and not _accepts(expected, int):
        try:
            return float(value)
        except OverflowError:
            return value  # the type check refuses it: too large for a float
    if typing.get_origin(expected) is tuple and isinstance(value, list):
        return tuple(value)
    return value


def _field_problems(cls: type, fields: Mapping[str, attrs.Attribute], values: Mapping[str, Any], path: Path,
                    base: Any) -> list[ParameterError]:
    """Run each given parameter's validators on its own, so that every bad value is reported.

    Validators see a probe instance carrying the given values and the defaults (or ``base``'s
    values); an exception other than a ``ParameterError`` here is left for the real
    construction to raise, so a validator that needs a fully built instance still works.
    """
    probe = _probe(cls, fields, values, base)
    problems = []
    for name, value in values.items():
        field = fields[name]
        if field.validator is None or "nested" in field.metadata:
            continue
        if field.converter is not None:
            try:
                value = field.converter(value)
            except (TypeError, ValueError):
                continue  # the construction reports it
        try:
            _as_parameter_error(field.validator)(probe, field, value)
        except ParameterError as exc:
            problems.append(_relocated(exc, path))
        except Exception:  # noqa: BLE001 - see the docstring: the constructor raises it again
            continue
    return problems


def _probe(cls: type, fields: Mapping[str, attrs.Attribute], values: Mapping[str, Any], base: Any) -> Any:
    try:
        probe = object.__new__(cls)
        for name, field in fields.items():
            if name in values:
                value = values[name]
            elif base is not None:
                value = getattr(base, name)
            elif isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
                if field.default.takes_self:
                    continue
                value = field.default.factory()
            elif field.default is attrs.NOTHING:
                continue
            else:
                value = field.default
            object.__setattr__(probe, name, value)
        return probe
    except Exception:  # noqa: BLE001 - a class that cannot be probed: its validators see the class
        return cls


def _relocated(exc: ParameterError, path: Path) -> ParameterError:
    """A validator's error carries the path below its instance; put the instance's path in front."""
    exc.path = path + tuple(exc.path)
    return exc


def _combined(problems: list[ParameterError]) -> ParameterError:
    if len(problems) == 1:
        return problems[0]
    return ParameterError("\n".join(str(p) for p in problems), path=problems[0].path,
                          problem=problems[0].problem, errors=tuple(problems))
