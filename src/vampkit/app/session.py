"""What the page does, without the page: check and stage uploads, build the recipe a form
describes, preview its mask, and write the recipe YAML that reproduces a run."""

from __future__ import annotations

import copy
import math
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml

from ..errors import AudioError
from ..pipeline.runner import AUDIO_EXTENSIONS
from ..recipes.loader import SourceMap, recipe_from_data, resolve_recipe_path
from ..recipes.schema import DEFAULT_PIPELINE, Recipe

SILENCE_PEAK = 1e-4  # -80 dBFS: below this an upload is treated as silent
DEFAULT_MAX_SECONDS = 120.0


@attrs.frozen
class Upload:
    """An upload copied into the app's temporary folder, with what the page says about it."""

    path: Path
    duration: float
    sample_rate: int
    notice: str = ""


def stage_upload(source: str | os.PathLike, folder: Path, max_seconds: float = DEFAULT_MAX_SECONDS) -> Upload:
    """Copy an upload to ``folder`` under a name of our making, then check it is usable audio.

    Nothing of the upload's own name reaches the path but a known audio extension. Unreadable,
    empty and silent audio raise ``AudioError``; a long one gets a notice (pick a region).
    """
    from ..audio import load_audio

    source = Path(source)
    suffix = source.suffix.lower() if source.suffix.lower() in AUDIO_EXTENSIONS else ""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"upload-{uuid.uuid4().hex[:12]}{suffix}"
    try:
        shutil.copyfile(source, target)
    except OSError as exc:
        raise AudioError(f"the upload cannot be read ({exc.strerror or exc})") from exc
    try:
        audio = load_audio(target)
    except AudioError as exc:
        target.unlink(missing_ok=True)
        raise AudioError(str(exc).replace(str(target), source.name)) from exc
    if audio.length == 0:
        target.unlink(missing_ok=True)
        raise AudioError(f"'{source.name}' holds no samples (empty audio)")
    peak = float(audio.samples.abs().max())
    if not math.isfinite(peak) or peak < SILENCE_PEAK:
        target.unlink(missing_ok=True)
        raise AudioError(f"'{source.name}' is silent (peak below -80 dBFS): there is nothing to vamp on")
    notice = ""
    if audio.duration > max_seconds:
        notice = (f"'{source.name}' is {audio.duration:.1f} s long; the app vamps at most {max_seconds:g} s "
                  f"at a time, so the region is set to its first {max_seconds:g} s: move it with start/duration.")
    return Upload(target, audio.duration, audio.sample_rate, notice)


def base_recipe_data(name_or_path: str | os.PathLike) -> dict[str, Any]:
    """The plain data of a shipped recipe (by name) or a local recipe file, validated once."""
    from ..recipes.loader import load_recipe

    recipe = load_recipe(str(resolve_recipe_path(name_or_path)))
    return copy.deepcopy(dict(recipe.data))


def region_problem(start: float, duration: float | None, upload: Upload | None, max_seconds: float) -> str | None:
    """Why a region cannot be vamped, or None."""
    if start is None or start < 0:
        return "start must be >= 0 seconds"
    if duration is not None and duration <= 0:
        return "duration must be > 0 seconds (0 or empty: to the end)"
    if upload is None:
        return None
    if start >= upload.duration:
        return f"start {start:g} s is past the end of the audio ({upload.duration:.2f} s)"
    length = upload.duration - start if duration is None else min(duration, upload.duration - start)
    if length > max_seconds:
        return f"the region is {length:.1f} s long; the app vamps at most {max_seconds:g} s: shorten it"
    return None


def app_recipe(base: Mapping[str, Any], *, mask: Any, sampling: Mapping[str, Any], c2f_steps: int | None,
               seed: int, variations: int, start: float, duration: float | None,
               weights: Any, device: str) -> Recipe:
    """The recipe a page's settings describe: the base recipe with the form's mask, knobs,
    seed, variations and region (as the ``load`` stage's start/duration), validated."""
    data = copy.deepcopy(dict(base))
    data.pop("input", None)
    data.pop("output", None)
    data["weights"] = weights
    data["device"] = device
    data["seed"] = int(seed)
    data["variations"] = int(variations)
    data["mask"] = mask
    data["sampling"] = {**dict(data.get("sampling") or {}), **dict(sampling)}
    if c2f_steps is not None:
        data["c2f"] = {**dict(data.get("c2f") or {}), "steps": int(c2f_steps)}
    data["pipeline"] = _with_region(data.get("pipeline"), start, duration)
    return recipe_from_data(data, SourceMap("<app>"), default_name=str(data.get("name") or "app"))


def _with_region(pipeline: Any, start: float, duration: float | None) -> list[Any]:
    items = list(pipeline) if pipeline is not None else list(DEFAULT_PIPELINE)
    region = {k: v for k, v in (("start", float(start)), ("duration", duration)) if v not in (None, 0.0)}
    out = []
    for item in items:
        name, params = (item, {}) if isinstance(item, str) else next(iter(item.items()))
        if name == "load":
            merged = {k: v for k, v in dict(params or {}).items() if k not in ("start", "duration")}
            merged.update(region)
            item = {"load": merged} if merged else "load"
        out.append(item)
    return out


def uses_mask(recipe: Recipe) -> bool:
    return any(getattr(s.stage, "needs_mask", False) for s in recipe.pipeline)


def recipe_yaml(recipe: Recipe, input_name: str) -> str:
    """The YAML of a recipe the app ran: ``vampkit run`` with it on the same input reproduces it."""
    from ..pipeline.manifest import jsonable

    data = jsonable(dict(recipe.data))
    header = (f"# Made by `vampkit app`. Reproduce this run on the same audio:\n"
              f"#   vampkit run {recipe.name}.{recipe.seed}.recipe.yaml --input {input_name}\n")
    return header + yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)


def write_recipe_yaml(recipe: Recipe, folder: Path, input_name: str) -> Path:
    from ..atomic import write_text

    return write_text(folder / f"{recipe.name}.{recipe.seed}.recipe.yaml", recipe_yaml(recipe, input_name))


def check_recipe_text(text: str, file: str) -> dict[str, Any]:
    """A local recipe file's data (validated), for the recipe menu."""
    from ..recipes.loader import loads_recipe

    recipe = loads_recipe(text, file=file, default_name=Path(file).stem)
    return copy.deepcopy(dict(recipe.data))
