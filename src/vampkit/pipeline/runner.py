"""Run a recipe over inputs: weights first, then each file through the stages, then a manifest.

A failing input does not stop the batch: it is recorded in ``RunResult.failures`` (and the
manifest) and the next input runs. Missing weights stop the run before any audio is read.
"""

from __future__ import annotations

import glob
import os
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from ..errors import RecipeError, VampkitError
from ..recipes.loader import load_recipe, override
from ..recipes.schema import Recipe
from .engine import Engine, VampNetEngine, geometry_for, resolve_weights
from .manifest import build_manifest, manifest_path, write_manifest
from .state import Env, State

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".m4a", ".opus")


@attrs.frozen
class Failure:
    """An input that did not make it, and why."""

    input: str
    error: str


@attrs.frozen
class RunResult:
    """What a run wrote: output files, the manifest (also on disk unless a dry run), failures."""

    outputs: tuple[Path, ...]
    manifest: dict[str, Any]
    failures: tuple[Failure, ...]
    manifest_path: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.failures


def expand_inputs(patterns: Iterable[str | os.PathLike]) -> tuple[list[Path], list[Failure]]:
    """Files, globs and folders (audio files inside, sorted) -> files; unmatched ones are failures."""
    files: list[Path] = []
    failures: list[Failure] = []
    for pattern in patterns:
        text = str(pattern)
        path = Path(text)
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
              weights: Any) -> Recipe:
    changes: list[tuple[tuple, Any]] = []
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
    return override(recipe, changes) if changes else recipe


def _input_record(path: Path, states: Sequence[State], error: str | None, seconds: float) -> dict[str, Any]:
    prompts = [{"variation": s.variation, "point": s.point, **{k: s.info[k] for k in ("kept_fraction", "bitrate")
                if k in s.info}} for s in states if "kept_fraction" in s.info]
    first = prompts[0] if prompts else {}
    outputs = [str(p) for s in states for p in s.outputs] or [s.info["output"] for s in states if "output" in s.info]
    record: dict[str, Any] = {
        "input": str(path),
        "status": "failed" if error else "ok",
        "kept_fraction": first.get("kept_fraction"),
        "bitrate": first.get("bitrate"),
        "prompts": prompts,
        "outputs": outputs,
        "seconds": round(seconds, 4),
    }
    if states and states[0].n_frames is not None:
        record["n_frames"] = states[0].n_frames
    extra = {k: v for k, v in (states[0].info.items() if states else ()) if k not in ("kept_fraction", "bitrate", "output")}
    if extra:
        record["details"] = extra
    if error:
        record["error"] = error
    return record


def run_recipe(
    recipe: Recipe | str | os.PathLike,
    inputs: Iterable[str | os.PathLike] | None = None,
    out_dir: str | os.PathLike | None = None,
    *,
    seed: int | None = None,
    variations: int | None = None,
    device: str | None = None,
    weights: Any = None,
    overrides: Iterable[str] = (),
    dry_run: bool = False,
    engine: Engine | None = None,
    progress: Callable[[str, int], Callable[[int], None] | None] | None = None,
    on_input: Callable[[Path, str | None], None] | None = None,
) -> RunResult:
    """Run ``recipe`` over ``inputs`` (files, globs, folders; default: the recipe's ``input``).

    ``engine`` replaces the VampNet models (anything with encode/vamp/decode); ``progress``
    makes a per-step callback for a label and a total; ``on_input`` is told of each input
    when it is done (error message or None). Returns outputs, manifest and failures.
    """
    started = time.perf_counter()
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, overrides)
    elif overrides:
        recipe = override(recipe, list(overrides))
    recipe = _settings(recipe, seed, variations, device, weights)
    patterns = list(inputs) if inputs is not None else list(recipe.inputs)
    if not patterns:
        raise RecipeError(f"{recipe.path}: no inputs: give --input (files, globs or folders) or `input:` in the recipe")
    files, failures = expand_inputs(patterns)
    out = Path(out_dir if out_dir is not None else (recipe.output.dir or "."))

    env = Env(out_dir=out, device=recipe.device, dry_run=dry_run, step_progress=progress,
              geometry_factory=lambda: geometry_for(recipe.weights))
    checkpoints: dict[str, str] = {}
    if engine is not None:
        env._engine = engine  # noqa: SLF001 - until Env takes an engine publicly (issue 11)
        checkpoints = dict(getattr(engine, "checkpoints", {}) or {})
    elif not dry_run:
        with env.timed("resolve weights"):
            paths = resolve_weights(recipe.weights)  # offline and uncached: stops here, before audio
        env.engine_factory = lambda: VampNetEngine(paths, recipe.device, recipe.weights.lora)
        env.engine  # noqa: B018 - load the models now: a bad checkpoint stops before any audio work
        checkpoints = dict(env.engine.checkpoints)
    if dry_run and engine is None:
        env.geometry  # noqa: B018 - a preset without a known grid fails before the inputs

    records: list[dict[str, Any]] = [
        {"input": f.input, "status": "failed", "error": f.error, "outputs": []} for f in failures]
    outputs: list[Path] = []
    for path in files:
        t0 = time.perf_counter()
        states = [State(input=path, recipe=recipe, seed=recipe.seed, variation=v) for v in range(recipe.variations)]
        error = None
        try:
            for spec in recipe.pipeline:
                with env.timed(f"stage {spec.name}"):
                    states = spec.stage(states, env)
        except VampkitError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - one bad input must not stop the batch
            error = f"{type(exc).__name__}: {exc}"
            if os.environ.get("VAMPKIT_DEBUG"):
                traceback.print_exc()
        if error:
            failures.append(Failure(str(path), error))
        else:
            outputs.extend(p for s in states for p in s.outputs)
        records.append(_input_record(path, states if not error else [], error, time.perf_counter() - t0))
        if on_input is not None:
            on_input(path, error)

    env.timings["total"] = time.perf_counter() - started
    used_device = str(getattr(env._engine, "device", recipe.device))  # noqa: SLF001 - see above
    manifest = build_manifest(recipe, device=used_device,
                              dry_run=dry_run, checkpoints=checkpoints, inputs=records, timings=env.timings)
    written = None
    if not dry_run:
        manifest["outputs"] = [str(p) for p in outputs]
        written = write_manifest(manifest_path(out, recipe), manifest)
    return RunResult(outputs=tuple(outputs), manifest=manifest, failures=tuple(failures), manifest_path=written)
