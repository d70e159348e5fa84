"""Technique stages: loop (variations joined), continue/outpaint, long-audio windows, sweep."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import attrs
import torch

from ..errors import ParameterError, RecipeError
from ..mask import Mask
from ..params import param
from ..validators import MAX_SECONDS, fail, positive, positive_duration
from .stages import prompt_measures, require_frames, run_model
from .state import Env, State


def _frames(seconds: float, env: Env) -> int:
    return max(1, math.ceil(seconds * env.geometry.sample_rate / env.geometry.hop_length))


def _label(state: State, extra: str = "") -> str:
    return f"{state.stem} v{state.variation}{' ' + state.point if state.point else ''}{extra}"


@attrs.frozen
class Loop:
    """Join the variations end to end into one more output (variation ``loop``).

    Each variation appears `repeats` times in turn; with `keep_variations: false` only the
    joined file is written.
    """

    name = "loop"

    repeats: int = param(1, doc="times each variation is repeated in the joined output", validator=positive)
    keep_variations: bool = param(True, doc="also write each variation on its own")

    def __call__(self, states: list[State], env: Env) -> list[State]:
        groups: dict[str, list[State]] = {}
        for state in states:
            groups.setdefault(state.point, []).append(state)
        out = list(states) if self.keep_variations else []
        for group in groups.values():
            parts = [s for s in group if isinstance(s.variation, int)]
            first = parts[0]
            if env.dry_run:
                joined = None
            else:
                if any(s.out_audio is None for s in parts):
                    raise RecipeError("loop: no audio to join (put `decode` before `loop`)")
                joined = attrs.evolve(first.out_audio, samples=torch.cat(
                    [s.out_audio.samples for s in parts for _ in range(self.repeats)], dim=-1))
            out.append(first.evolve(variation="loop", out_audio=joined))
        return out


def _passes_within_a_day(instance: object, attribute: attrs.Attribute, value: int) -> None:
    """``seconds x times`` (the length added) at most ``MAX_SECONDS``."""
    if isinstance(value, int) and value * instance.seconds > MAX_SECONDS:
        fail(instance, attribute, f"{value} passes of {instance.seconds:g} s add more than {MAX_SECONDS:g} s")


@attrs.frozen
class Continue:
    """Extend the input by `seconds`, `times` times: each pass appends masked frames and keeps
    the last `context` seconds as a prefix prompt (outpainting to any length)."""

    name = "continue"

    seconds: float = param(5.0, doc="seconds added per pass", validator=positive_duration)
    times: int = param(1, doc="number of passes (seconds x times at most a day)",
                       validator=[positive, _passes_within_a_day])
    context: float = param(5.0, doc="seconds of the end kept as the prompt of each pass",
                           validator=positive_duration)

    def __call__(self, states: list[State], env: Env) -> list[State]:
        out = []
        for state in states:
            n_frames = require_frames(state, "continue")
            new = _frames(self.seconds, env)
            keep = min(n_frames, _frames(self.context, env))
            total = n_frames + self.times * new
            kept = torch.arange(total) < n_frames
            mask = Mask((~kept).unsqueeze(0).expand(env.geometry.n_codebooks, -1).clone())
            state = state.evolve(mask=mask, n_frames=total).with_info(
                **prompt_measures(mask, env), passes=self.times, added_frames=self.times * new)
            if env.dry_run:
                out.append(state)
                continue
            if state.codes is None:
                raise RecipeError("continue: no tokens (put `encode` before `continue`)")
            current = state.codes
            for i in range(self.times):
                tail = current[..., -keep:]
                grid = torch.cat([tail, torch.zeros(*tail.shape[:-1], new, dtype=tail.dtype, device=tail.device)], -1)
                window_mask = Mask((torch.arange(keep + new) >= keep).unsqueeze(0)
                                   .expand(grid.shape[1], -1).clone())
                made = run_model(state, env, grid, window_mask, _label(state, f" pass {i + 1}"))
                current = torch.cat([current, made[..., keep:].to(current.device)], dim=-1)
            out.append(state.evolve(out_codes=current))
        return out


@attrs.frozen
class WindowedVamp:
    """Vamp a grid longer than the model's context in overlapping windows; each window's
    overlap is kept as prompt from the previous window's output, so the result is seamless."""

    name = "windowed-vamp"

    window: float = param(10.0, doc="window length in seconds (the model's context)", validator=positive_duration)
    overlap: float = param(2.0, doc="seconds each window shares with the previous one",
                           validator=positive_duration)

    def __attrs_post_init__(self) -> None:
        if self.overlap >= self.window:
            raise ParameterError(f"windowed-vamp: overlap ({self.overlap}) must be less than window ({self.window})")

    def windows(self, n_frames: int, env: Env) -> list[tuple[int, int]]:
        """``(start, end)`` frame spans covering ``n_frames``, each overlapping the previous one."""
        size, overlap = _frames(self.window, env), _frames(self.overlap, env)
        if overlap >= size:
            raise ParameterError(f"windowed-vamp: overlap of {overlap} frames is not shorter than the "
                                 f"window of {size} frames")
        spans, start = [], 0
        while True:
            end = min(start + size, n_frames)
            spans.append((start, end))
            if end == n_frames:
                return spans
            start = end - overlap

    def __call__(self, states: list[State], env: Env) -> list[State]:
        out = []
        for state in states:
            n_frames = require_frames(state, "windowed-vamp")
            spans = self.windows(n_frames, env)
            state = state.with_info(windows=[list(s) for s in spans])
            if env.dry_run:
                out.append(state)
                continue
            if state.codes is None or state.mask is None:
                raise RecipeError("windowed-vamp: needs tokens and a mask (put `encode` and `mask` first)")
            result = state.codes.clone()
            mask = state.mask.tensor
            previous_end = 0
            for i, (start, end) in enumerate(spans):
                window_mask = mask[..., start:end].clone()
                shared = max(0, previous_end - start)
                window_mask[..., :shared] = False  # the previous window's output is the prompt here
                made = run_model(state, env, result[..., start:end], Mask(window_mask),
                                 _label(state, f" window {i + 1}/{len(spans)}"))
                result[..., start:end] = made.to(result.device)
                previous_end = end
            out.append(state.evolve(out_codes=result))
        return out


