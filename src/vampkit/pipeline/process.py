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


def _chunks(recipe: Recipe) -> list[range]:
    """Variations in groups run through the pipeline together: a sampler batch at a time, so a
    large ``variations`` never holds every state at once; all together when a stage joins them."""
    if any(getattr(spec.stage, "joins_variations", False) or spec.name == "loop" for spec in recipe.pipeline):
        return [range(recipe.variations)]
    return [range(first, min(first + MAX_BATCH, recipe.variations)) for first in range(0, recipe.variations, MAX_BATCH)]


def _run_input(path: Path, recipe: Recipe, env: Env, log: _InputLog) -> None:
    """Every chunk of variations of one input through the stages; raises what a stage raises."""
    for chunk in _chunks(recipe):
        states = [State(input=path, recipe=recipe, seed=recipe.seed, variation=v) for v in chunk]
        if not env.dry_run:
            for state in states:  # an output that exists fails now, not after the model's work
                check_replaceable(output_file(state, env), env)
        for spec in recipe.pipeline:
            with env.timed(f"stage {spec.name}"):
                states = spec.stage(states, env)
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


def process_input(path: Path, recipe: Recipe, env: Env, *, skip_existing: bool = False) -> InputOutcome:
    """Run one input (skipped when ``skip_existing`` and its outputs all exist); a failure is
    recorded in the outcome, never raised, so one bad input does not stop a batch."""
    t0 = time.perf_counter()
    log = _InputLog(path)
    if skip_existing:
        planned = _planned_outputs(path, recipe, env)
        if planned and all(os.path.lexists(p) for p in planned):
            log.outputs = [str(p) for p in planned]
            return InputOutcome(path, log.record("skipped", None, time.perf_counter() - t0), skipped=True)
    error = None
    try:
        _run_input(path, recipe, env, log)
    except Exception as exc:  # noqa: BLE001 - one bad input must not stop the batch
        error = _error_text(exc)
    record = log.record("failed" if error else "ok", error, time.perf_counter() - t0)
    return InputOutcome(path, record, tuple(log.written), error)
