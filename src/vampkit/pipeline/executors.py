"""Executors: who runs the inputs of a batch. ``local`` runs them one after the other in this
process; ``ray`` hands them to a pool of Ray actors (``pip install 'vampkit[ray]'``), each of
which loads the models once.

Whatever runs them, an input's outputs depend only on the recipe, the seed, the weights and
the input (seeds are per variation, never per worker or arrival order), so the files are the
same bytes, and the manifest lists every input in order.

On Ray an input goes through three stages (``vampkit.pipeline.process``): its reading stages
run as a CPU task, its model stages on an actor that holds the models, its writing stages as
another CPU task, so an actor samples the next input while the last one is written and the
next-but-one is read. ``RayExecutor.map`` is the one road to the actor pool; ``vampkit eval``
sends its excerpt batches down it too.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs

from ..errors import RecipeError, VampkitError
from ..recipes.schema import Recipe
from ..timing import recording
from .process import (
    InputOutcome,
    InputWork,
    failed_outcome,
    finish_input,
    generate_input,
    prepare_input,
    process_input,
)
from .stages import output_file
from .state import Env, State

EXECUTORS = ("local", "ray")
#: calls queued on one actor at a time: one running, one whose input is being read meanwhile
ACTOR_DEPTH = 2


class Executor(Protocol):
    """Runs ``process_input`` over the files and yields each outcome as it is done."""

    name: str

    def run(self, files: Sequence[Path], recipe: Recipe, env: Env, *, skip_existing: bool) -> Iterator[InputOutcome]:
        ...


def executor_name(executor: str | Executor) -> str:
    return executor if isinstance(executor, str) else executor.name


def make_executor(executor: str | Executor) -> Executor:
    """An executor by name (``local`` or ``ray`` with defaults), or the one given."""
    if not isinstance(executor, str):
        return executor
    if executor == "local":
        return LocalExecutor()
    if executor == "ray":
        return RayExecutor()
    raise RecipeError(f"unknown executor '{executor}' (known: {', '.join(EXECUTORS)})")


def run_inputs(executor: str | Executor, files: Sequence[Path], recipe: Recipe, env: Env, *,
               skip_existing: bool = False) -> Iterator[InputOutcome]:
    """The outcomes of ``files`` from ``executor`` (a name: ``local`` or ``ray`` with defaults)."""
    return make_executor(executor).run(files, recipe, env, skip_existing=skip_existing)


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


class ActorBody:
    """Base of the classes ``RayExecutor.map`` runs as actors: ``ready`` answers once started."""

    def ready(self) -> bool:
        return True


class _Worker(ActorBody):
    """A Ray actor's body for ``vampkit run``: one Env (one loaded engine) for all its inputs."""

    def __init__(self, env: Env) -> None:
        self.env = env

    def generate(self, work: InputWork) -> InputWork:
        done, spent = _recorded(self.env, generate_input, work, self.env)
        return attrs.evolve(done, timings=_added(work.timings, spent))

    def process(self, path: Path, recipe: Recipe, skip_existing: bool) -> InputOutcome:
        outcome, spent = _recorded(self.env, process_input, path, recipe, self.env, skip_existing=skip_existing)
        return attrs.evolve(outcome, timings=spent)


def _read(path: Path, recipe: Recipe, env: Env, skip_existing: bool) -> InputWork:
    """The reading task of a split run (``prepare_input``, with its stage times)."""
    work, spent = _recorded(env, prepare_input, path, recipe, env, skip_existing)
    return attrs.evolve(work, timings=spent)


def _write(work: InputWork, env: Env) -> InputOutcome:
    """The writing task of a split run (``finish_input``), with every part's stage times."""
    outcome, spent = _recorded(env, finish_input, work, env)
    return attrs.evolve(outcome, timings=_added(work.timings, spent))


def _recorded(env: Env, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, dict[str, float]]:
    """``fn(*args)`` and the stage seconds it added (the Env's own and deep ``timed`` marks), for
    a driver that cannot see a worker's ``env.timings``."""
    before = dict(env.timings)
    with recording(env.timings):
        result = fn(*args, **kwargs)
    return result, {k: v - before.get(k, 0.0) for k, v in env.timings.items() if v != before.get(k, 0.0)}


