"""The basic stages: load, encode, mask, vamp, decode, write.

A stage is a frozen attrs class with a ``name``, its parameters as ``param()`` fields, and
``__call__(states, env) -> states``: it sees every state of one input at once, so it can fan
out (variations, sweep points) or join (loops).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import torch

from ..audio import Audio, check_audio, load_audio, mono_mix, resample, resampled_length, save_audio
from ..context import MaskContext
from ..errors import AudioError, OutputExistsError, RecipeError
from ..mask import Mask
from ..params import param
from ..paths import make_folder, name_problem, output_path
from ..prompt import Prompt
from ..validators import duration, positive_duration
from .state import Env, State

DRY_RUN_SKIPS = "skipped in a dry run"


def output_name(template: str, state: State) -> str:
    """The output file name of a state; a sweep point is added when the template lacks it."""
    variation = state.variation if isinstance(state.variation, str) else str(state.variation)
    fields = {"stem": state.stem, "recipe": state.recipe.name, "seed": state.seed,
              "variation": variation, "point": state.point, "ext": "wav"}
    name = template.format(**fields)
    if state.point and "{point}" not in template:
        base, dot, ext = name.rpartition(".")
        name = f"{base}.{state.point}.{ext}" if dot else f"{name}.{state.point}"
    return name


def analyses_for(audio: Audio, geometry: Any, options: dict, cache: dict | None = None) -> dict:
    """Lazy analyses (beats, onsets) of the input's mono mix at the codec's rate, for mask
    generators (recipe key ``analysis``).

    With ``cache`` (one dict per input, shared by its states) each analysis runs at most once
    per input and option set, whatever the number of variations and sweep points.
    """
    from ..analysis import analyses_for as provider

    def build() -> dict:
        lazies = provider(model_audio(audio, geometry, cache), geometry.sample_rate, **options)
        return {name: _once(fn) for name, fn in lazies.items()}

    if cache is None:
        return build()
    key = ("analyses", geometry.sample_rate, _frozen(options))
    if key not in cache:
        cache[key] = build()
    return dict(cache[key])


def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def _once(fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` memoised: the first call's result is kept."""
    result: list[Any] = []

    def call() -> Any:
        if not result:
            result.append(fn())
        return result[0]

    return call


def model_audio(audio: Audio, geometry: Any, cache: dict | None = None) -> torch.Tensor:
    """The input's mono mix at the codec's rate ``(1, samples)``: what masks see as ``ctx.audio``."""
    key = ("model_audio", geometry.sample_rate)
    if cache is not None and key in cache:
        return cache[key]
    samples = audio.samples.to(torch.float32).mean(dim=0, keepdim=True)
    samples = resample(samples, audio.sample_rate, geometry.sample_rate)
    if cache is not None:
        cache[key] = samples
    return samples


def mask_context(state: State, env: Env, n_frames: int) -> MaskContext:
    """The grid of a state for its mask generators, with lazy audio and analyses (built once
    per input: every state of an input shares ``state.analyses``)."""
    geometry = env.geometry
    audio = state.audio
    analyses = {}
    loader = None
    if audio is not None:
        analyses = analyses_for(audio, geometry, dict(state.recipe.analysis), state.analyses)
        loader = _once(lambda: model_audio(audio, geometry, state.analyses))
    return MaskContext(n_codebooks=geometry.n_codebooks, n_frames=n_frames,
                       sample_rate=geometry.sample_rate, hop_length=geometry.hop_length,
                       seed=state.variation_seed, audio_loader=loader, analyses=analyses)


@attrs.frozen
class Load:
    """Read the input audio (optionally an excerpt), at its own rate and channels."""

    name = "load"
    io = True  # touches files, never the model: on Ray it runs as a CPU task before the model's worker

    start: float = param(0.0, doc="seconds skipped at the start", validator=duration)
    duration: float | None = param(None, doc="seconds kept (null: to the end)", validator=positive_duration)

    def __call__(self, states: list[State], env: Env) -> list[State]:
        loaded = load_audio(states[0].input)
        sample_rate = loaded.sample_rate
        first = int(round(self.start * sample_rate))
        last = loaded.length if self.duration is None else first + int(round(self.duration * sample_rate))
        audio = attrs.evolve(loaded, samples=loaded.samples[:, first:last])
        if audio.length == 0:
            raise AudioError(f"{states[0].input}: nothing left after skipping {self.start} s")
        shared: dict = {}  # one analysis cache for every state of this input
        return [s.evolve(audio=audio, analyses=shared).with_info(input_sample_rate=sample_rate) for s in states]


