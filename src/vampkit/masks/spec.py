"""Mask generators from plain data (recipes, the command line) through the plugin registry.

A spec is a generator instance, a registered name (``"periodic"``), or a one-key mapping
``{name: params}``. Generators with a *positional* parameter (the masks of ``all-of``, the
mask of ``not``) also accept that parameter's value directly: ``{"all-of": [spec, ...]}``.
Built-in and third-party generators take this same path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from .. import plugins
from ..context import MaskContext
from ..errors import ParameterError, UnknownNameError
from ..mask import Mask
from ..params import Path, build, resolved_fields
from ..validators import short_repr

#: how deeply mask generators may nest (``all-of`` inside ``not`` inside ...); deeper specs are
#: refused before any recursion could run out of stack
MAX_MASK_DEPTH = 32


@runtime_checkable
class MaskGenerator(Protocol):
    """What a mask generator is: a ``name`` and ``__call__(ctx) -> Mask``."""

    _is_mask_generator_protocol = True
    name: str

    def __call__(self, ctx: MaskContext) -> Mask: ...


def nested_mask(default: Any = None, *, doc: str, positional: bool = False) -> Any:
    """A parameter holding one nested mask generator spec."""
    return attrs.field(default=default, validator=_check_generator,
                       metadata={"doc": doc, "nested": "mask", "positional": positional})


def nested_masks(*, doc: str, positional: bool = True) -> Any:
    """A parameter holding a list of nested mask generator specs."""
    return attrs.field(factory=tuple, converter=tuple, validator=_check_generators,
                       metadata={"doc": doc, "nested": "masks", "positional": positional})


def _check_generator(instance: object, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and not is_generator(value):
        raise ParameterError(f"{instance.name}: {attribute.name} must be a mask generator, got {value!r}")  # type: ignore[attr-defined]


def _check_generators(instance: object, attribute: attrs.Attribute, value: Any) -> None:
    for item in value:
        _check_generator(instance, attribute, item)


def is_generator(value: Any) -> bool:
    return not isinstance(value, (str, Mapping, type)) and callable(value) and isinstance(
        getattr(value, "name", None), str)


def build_mask_generator(spec: Any, path: Path = (), *, depth: int = 1) -> MaskGenerator:
    """Turn a spec into a generator instance; errors are ``ParameterError`` with ``.path``."""
    if depth > MAX_MASK_DEPTH:
        problem = f"masks nested deeper than {MAX_MASK_DEPTH} levels"
        raise ParameterError(problem, path=path, problem=problem)
    if is_generator(spec):
        return spec
    if isinstance(spec, str):
        name, value = spec, None
    elif isinstance(spec, Mapping) and len(spec) == 1:
        ((name, value),) = spec.items()
    else:
        problem = f"a mask is a generator name or a one-key mapping {{name: parameters}}, got {short_repr(spec)}"
        raise ParameterError(problem, path=path, problem=problem)
    try:
        cls = plugins.get_mask_generator(str(name))
    except UnknownNameError as exc:
        message = str(exc) if len(str(name)) <= 64 else f"unknown mask generator {short_repr(str(name))}"
        raise ParameterError(message, path=path + (name,)) from exc
    here = path + (name,)
    fields = {f.name: f for f in resolved_fields(cls)}
    positional = next((f.name for f in fields.values() if f.metadata.get("positional")), None)
    nested = {n: _nested_builder(f.metadata["nested"], depth + 1) for n, f in fields.items() if "nested" in f.metadata}
    if value is None:
        params: Mapping[str, Any] = {}
    elif positional and (not isinstance(value, Mapping) or not set(value) <= set(fields)):
        # shorthand: the value is the positional parameter itself; its items sit at `here`
        return build(cls, {positional: value}, path=here,
                     nested={positional: lambda v, _p: nested[positional](v, here)})
    elif isinstance(value, Mapping):
        params = value
    else:
        problem = f"parameters must be a mapping, got {short_repr(value)}"
        raise ParameterError(f"{name}: {problem}", path=here, problem=problem)
    return build(cls, params, path=here, nested=nested)


def _nested_builder(kind: str, depth: int) -> Callable[[Any, Path], Any]:
    if kind == "mask":
        return lambda value, path: None if value is None else build_mask_generator(value, path, depth=depth)

    def build_list(value: Any, path: Path) -> tuple:
        if not isinstance(value, (list, tuple)):
            problem = f"expected a list of masks, got {short_repr(value)}"
            raise ParameterError(problem, path=path, problem=problem)
        built, problems = [], []
        for i, item in enumerate(value):
            try:
                built.append(build_mask_generator(item, path + (i,), depth=depth))
            except ParameterError as exc:
                problems.extend(exc.each())
        if problems:
            raise problems[0] if len(problems) == 1 else ParameterError(
                "\n".join(map(str, problems)), path=problems[0].path, problem=problems[0].problem,
                errors=tuple(problems))
        return tuple(built)

    return build_list