def _added(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {k: a.get(k, 0.0) + b.get(k, 0.0) for k in {**a, **b}}


@attrs.frozen
class Returned:
    """What came back for one item of ``RayExecutor.map``: the value, or the error its call
    raised, or (``lost``) why it was given up after its workers died ``attempts`` times."""

    item: Any
    value: Any = None
    error: BaseException | None = None
    lost: str | None = None
    attempts: int = 1


@attrs.define
class _Call:
    item: Any
    actor: Any
    middle: Any  # the actor call's reference
    final: Any  # the reference the driver waits on


@attrs.frozen
class RayExecutor:
    """A pool of Ray actors, each loading the models once.

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
    #: CPUs each reading or writing task reserves: none by default, so tasks never wait behind
    #: workers that hold every CPU (they are bounded by ``ACTOR_DEPTH`` per worker anyway)
    cpus_per_io_task: float = 0.0
    max_retries: int = 2
    #: run reading and writing apart from the workers (True), or whole inputs on the workers
    #: (False); None: apart when the workers have GPUs (then the CPUs are free for the files;
    #: on CPU-only workers the extra processes would only compete for the same cores)
    split_io: bool | None = None
    init_options: dict = attrs.field(factory=dict)

    @workers.validator
    def _check_workers(self, _attribute: Any, value: int) -> None:
        if value < 1:
            raise RecipeError(f"--workers must be >= 1, got {value}")

    @contextlib.contextmanager
    def session(self) -> Iterator[Any]:
        """``ray``, initialised (and shut down again at the end if this call started it)."""
        ray = import_ray()
        started = False
        if not ray.is_initialized():
            options = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False,
                       **self.init_options}
            ray.init(address=self.address, **options)
            started = True
        try:
            if started and self.address is None:
                self.check_fits(ray.cluster_resources())
            yield ray
        finally:
            if started:
                ray.shutdown()

    def check_fits(self, resources: dict[str, float]) -> None:
        """On a Ray of this machine alone (no autoscaler), a worker that can never start is an
        error now rather than a wait for ever."""
        for what, need, option in (("GPU", self.gpus_per_worker, "--gpus-per-worker"),
                                   ("CPU", self.cpus_per_worker, "cpus_per_worker")):
            have = resources.get(what, 0.0)
            if need > have:
                raise VampkitError(f"{option} {need:g}: this machine's Ray has {have:g} {what}s; "
                                   "no worker could start")

    def run(self, files: Sequence[Path], recipe: Recipe, env: Env, *, skip_existing: bool) -> Iterator[InputOutcome]:
        if not files:
            return
        with self.session() as ray:
            # the workers get the run's settings; progress bars stay with the driver
            plain = attrs.evolve(env, step_progress=None, timings={}, written={})
            worker_env = ray.put(plain)
            # the reading and writing tasks never carry a model: only its grid, for skip_existing
            loaded = env.loaded_engine
            io_env = ray.put(attrs.evolve(plain, engine=None, engine_factory=None,
                                          geometry=loaded.geometry if loaded is not None else None))
            recipe_ref = ray.put(recipe)
            cleanup = functools.partial(_remove_temporaries, recipe=recipe, env=env)
            if self.split_io if self.split_io is not None else self.gpus_per_worker > 0:
                read = ray.remote(num_cpus=self.cpus_per_io_task, max_retries=self.max_retries)(_read)
                write = ray.remote(num_cpus=self.cpus_per_io_task, max_retries=0)(_write)
                calls = self.map(_Worker, (worker_env,), files, "generate",
                                 before=lambda path: read.remote(path, recipe_ref, io_env, skip_existing),
                                 after=lambda ref: write.remote(ref, io_env), on_interrupt=cleanup)
            else:
                calls = self.map(_Worker, (worker_env,), files, "process", args=(recipe_ref, skip_existing),
                                 on_interrupt=cleanup)
            for returned in calls:
                yield _outcome(returned)

    def map(self, body: type, init_args: tuple, items: Sequence[Any], method: str, *,
            args: tuple = (), before: Callable[[Any], Any] | None = None,
            after: Callable[[Any], Any] | None = None,
            on_interrupt: Callable[[list[Any]], None] | None = None) -> Iterator[Returned]:
        """Each item through ``body(*init_args).method(x, *args)`` on a pool of actors, yielded
        as each is done.

        ``x`` is the item, or what ``before(item)`` gives (a reference: a CPU task run ahead of
        the actor); ``after(reference)`` is run on the actor's result (a CPU task, while the
        actor goes on). Call inside ``session()``. The items of an actor that dies go to a
        fresh one; only the call that was running is charged a try, and an item that keeps
        killing workers is given up after ``max_retries`` retries (``Returned.lost``).
        """
        import ray

        remote = ray.remote(num_cpus=self.cpus_per_worker, num_gpus=self.gpus_per_worker)(body)
        pool = _Pool(items)

        def start() -> None:  # work goes to an actor once it has started (workers beyond the
            actor = remote.remote(*init_args)  # cluster's resources wait without holding any)
            pool.starting[actor.ready.remote()] = actor

        for _ in range(min(self.workers, len(items))):
            start()
        try:
            while pool.queue or pool.outstanding():
                for actor in pool.actors():
                    while pool.queue and len(pool.calls[actor]) < ACTOR_DEPTH:
                        item = pool.queue.popleft()
                        source = before(item) if before is not None else item
                        middle = getattr(actor, method).remote(source, *args)
                        pool.calls[actor].append(_Call(item, actor, middle, after(middle) if after else middle))
                call = pool.next_done(ray)
                if call is None:  # an actor has started, or died starting
                    if not pool.starting and not pool.actors():
                        start()
                    continue
                try:
                    value = ray.get(call.final)
                except ray.exceptions.RayActorError as exc:
                    if getattr(exc, "actor_init_failed", False):
                        raise VampkitError(f"a Ray worker could not start: {_first_line(exc)}") from None
                    ray.kill(call.actor)
                    start()
                    for item in pool.retire(ray, call, self.max_retries):
                        yield Returned(item, lost=f"its worker died {pool.tries(item)} times while running it; "
                                                  f"last: {_first_line(exc)}", attempts=pool.tries(item))
                except ray.exceptions.RayTaskError as exc:
                    yield Returned(call.item, error=exc.cause if exc.cause is not None else exc,
                                   attempts=pool.tries(call.item))
                except ray.exceptions.WorkerCrashedError as exc:
                    yield Returned(call.item, lost=f"its worker died: {_first_line(exc)}", attempts=pool.tries(call.item))
                else:
                    yield Returned(call.item, value=value, attempts=pool.tries(call.item))
        except BaseException:
            in_flight = [call.item for calls in pool.calls.values() for call in calls]
            for calls in pool.calls.values():
                for call in calls:
                    ray.cancel(call.final, force=False)
            for actor in [*pool.actors(), *pool.starting.values()]:
                ray.kill(actor)
            if on_interrupt is not None:
                on_interrupt(in_flight)
            raise
        for actor in [*pool.actors(), *pool.starting.values()]:
            ray.kill(actor)


class _Pool:
    """The driver's ledger of ``RayExecutor.map``: items waiting, actors starting, calls out per
    started actor (key None: calls whose actor died after their actor part was done), tries
    charged per item."""

    def __init__(self, items: Sequence[Any]) -> None:
        self.order = {id(item): i for i, item in enumerate(items)}
        self.queue: deque = deque(items)
        self.starting: dict[Any, Any] = {}  # ready reference -> actor
        self.calls: dict[Any, list[_Call]] = {None: []}
        self.charged: dict[int, int] = {}

    def actors(self) -> list[Any]:
        return [actor for actor in self.calls if actor is not None]

    def outstanding(self) -> bool:
        return any(self.calls.values())

    def tries(self, item: Any) -> int:
        return self.charged.get(self.order[id(item)], 0) + 1

    def next_done(self, ray: Any) -> _Call | None:
        """The next call whose final reference is ready, taken off its actor's list; None when
        what came first was an actor that started (it joins the pool)."""
        finals = {call.final: call for calls in self.calls.values() for call in calls}
        waiting = list(finals) + (list(self.starting) if self.queue else [])
        done, _ = ray.wait(waiting, num_returns=1)
        if done[0] in self.starting:
            actor = self.starting.pop(done[0])
            try:
                ray.get(done[0])
            except ray.exceptions.RayActorError as exc:
                if getattr(exc, "actor_init_failed", False):
                    raise VampkitError(f"a Ray worker could not start: {_first_line(exc)}") from None
                return None  # died while starting: its replacement is not started here
            self.calls[actor] = []
            return None
        call = finals[done[0]]
        owner = call.actor if call in self.calls.get(call.actor, []) else None
        self.calls[owner].remove(call)
        return call

    def retire(self, ray: Any, dead: _Call, max_retries: int) -> list[Any]:
        """After ``dead``'s actor died: its calls whose actor part was done stay awaited, the
        first one that failed (it was running; calls run in order) is charged a try, and all
        that failed go back to the front of the queue; returns the items out of tries."""
        calls = sorted([dead, *self.calls.pop(dead.actor, [])], key=lambda c: self.order[id(c.item)])
        charged = False
        requeue, lost = [], []
        for call in calls:
            if call is not dead and _succeeded(ray, call.middle):
                self.calls[None].append(call)
                continue
            key = self.order[id(call.item)]
            if not charged:
                charged = True
                if self.charged.get(key, 0) >= max_retries:
                    lost.append(call.item)
                    continue
                self.charged[key] = self.charged.get(key, 0) + 1
            requeue.append(call.item)
        self.queue.extendleft(reversed(requeue))
        return lost


def _succeeded(ray: Any, ref: Any) -> bool:
    """Whether an actor call finished without error (fetching its value: only after a death)."""
    try:
        ray.get(ref, timeout=30)
    except Exception:  # noqa: BLE001 - any failure (dead actor, or no answer) means: run it again
        return False
    return True


def _outcome(returned: Returned) -> InputOutcome:
    """The manifest outcome of one input from what its Ray stages returned."""
    path = returned.item
    if returned.lost is not None:
        return failed_outcome(path, returned.lost, attempts=returned.attempts)
    if returned.error is not None:  # a bug outside process_input's own handling
        exc = returned.error
        return failed_outcome(path, f"{type(exc).__name__}: {exc}")
    outcome = returned.value
    if returned.attempts > 1 and outcome.error is None:
        outcome = attrs.evolve(outcome, record={**outcome.record, "attempts": returned.attempts})
    return outcome


def _first_line(exc: BaseException) -> str:
    """The first line of an error, without the colour codes Ray puts in its messages."""
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