@attrs.frozen
class Encode:
    """Turn the audio into codec tokens (in a dry run: only count the frames).

    Silent input (every sample zero) fails here, in a dry run too, as ``encode_audio`` refuses it.
    """

    name = "encode"

    def __call__(self, states: list[State], env: Env) -> list[State]:
        state = states[0]
        if state.audio is None:
            raise RecipeError("encode: no audio to encode (put `load` before `encode`)")
        check_audio(state.audio)
        if env.dry_run:
            check_audio(mono_mix(state.audio))  # the same warning and refusal as the engine's mono mix
            geometry = env.geometry
            n_frames = geometry.n_frames(resampled_length(state.audio.length, state.audio.sample_rate,
                                                          geometry.sample_rate))
            return [s.evolve(n_frames=n_frames) for s in states]
        encoded = env.engine.encode(state.audio)
        codes = encoded.codes if encoded.codes.dim() == 3 else encoded.codes.unsqueeze(0)
        return [s.evolve(encoded=encoded, codes=codes, n_frames=codes.shape[-1]) for s in states]


def require_frames(state: State, stage: str) -> int:
    if state.n_frames is None:
        raise RecipeError(f"{stage}: no token grid yet (put `encode` before `{stage}`)")
    return state.n_frames


@attrs.frozen
class MaskStage:
    """Build the recipe's mask over each state's grid (its own seed per variation)."""

    name = "mask"
    needs_mask = True

    def __call__(self, states: list[State], env: Env) -> list[State]:
        out = []
        for state in states:
            n_frames = require_frames(state, "mask")
            mask = state.recipe.mask(mask_context(state, env, n_frames))
            out.append(state.evolve(mask=mask).with_info(**prompt_measures(mask, env)))
        return out


def prompt_measures(mask, env: Env) -> dict:  # noqa: ANN001
    geometry = env.geometry
    return {"kept_fraction": mask.kept_fraction(),
            "bitrate": mask.bitrate(geometry.frame_rate, geometry.codebook_size)}


#: Rows sampled together at most: variations of one input share a batched forward per step.
MAX_BATCH = 8


def run_model(state: State, env: Env, codes: torch.Tensor, mask, label: str) -> torch.Tensor:  # noqa: ANN001
    """One call of the engine's vamp on a grid: prompt tokens kept where ``mask`` is False."""
    return run_batch([state], env, codes, mask, label)


def run_batch(states: list[State], env: Env, codes: torch.Tensor, mask, label: str) -> torch.Tensor:  # noqa: ANN001
    """The engine's vamp on a batch of grids ``codes [B, C, T]``, row b seeded by ``states[b]``.

    Each row has its own generator, so a row equals the same state sampled alone.
    """
    geometry = env.geometry
    codes = codes if codes.dim() == 3 else codes.unsqueeze(0)
    prompt = Prompt(codes=codes, mask=mask, frame_rate=geometry.frame_rate, codebook_size=geometry.codebook_size)
    recipe = states[0].recipe
    counter = getattr(env.engine, "vamp_steps", None)  # optional in the Engine protocol
    total = counter(prompt.n_frames, coarse=recipe.sampling, c2f=recipe.c2f) if counter is not None else None
    progress = env.progress(label, total)
    # the sampler draws on the model's device: the generators must live there too
    device = getattr(env.engine, "device", "cpu")
    generators = [state.generator(device) for state in states]
    with env.timed("vamp"):
        out = env.engine.vamp(prompt, coarse=recipe.sampling, c2f=recipe.c2f,
                              generator=generators[0] if len(states) == 1 else generators, progress=progress)
    return out if out.dim() == 3 else out.unsqueeze(0)


@attrs.frozen
class Vamp:
    """Generate the masked tokens: coarse model, then coarse-to-fine.

    Variations (and sweep points) of one input are sampled together, up to ``MAX_BATCH`` rows
    a call: one batched forward pass per step instead of one per variation, same outputs.
    """

    name = "vamp"

    def __call__(self, states: list[State], env: Env) -> list[State]:
        if env.dry_run:
            return states
        for state in states:
            if state.codes is None or state.mask is None:
                raise RecipeError("vamp: needs tokens and a mask (put `encode` and `mask` before `vamp`)")
        out = list(states)
        groups: dict[tuple, list[int]] = {}
        for index, state in enumerate(states):
            groups.setdefault(tuple(state.codes.shape), []).append(index)
        for indices in groups.values():
            for first in range(0, len(indices), MAX_BATCH):
                rows = [states[i] for i in indices[first:first + MAX_BATCH]]
                codes = torch.cat([s.codes if s.codes.dim() == 3 else s.codes.unsqueeze(0) for s in rows])
                mask = Mask(torch.stack([s.mask.tensor[0] if s.mask.is_batched else s.mask.tensor for s in rows]))
                made = run_batch(rows, env, codes, mask, _batch_label(rows))
                for row, i in enumerate(indices[first:first + MAX_BATCH]):
                    out[i] = states[i].evolve(out_codes=made[row:row + 1])
        return out


