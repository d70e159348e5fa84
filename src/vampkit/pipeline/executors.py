"""Executors: who runs the inputs of a batch. ``local`` runs them one after the other in this
process; ``ray`` hands them to a pool of Ray actors (``pip install 'vampkit[ray]'``), each of
which loads the models once.

Whatever runs them, an input's outputs depend only on the recipe, the seed, the weights and
the input (seeds are per variation, never per worker or arrival order), so the files are the
same bytes, and the manifest lists every input in order.
"""

from __future__ import annotations

import contextlib
import glob
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs

from ..errors import RecipeError, VampkitError
from ..recipes.schema import Recipe
from .process import InputOutcome, process_input
from .stages import output_file
from .state import Env, State

EXECUTORS = ("local", "ray")


class Executor(Protocol):
    """Runs ``process_input`` over the files and yields each outcome as it is done."""

    name: str

    def run(self, files: Sequence[Path], recipe: Recipe, env: Env, *, skip_existing: bool) -> Iterator[InputOutcome]:
        ...


def executor_name(executor: str | Executor) -> str:
    return executor if isinstance(executor, str) else executor.name


def run_inputs(executor: str | Executor, files: Sequence[Path], recipe: Recipe, env: Env, *,
               skip_existing: bool = False) -> Iterator[InputOutcome]:
    """The outcomes of ``files`` from ``executor`` (a name: ``local`` or ``ray`` with defaults)."""
    if isinstance(executor, str):
        if executor == "local":
            executor = LocalExecutor()
        elif executor == "ray":
            executor = RayExecutor()
        else:
            raise RecipeError(f"unknown executor '{executor}' (known: {', '.join(EXECUTORS)})")
    return executor.run(files, recipe, env, skip_existing=skip_existing)


@attrs.frozen
class LocalExecutor:
    """The inputs one after the other, in this process (the default)."""

    name = "local"

    def run(self, files: Sequence[Path], recipe: Recipe, env: Env, *, skip_existing: bool) -> Iterator[InputOutcome]:
        for path in files:
            yield process_input(path, recipe, env, skip_existing=skip_existing)


def import_ray() -> Any:
    """``ray``, or a clear error naming the extra that installs it."""
    try:
        import ray
    except ImportError as exc:
        raise VampkitError("the ray executor needs Ray: pip install 'vampkit[ray]'") from exc
    return ray


class _Worker:
    """A Ray actor's body: one Env (and so one loaded engine) for every input it is given."""

    def __init__(self, env: Env) -> None:
        self.env = env

    def process(self, path: Path, recipe: Recipe, skip_existing: bool) -> InputOutcome:
        return process_input(path, recipe, self.env, skip_existing=skip_existing)


@attrs.frozen
class RayExecutor:
    """A pool of Ray actors, each loading the models once and running whole inputs.

    ``address`` is passed to ``ray.init`` when Ray is not initialised yet (None: a local
    instance on this machine; ``"auto"``: the cluster this machine belongs to); a Ray this
    executor started is shut down when the run ends. An input whose worker dies is retried on a
    fresh worker up to ``max_retries`` times, then reported as failed. Ctrl-C cancels the work
    not started, stops the workers and removes temporary files of the inputs in flight.
    """

    name = "ray"

    address: str | None = None
    workers: int = attrs.field(default=1)
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0
    max_retries: int = 2
    init_options: dict = attrs.field(factory=dict)

    @workers.validator
    def _check_workers(self, _attribute: Any, value: int) -> None:
        if value < 1:
            raise RecipeError(f"--workers must be >= 1, got {value}")

    def run(self, files: Sequence[Path], recipe: Recipe, env: Env, *, skip_existing: bool) -> Iterator[InputOutcome]:
        if not files:
            return
        ray = import_ray()
        started = False
        if not ray.is_initialized():
            options = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False,
                       **self.init_options}
            ray.init(address=self.address, **options)
            started = True
        try:
            yield from self._run(ray, files, recipe, env, skip_existing)
        finally:
            if started:
                ray.shutdown()

    def _run(self, ray: Any, files: Sequence[Path], recipe: Recipe, env: Env,
             skip_existing: bool) -> Iterator[InputOutcome]:
        remote = ray.remote(num_cpus=self.cpus_per_worker, num_gpus=self.gpus_per_worker)(_Worker)
        # the workers get the run's settings; progress bars stay with the driver
        worker_env = attrs.evolve(env, step_progress=None, timings={}, written={})
        env_ref = ray.put(worker_env)
        recipe_ref = ray.put(recipe)
        queue = list(files)
        attempts: dict[Path, int] = {}
        running: dict[Any, tuple[Any, Path]] = {}
        idle = [remote.remote(env_ref) for _ in range(min(self.workers, len(files)))]
        try:
            while queue or running:
                while queue and idle:
                    actor, path = idle.pop(), queue.pop(0)
                    attempts[path] = attempts.get(path, 0) + 1
                    running[actor.process.remote(path, recipe_ref, skip_existing)] = (actor, path)
                done, _ = ray.wait(list(running), num_returns=1)
                actor, path = running.pop(done[0])
                try:
                    outcome = ray.get(done[0])
                except ray.exceptions.RayActorError as exc:
                    if getattr(exc, "actor_init_failed", False):
                        raise VampkitError(f"a Ray worker could not start: {_first_line(exc)}") from None
                    ray.kill(actor)
                    idle.append(remote.remote(env_ref))
                    if attempts[path] <= self.max_retries:
                        queue.insert(0, path)
                        continue
                    error = f"its worker died {attempts[path]} times while running it; last: {_first_line(exc)}"
                    outcome = InputOutcome(path, {"input": str(path), "status": "failed", "error": error,
                                                  "outputs": [], "attempts": attempts[path]}, error=error)
                except ray.exceptions.RayTaskError as exc:  # a bug outside process_input's own handling
                    idle.append(actor)
                    error = f"{type(exc.cause).__name__ if exc.cause else 'RayTaskError'}: {exc.cause or exc}"
                    outcome = InputOutcome(path, {"input": str(path), "status": "failed", "error": error,
                                                  "outputs": []}, error=error)
                else:
                    idle.append(actor)
                if attempts.get(path, 1) > 1 and outcome.error is None:
                    outcome = attrs.evolve(outcome, record={**outcome.record, "attempts": attempts[path]})
                yield outcome
        except BaseException:
            in_flight = [path for _, path in running.values()]
            for ref in running:
                ray.cancel(ref, force=False)
            for actor in {id(a): a for a, _ in running.values()}.values():
                ray.kill(actor)
            for actor in idle:
                ray.kill(actor)
            _remove_temporaries(in_flight, recipe, env)
            raise
        for actor in idle:
            ray.kill(actor)


def _first_line(exc: BaseException) -> str:
    """The first line of an error, without the colour codes Ray puts in its messages."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _remove_temporaries(paths: Sequence[Path], recipe: Recipe, env: Env) -> None:
    """Temporary files a killed worker may have left for the outputs of ``paths``."""
    time.sleep(0.2)  # let killed workers exit
    for path in paths:
        for variation in range(recipe.variations):
            try:
                target = output_file(State(input=path, recipe=recipe, seed=recipe.seed, variation=variation), env)
            except VampkitError:
                continue
            stem = os.fsdecode(os.fsencode(target.stem)[:80])
            for leftover in glob.glob(os.path.join(glob.escape(str(target.parent)), f".{glob.escape(stem)}.*.part*")):
                with contextlib.suppress(OSError):
                    os.unlink(leftover)
