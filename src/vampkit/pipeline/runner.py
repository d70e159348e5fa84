"""Run a recipe over inputs: weights first, then each file through the stages, then a manifest.

A failing input does not stop the batch: it is recorded in ``RunResult.failures`` (and the
manifest) and the next input runs. Missing weights stop the run before any audio is read.
"""

from __future__ import annotations

import functools
import glob
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ..errors import RecipeError, VampkitError
from ..paths import lookup_problem, output_path, show
from ..recipes.loader import load_recipe, override
from ..recipes.schema import Recipe
from .engine import Engine, VampNetEngine, checkpoint_paths, geometry_for, resolve_weights
from .executors import Executor, executor_name, run_inputs
from .manifest import build_manifest, manifest_path, new_run_id, write_manifest
from .process import InputOutcome
from .stages import output_file
from ..timing import stage_table, start_recording, stop_recording
from .state import Env, State

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".m4a", ".opus")


@attrs.frozen
class Failure:
    """An input that did not make it, and why."""

    input: str
    error: str


@attrs.frozen
class RunResult:
    """What a run wrote: output files, the manifest (also on disk unless a dry run), failures.

    ``skipped`` are inputs whose outputs all existed (``skip_existing``); ``manifest_error``
    says why the manifest could not be written (the outputs are still there).
    """

    outputs: tuple[Path, ...]
    manifest: dict[str, Any]
    failures: tuple[Failure, ...]
    manifest_path: Path | None = None
    skipped: tuple[Path, ...] = ()
    manifest_error: str | None = None
    run_id: str = ""

    @property
    def ok(self) -> bool:
        return not self.failures and self.manifest_error is None


def expand_inputs(patterns: Iterable[str | os.PathLike]) -> tuple[list[Path], list[Failure]]:
    """Files, globs and folders (audio files inside, sorted) -> files; unmatched ones are failures."""
    files: list[Path] = []
    failures: list[Failure] = []
    for pattern in patterns:
        text = str(pattern)
        path = Path(text)
        if not text.strip():  # an unset shell variable, say: never "the current folder"
            failures.append(Failure(repr(text), "an empty input path"))
            continue
        problem = lookup_problem(text)
        if problem:  # a name no file can have (too long, NUL)
            failures.append(Failure(show(text[:120] + ("..." if len(text) > 120 else "")),
                                    f"not a usable path ({problem})"))
            continue
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
            if not found:
                failures.append(Failure(text, f"no audio files in folder {text}"))
        elif path.exists():
            found = [path]
        elif glob.has_magic(text):
            found = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
            if not found:
                failures.append(Failure(text, f"no files match {text}"))
        else:
            found = []
            failures.append(Failure(text, f"{text}: no such file"))
        files.extend(p for p in found if p not in files)
    return files, failures


def _settings(recipe: Recipe, seed: int | None, variations: int | None, device: str | None,
              weights: Any, precision: str | None = None, compile: bool | None = None,
              lora: Mapping[str, str] | None = None) -> Recipe:
    changes: list[tuple[tuple, Any]] = []
    if precision is not None:
        changes.append((("precision",), str(precision)))
    if compile is not None:
        changes.append((("compile",), bool(compile)))
    if seed is not None:
        changes.append((("seed",), int(seed)))
    if variations is not None:
        changes.append((("variations",), int(variations)))
    if device is not None:
        changes.append((("device",), str(device)))
    if weights is not None:
        if hasattr(weights, "preset"):
            weights = weights.preset if weights.preset is not None else weights.paths
        if isinstance(weights, Mapping):
            weights = {k: str(v) for k, v in weights.items()}
        changes.append((("weights",), weights))
    for role, path in (lora or {}).items():  # on top of the weights (the recipe's or the ones above)
        if role not in ("coarse", "c2f"):
            raise RecipeError(f"lora: unknown model '{role}' (give coarse or c2f)")
        changes.append((("weights", f"{role}_lora"), str(path)))
    return override(recipe, changes) if changes else recipe


