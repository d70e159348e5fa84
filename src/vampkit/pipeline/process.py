"""One input through a recipe's stages: the unit of work every executor runs.

``process_input`` runs the variations of one input in bounded groups, writes its outputs
(or finds them all present with ``skip_existing``) and returns plain data for the manifest,
so the same function serves the local executor and remote workers alike.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from ..errors import VampkitError
from ..recipes.schema import Recipe
from .stages import MAX_BATCH, check_replaceable, output_file
from .state import Env, State


@attrs.frozen
class InputOutcome:
    """What became of one input: its manifest record, the files written, its error if any."""

    path: Path
    record: dict[str, Any]
    outputs: tuple[Path, ...] = ()
    error: str | None = None
    skipped: bool = False
    #: stage seconds spent on it where they are not the run's own (a remote worker's)
    timings: dict[str, float] = attrs.field(factory=dict)


@attrs.define
class _InputLog:
    """What the manifest records of one input, gathered chunk by chunk (no tensors kept)."""

    path: Path
    prompts: list[dict[str, Any]] = attrs.field(factory=list)
    outputs: list[str] = attrs.field(factory=list)
    written: list[Path] = attrs.field(factory=list)
    n_frames: int | None = None
    details: dict[str, Any] | None = None

    def add(self, states: Sequence[State]) -> None:
        for s in states:
            if "kept_fraction" in s.info:
                self.prompts.append({"variation": s.variation, "point": s.point,
                                     **{k: s.info[k] for k in ("kept_fraction", "bitrate") if k in s.info}})
            self.written.extend(s.outputs)
            self.outputs.extend(str(p) for p in s.outputs)
            if not s.outputs and "output" in s.info:
                self.outputs.append(s.info["output"])
        if states and self.details is None:
            self.n_frames = states[0].n_frames
            self.details = {k: v for k, v in states[0].info.items() if k not in ("kept_fraction", "bitrate", "output")}

    def record(self, status: str, error: str | None, seconds: float) -> dict[str, Any]:
        first = self.prompts[0] if self.prompts else {}
        record: dict[str, Any] = {
            "input": str(self.path),
            "status": status,
            "kept_fraction": first.get("kept_fraction"),
            "bitrate": first.get("bitrate"),
            "prompts": self.prompts,
            "outputs": self.outputs,
            "seconds": round(seconds, 4),
        }
        if self.n_frames is not None:
            record["n_frames"] = self.n_frames
        if self.details:
            record["details"] = self.details
        if error:
            record["error"] = error
        return record

    def outcome(self, error: str | None, seconds: float) -> InputOutcome:
        record = self.record("failed" if error else "ok", error, seconds)
        return InputOutcome(self.path, record, tuple(self.written), error)


def _chunks(recipe: Recipe) -> list[range]:
    """Variations in groups run through the pipeline together: a sampler batch at a time, so a
    large ``variations`` never holds every state at once; all together when a stage joins them."""
    if any(getattr(spec.stage, "joins_variations", False) or spec.name == "loop" for spec in recipe.pipeline):
        return [range(recipe.variations)]
    return [range(first, min(first + MAX_BATCH, recipe.variations)) for first in range(0, recipe.variations, MAX_BATCH)]


def split_pipeline(recipe: Recipe) -> tuple[tuple, tuple, tuple]:
    """The recipe's stages as (reading, model, writing): the leading and trailing stages that
    declare ``io = True`` (they touch files, never the model) and everything between."""
    specs = tuple(recipe.pipeline)
    first = 0
    while first < len(specs) and getattr(specs[first].stage, "io", False):
        first += 1
    last = len(specs)
    while last > first and getattr(specs[last - 1].stage, "io", False):
        last -= 1
    return specs[:first], specs[first:last], specs[last:]


def _stages(states: list[State], specs: Sequence[Any], env: Env) -> list[State]:
    for spec in specs:
        with env.timed(f"stage {spec.name}"):
            states = spec.stage(states, env)
    return states


def _new_states(path: Path, recipe: Recipe, env: Env, chunk: range) -> list[State]:
    """The states of one chunk of variations; an output that exists fails now, not after the
    model's work."""
    states = [State(input=path, recipe=recipe, seed=recipe.seed, variation=v) for v in chunk]
    if not env.dry_run:
        for state in states:
            check_replaceable(output_file(state, env), env)
    return states


def _run_input(path: Path, recipe: Recipe, env: Env, log: _InputLog) -> None:
    """Every chunk of variations of one input through the stages; raises what a stage raises."""
    for chunk in _chunks(recipe):
        states = _stages(_new_states(path, recipe, env, chunk), recipe.pipeline, env)
        log.add(states)