def _point_label(point: Mapping[str, Any]) -> str:
    return "+".join(f"{str(k).split('.')[-1]}={v}" for k, v in point.items())


#: most points one sweep may have (the product of its value lists' lengths)
MAX_SWEEP_POINTS = 1000


@attrs.frozen
class Sweep:
    """Run the rest of the pipeline once per point of a grid of recipe values (research).

    `grid` maps dotted recipe keys to lists of values, e.g. ``{mask.periodic.period: [7, 13]}``;
    every combination is a point and gets its own output (``{point}`` in the name).
    """

    name = "sweep"

    grid: dict = param(doc="dotted recipe key -> list of values")

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.grid, Mapping) or not self.grid:
            raise ParameterError(f"sweep: grid must be a non-empty mapping of key -> list of values, got {self.grid!r}")
        for key, values in self.grid.items():
            if not isinstance(values, list) or not values:
                raise ParameterError(f"sweep: grid: {key}: expected a non-empty list of values, got {values!r}",
                                     path=("grid", key))
            if str(key).split(".")[0] == "pipeline":
                raise ParameterError(f"sweep: grid: {key}: a sweep cannot change the pipeline", path=("grid", key))
        count = math.prod(len(values) for values in self.grid.values())
        if count > MAX_SWEEP_POINTS:
            problem = f"{count} points is more than {MAX_SWEEP_POINTS} (each point is a full run)"
            raise ParameterError(f"sweep: grid: {problem}", path=("grid",), problem=problem)

    def points(self) -> list[dict[str, Any]]:
        keys = list(self.grid)
        return [dict(zip(keys, combo)) for combo in itertools.product(*(self.grid[k] for k in keys))]

    def recipe_at(self, recipe: Any, point: Mapping[str, Any]) -> Any:
        from ..recipes.loader import key_path, override

        # the point's recipe runs the stages after the sweep; it must not sweep again
        rest = [item for i, item in enumerate(recipe.data.get("pipeline") or []) if i != 0]
        return override(recipe, [(("pipeline",), rest)] + [(key_path(k), v) for k, v in point.items()])

    def check_recipe(self, recipe: Any, spec: Any) -> None:
        """Validate every point up front, so a bad value fails before any audio is read."""
        if recipe.pipeline[0].stage is not self:
            raise recipe.source.error(spec.path, "sweep must be the first stage of the pipeline")
        for point in self.points():
            try:
                self.recipe_at(recipe, point)
            except RecipeError as exc:
                key = next(iter(point))
                where = recipe.source.where(spec.path + ("grid", key))
                problems = "; ".join(f"{e.key}: {e.problem}" if e.key else e.problem for e in exc.each())
                problem = f"sweep point {_point_label(point)}: {problems}"
                raise RecipeError(f"{where}: {problem}", where=where, problem=problem) from exc

    def __call__(self, states: list[State], env: Env) -> list[State]:
        out = []
        for point in self.points():
            for state in states:
                out.append(state.evolve(recipe=self.recipe_at(state.recipe, point), point=_point_label(point)))
        return out