def _recipe_folder(recipe: Recipe) -> Path:
    """The recipe's ``output.dir`` (else the current folder); written in a (shared, untrusted)
    recipe file it must be a folder below the current one."""
    folder = recipe.output.dir
    if not folder:
        return Path(".")
    if recipe.source.from_file(("output", "dir")):
        output_path(".", str(folder).rstrip("/\\") or "/", key="output.dir", where=recipe.source.where(("output", "dir")))
    return Path(folder)


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def run_recipe(
    recipe: Recipe | str | os.PathLike,
    inputs: Iterable[str | os.PathLike] | None = None,
    out_dir: str | os.PathLike | None = None,
    *,
    seed: int | None = None,
    variations: int | None = None,
    device: str | None = None,
    weights: Any = None,
    lora: Mapping[str, str] | None = None,
    precision: str | None = None,
    compile: bool | None = None,
    overrides: Iterable[str] = (),
    dry_run: bool = False,
    overwrite: bool = False,
    skip_existing: bool = False,
    engine: Engine | None = None,
    executor: str | Executor = "local",
    progress: Callable[[str, int], Callable[[int], None] | None] | None = None,
    on_input: Callable[[Path, str | None], None] | None = None,
) -> RunResult:
    """Run ``recipe`` over ``inputs`` (files, globs, folders; default: the recipe's ``input``).

    Outputs land inside ``out_dir`` (names that would leave it are refused before any work)
    and never replace a file the run did not create unless ``overwrite``; ``skip_existing``
    skips inputs whose outputs all exist (resuming a batch). ``lora`` maps ``coarse``/``c2f``
    to LoRA files (``vampkit train``'s ``lora.pth``) applied on top of the weights. ``engine`` replaces the VampNet
    models (anything with encode/vamp/decode); ``progress`` makes a per-step callback for a
    label and a total; ``on_input`` is told of each input when it is done (error message or
    None). ``executor`` runs the inputs: ``"local"`` (in this process, the default), ``"ray"``
    or an executor object (``vampkit.pipeline.executors``); outputs are the same bytes either
    way. Returns outputs, manifest and failures; the manifest is written last, as a new file
    named with the run's id, and a failure to write it is ``manifest_error``.
    """
    started = time.perf_counter()
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, overrides)
    elif overrides:
        recipe = override(recipe, list(overrides))
    recipe = _settings(recipe, seed, variations, device, weights, precision, compile, lora)
    patterns = list(inputs) if inputs is not None else list(recipe.inputs)
    if not patterns:
        raise RecipeError(f"{recipe.path}: no inputs: give --input (files, globs or folders) or `input:` in the recipe")
    files, failures = expand_inputs(patterns)
    out = Path(out_dir) if out_dir is not None else _recipe_folder(recipe)
    run_id = new_run_id()
    protected = frozenset(filter(None, (_inode(f) for f in files)))
    env = Env(out_dir=out, device=recipe.device, dry_run=dry_run, step_progress=progress, engine=engine,
              geometry_factory=lambda: geometry_for(recipe.weights), overwrite=overwrite,
              skip_existing=skip_existing, protected=protected)
    recording_token = start_recording(env.timings)  # stage times marked deep inside (coarse, c2f, analyse)
    # names that would leave the output folder stop the run before any model or audio work
    if not dry_run:
        manifest_path(out, recipe, run_id)
    for path in files:
        output_file(State(input=path, recipe=recipe, seed=recipe.seed, variation=0), env)

    checkpoints: dict[str, str] = {}
    bundle = getattr(engine, "bundle", None)
    if engine is not None:
        checkpoints = dict(getattr(engine, "checkpoints", {}) or {})
    elif not dry_run:
        with env.timed("resolve weights"):
            paths = resolve_weights(recipe.weights)  # offline and uncached: stops here, before audio
        bundle = paths.bundle
        env.engine_factory = functools.partial(VampNetEngine, paths, recipe.device, recipe.weights.lora,
                                               precision=recipe.precision, compile=recipe.compile)
        if executor_name(executor) == "local":
            env.engine  # noqa: B018 - load the models now: a bad checkpoint stops before any audio work
            checkpoints = dict(env.engine.checkpoints)
        else:  # remote workers load the models; the driver only checks the files are there
            checkpoints = checkpoint_paths(paths, recipe.weights.lora)
    if dry_run and engine is None:
        env.geometry  # noqa: B018 - a preset without a known grid fails before the inputs

    records: list[dict[str, Any]] = [
        {"input": f.input, "status": "failed", "error": f.error, "outputs": []} for f in failures]
    outcomes: dict[Path, InputOutcome] = {}
    # a dry run loads no model: it runs here, whatever the executor (no workers to start)
    for outcome in run_inputs("local" if dry_run else executor, files, recipe, env, skip_existing=skip_existing):
        outcomes[outcome.path] = outcome
        for label, seconds in outcome.timings.items():  # a remote worker's stage times
            env.timings[label] = env.timings.get(label, 0.0) + seconds
        if on_input is not None:
            on_input(outcome.path, outcome.error)
    outputs: list[Path] = []
    skipped: list[Path] = []
    for path in files:  # the manifest lists inputs in order, whichever worker ran them
        outcome = outcomes[path]
        records.append(outcome.record)
        outputs.extend(outcome.outputs)
        if outcome.skipped:
            skipped.append(path)
        if outcome.error is not None:
            failures.append(Failure(str(path), outcome.error))

    env.timings["total"] = time.perf_counter() - started
    stop_recording(recording_token)
    manifest = build_manifest(recipe, device=str(getattr(env.loaded_engine, "device", recipe.device)),
                              dry_run=dry_run, checkpoints=checkpoints, inputs=records, timings=env.timings,
                              run_id=run_id, bundle=bundle)
    manifest["stages"] = {k: round(v, 4) for k, v in stage_table(env.timings).items()}
    written = manifest_error = None
    if not dry_run:
        manifest["outputs"] = [str(p) for p in outputs]
        try:
            written = write_manifest(out, recipe, manifest)
        except VampkitError as exc:
            manifest_error = str(exc)
    return RunResult(outputs=tuple(outputs), manifest=manifest, failures=tuple(failures), manifest_path=written,
                     skipped=tuple(skipped), manifest_error=manifest_error, run_id=run_id)