def _planned_outputs(path: Path, recipe: Recipe, env: Env) -> list[Path] | None:
    """The files a run of ``path`` would write (a dry pass: no model), or None if it fails."""
    dry = Env(out_dir=env.out_dir, device=env.device, dry_run=True, geometry=env.geometry)
    log = _InputLog(path)
    try:
        _run_input(path, recipe, dry, log)
    except Exception:  # noqa: BLE001 - the real run reports it
        return None
    return [Path(p) for p in log.outputs]


def _error_text(exc: Exception) -> str:
    if isinstance(exc, VampkitError):
        return str(exc)
    if os.environ.get("VAMPKIT_DEBUG"):
        traceback.print_exc()
    return f"{type(exc).__name__}: {exc}"


def _skipped(path: Path, recipe: Recipe, env: Env, started: float) -> InputOutcome | None:
    """The outcome of an input whose outputs all exist already, else None."""
    planned = _planned_outputs(path, recipe, env)
    if planned and all(os.path.lexists(p) for p in planned):
        log = _InputLog(path, outputs=[str(p) for p in planned])
        return InputOutcome(path, log.record("skipped", None, time.time() - started), skipped=True)
    return None


def process_input(path: Path, recipe: Recipe, env: Env, *, skip_existing: bool = False) -> InputOutcome:
    """Run one input (skipped when ``skip_existing`` and its outputs all exist); a failure is
    recorded in the outcome, never raised, so one bad input does not stop a batch."""
    started = time.time()
    if skip_existing and (skipped := _skipped(path, recipe, env, started)) is not None:
        return skipped
    log = _InputLog(path)
    error = None
    try:
        _run_input(path, recipe, env, log)
    except Exception as exc:  # noqa: BLE001 - one bad input must not stop the batch
        error = _error_text(exc)
    return log.outcome(error, time.time() - started)


def failed_outcome(path: Path, error: str, **extra: Any) -> InputOutcome:
    """The outcome of an input that failed outside its stages (e.g. its worker died)."""
    record = {"input": str(path), "status": "failed", "error": error, "outputs": [], **extra}
    return InputOutcome(path, record, error=error)


@attrs.frozen
class InputWork:
    """One input between the stages of a split run (``prepare_input`` -> ``generate_input``
    -> ``finish_input``): its chunks of states, its log, and its outcome once it has one."""

    path: Path
    recipe: Recipe
    chunks: tuple[tuple[State, ...], ...] = ()
    log: _InputLog | None = None
    started: float = 0.0
    outcome: InputOutcome | None = None
    timings: dict[str, float] = attrs.field(factory=dict)

    def step(self, specs: Sequence[Any], env: Env) -> InputWork:
        """Every chunk through ``specs``; a failure ends the input with its outcome."""
        if self.outcome is not None:
            return self
        try:
            chunks = tuple(tuple(_stages(list(chunk), specs, env)) for chunk in self.chunks)
        except Exception as exc:  # noqa: BLE001 - one bad input must not stop the batch
            return attrs.evolve(self, chunks=(), outcome=self.log.outcome(_error_text(exc), time.time() - self.started))
        return attrs.evolve(self, chunks=chunks)


def prepare_input(path: Path, recipe: Recipe, env: Env, skip_existing: bool = False) -> InputWork:
    """The first stage of a split run: skip an input whose outputs exist, check the output
    names, run the reading stages (no model)."""
    started = time.time()
    if skip_existing and (skipped := _skipped(path, recipe, env, started)) is not None:
        return InputWork(path, recipe, outcome=skipped)
    log = _InputLog(path)
    try:
        chunks = tuple(tuple(_new_states(path, recipe, env, chunk)) for chunk in _chunks(recipe))
    except Exception as exc:  # noqa: BLE001 - as in process_input
        return InputWork(path, recipe, outcome=log.outcome(_error_text(exc), time.time() - started))
    reading, _, _ = split_pipeline(recipe)
    return InputWork(path, recipe, chunks, log, started).step(reading, env)


def generate_input(work: InputWork, env: Env) -> InputWork:
    """The model stages of a split run (on the worker that holds the models)."""
    return work.step(split_pipeline(work.recipe)[1], env)


def finish_input(work: InputWork, env: Env) -> InputOutcome:
    """The writing stages of a split run, chunk by chunk, and the input's outcome."""
    if work.outcome is not None:
        return work.outcome
    writing = split_pipeline(work.recipe)[2]
    error = None
    try:
        for chunk in work.chunks:
            work.log.add(_stages(list(chunk), writing, env))
    except Exception as exc:  # noqa: BLE001 - as in process_input
        error = _error_text(exc)
    return work.log.outcome(error, time.time() - work.started)