def _batch_label(states: list[State]) -> str:
    first = states[0]
    variations = f"v{first.variation}" if len(states) == 1 else f"v{first.variation}-{states[-1].variation}"
    return f"{first.stem} {variations}{' ' + first.point if first.point and len(states) == 1 else ''}"


@attrs.frozen
class Decode:
    """Turn the generated tokens back into audio at the input's rate and loudness (trimmed to
    the input's length when the grid kept its length)."""

    name = "decode"

    def __call__(self, states: list[State], env: Env) -> list[State]:
        if env.dry_run:
            return states
        out = []
        for state in states:
            if state.out_codes is None or state.encoded is None:
                raise RecipeError("decode: nothing generated yet (put `encode` and `vamp` before `decode`)")
            with env.timed("decode"):
                audio = env.engine.decode(state.encoded, state.out_codes)
            out.append(state.evolve(out_audio=audio))
        return out


@attrs.frozen
class Write:
    """Write each output through the name template, atomically (no partial files).

    Every name goes through the output-path policy (``vampkit.paths``): it must stay inside
    the output folder. A file this run did not create is never replaced (unless the run
    overwrites), an input of the batch never, and two inputs never share an output.
    """

    name = "write"
    io = True  # as ``load``: on Ray it runs as a CPU task after the model's worker

    def __call__(self, states: list[State], env: Env) -> list[State]:
        paths: dict[Path, State] = {}
        for state in states:
            path = output_file(state, env)
            if path in paths:
                raise RecipeError(
                    f"output.template '{state.recipe.output.template}' gives the same name '{path.name}' to two "
                    f"outputs; add {{variation}} or {{point}} to it")
            paths[path] = state
        if env.dry_run:
            return [s.with_info(output=str(p)) for p, s in paths.items()]
        kept = {path for path in paths if not check_replaceable(path, env)}
        out = []
        for path, state in paths.items():
            if path in kept:  # skip_existing: an earlier run's complete file stays as it is
                out.append(state.evolve(outputs=state.outputs + (path,)).with_info(kept_existing=True))
                continue
            if state.out_audio is None:
                raise RecipeError("write: no audio to write (put `decode` before `write`)")
            with env.timed("write"):
                self._write(path, state, env)
            env.written[Path(os.path.realpath(path))] = state.input
            out.append(state.evolve(outputs=state.outputs + (path,)))
        return out

    @staticmethod
    def _write(path: Path, state: State, env: Env) -> Path:
        """The output (already at the input's sample rate), float WAV, never over the input file."""
        out = state.out_audio
        make_folder(env.out_dir, path)
        return save_audio(path, out.samples.detach().float().cpu(), out.sample_rate, protect=[state.input],
                          subtype="FLOAT", overwrite=env.overwrite)


def output_file(state: State, env: Env) -> Path:
    """The checked path of a state's output inside ``env.out_dir`` (``OutputPathError`` if it
    would land outside), naming the recipe key at fault and where it was written."""
    recipe = state.recipe
    name = output_name(recipe.output.template, state)
    if "{recipe" in recipe.output.template and _escapes(recipe.name):
        key, where = "name", recipe.source.where(("name",))
    else:
        key, where = "output.template", recipe.source.where(("output", "template"))
    return output_path(env.out_dir, name, key=key, where=where)


def _escapes(name: str) -> bool:
    """Whether a recipe name used inside a file name could change the folder it lands in."""
    return name_problem(name) is not None or any(c in name for c in "/\\") or name in (".", "..")


def check_replaceable(path: Path, env: Env) -> bool:
    """Whether to write ``path``: an error if another input of this run wrote it, if it is an
    input, or if it exists without ``overwrite``; False (keep it) when it exists and the run
    skips existing outputs."""
    real = Path(os.path.realpath(path))
    if real in env.written:
        raise OutputExistsError(
            f"refusing to write '{path}': this run already wrote it for input '{env.written[real]}' "
            f"(two inputs with the same name? put more of the input in output.template)")
    try:
        stat = os.stat(path)
    except OSError:
        return True
    if (stat.st_dev, stat.st_ino) in env.protected:
        raise OutputExistsError(f"refusing to write '{path}': it is an input of this batch")
    if env.skip_existing:
        return False
    if not env.overwrite:
        raise OutputExistsError(f"refusing to write '{path}': the file exists and this run did not create it "
                                f"(use --overwrite to replace it, --skip-existing to skip inputs already done)")
    return True
