"""The Gradio page: upload, recipe and mask forms, live preview, batch generation, downloads.

Only layout and wiring live here; what each event does is in ``session`` and ``forms``, and
every generation goes through ``engine.EngineHost.run`` (``vampkit.run_recipe``).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from .. import plugins
from ..errors import ParameterError, VampkitError
from ..masks import build_mask_generator
from ..recipes.loader import shipped_recipes
from ..sampling.settings import SamplingSettings
from . import forms, session
from .engine import EngineHost
from .uploads import guarded_components

log = logging.getLogger("vampkit.app")

N_LAYERS = 3
MAX_VARIATIONS = 8
NONE = "(none)"
LOCAL = "(local file)"
KEEP = {"uploads": 32, "previews": 64, "runs": 16}  # newest entries kept per temp subfolder
SAMPLING_SHOWN = ("steps", "temperature", "mask_temperature", "sample_cutoff", "top_p", "top_k",
                  "typical_filtering", "typical_mass", "draw")

CSS = """
.vk-doc p { font-size: 0.85em; margin: 0; color: #555; }
.vk-error p { color: #b00020; font-weight: 600; }
"""


def _prune(folder: Path, keep: int) -> None:
    """Remove all but the ``keep`` newest entries of a temp subfolder."""
    if not folder.is_dir():
        return
    entries = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)


def _message(exc: BaseException) -> str:
    if isinstance(exc, VampkitError):
        return str(exc)
    log.exception("request failed")
    return f"{type(exc).__name__}: {exc}"


def _widget(gr: Any, field: forms.Field, elem_id: str, value: Any = None) -> Any:
    value = field.default if value is None else value
    if field.kind == "bool":
        return gr.Checkbox(value=bool(value), label=field.label, elem_id=elem_id)
    if field.kind == "choice":
        return gr.Dropdown(choices=list(field.choices), value=value, label=field.label, elem_id=elem_id)
    if field.kind == "int":
        return gr.Number(value=value, precision=0, label=field.label, elem_id=elem_id)
    if field.kind == "float" and field.minimum is not None and field.maximum is not None:
        return gr.Slider(minimum=field.minimum, maximum=field.maximum, value=value, step=0.01,
                         label=field.label, elem_id=elem_id)
    if field.kind == "float":
        return gr.Number(value=value, label=field.label, elem_id=elem_id)
    return gr.Textbox(value=forms.to_widget(field, value), label=field.label + " (YAML)",
                      lines=1, max_lines=4, elem_id=elem_id)


def _docs(fields: Sequence[forms.Field]) -> str:
    lines = [f"**{f.name}** ({f.type}{', ' + f.range if f.range else ''}; "
             f"{'required' if f.required else 'default ' + repr(f.default)}): {f.doc}" for f in fields]
    return "  \n".join(lines) or "no parameters"


class Page:
    """The components of one page and the handlers that read and fill them."""

    def __init__(self, gr: Any, host: EngineHost, temp: Path, max_seconds: float) -> None:
        self.gr = gr
        self.host = host
        self.temp = temp
        self.max_seconds = max_seconds
        self.generators = sorted(plugins.mask_generators())
        self.fields = {name: forms.generator_fields(name) for name in self.generators}
        self.sampling_fields = [f for f in forms.fields_of(SamplingSettings) if f.name in SAMPLING_SHOWN]

    # -- layout --------------------------------------------------------------------------
    def build(self) -> Any:
        gr = self.gr
        recipes = shipped_recipes()
        first = "compress" if "compress" in recipes else (recipes[0] if recipes else LOCAL)
        base = session.base_recipe_data(first) if first != LOCAL else {"name": "app", "mask": "periodic"}
        combinator, layer_specs = forms.decompose(base.get("mask") or "periodic", N_LAYERS)
        audio_input, file_input = guarded_components(gr, self.temp / "incoming")
        with gr.Blocks(title="vampkit", analytics_enabled=False, css=CSS) as blocks:
            gr.Markdown("# vampkit: vamp by ear\nUpload a loop, choose a prompt (mask), listen to "
                        "variations and take away the recipe that makes them.")
            self.upload_state = gr.State(None)
            self.base_state = gr.State(base)
            with gr.Row():
                with gr.Column():
                    with gr.Tab("Upload"):
                        self.upload = audio_input(source="upload", type="filepath", label="audio", elem_id="upload")
                    with gr.Tab("Record"):
                        self.record = audio_input(source="microphone", type="filepath", label="recording",
                                               elem_id="record")
                    with gr.Row():
                        self.start = gr.Number(value=0.0, label="region start (s)", elem_id="region-start")
                        self.duration = gr.Number(value=0.0, label="region duration (s, 0: to the end)",
                                                  elem_id="region-duration")
                    self.upload_status = gr.Markdown("", elem_id="upload-status")
                    with gr.Row():
                        self.recipe = gr.Dropdown(choices=recipes + [LOCAL], value=first, label="recipe",
                                                  elem_id="recipe")
                        self.recipe_file = file_input(label="local recipe (.yaml)", file_types=[".yaml", ".yml"],
                                                   elem_id="recipe-file")
                    self.recipe_status = gr.Markdown("", elem_id="recipe-status")
                    self.combinator = gr.Dropdown(choices=forms.combinators(), value=combinator,
                                                  label="combine the layers with", elem_id="combinator")
                    self.layer_gen, self.layer_groups, self.layer_widgets, self.layer_err = [], [], [], []
                    for i in range(N_LAYERS):
                        self._layer(i, layer_specs[i] if i < len(layer_specs) else None)
                    self.mask_error = gr.Markdown("", elem_id="mask-error")
                with gr.Column():
                    self.preview = gr.Image(label="mask preview (dark = kept prompt tokens)", type="filepath",
                                            interactive=False, elem_id="preview")
                    self.preview_info = gr.Markdown("upload audio to see the mask", elem_id="preview-info")
                    self.beats = gr.Checkbox(value=False, label="mark beats (runs the beat tracker)",
                                             elem_id="mark-beats")
                    self.mask_text = gr.Textbox(value=self._mask_yaml(forms.compose(combinator, layer_specs)),
                                                label="mask (YAML, made by the forms)", interactive=False,
                                                elem_id="mask-yaml")
                    with gr.Accordion("sampling", open=False):
                        sampling = {**base.get("sampling", {})}
                        self.sampling_widgets = [
                            _widget(gr, f, f"sampling-{f.name}", sampling.get(f.name)) for f in self.sampling_fields]
                        self.c2f_steps = gr.Number(value=(base.get("c2f") or {}).get("steps", 2), precision=0,
                                                   label="coarse-to-fine steps", elem_id="c2f-steps")
                        gr.Markdown(_docs(self.sampling_fields))
                    with gr.Row():
                        self.seed = gr.Number(value=int(base.get("seed", 0)), precision=0, label="seed",
                                              elem_id="seed")
                        self.new_seed = gr.Button("new seed", elem_id="new-seed")
                        self.variations = gr.Slider(1, MAX_VARIATIONS, value=int(base.get("variations", 1)),
                                                    step=1, label="variations", elem_id="variations")
                    self.generate = gr.Button("generate", variant="primary", elem_id="generate")
                    self.run_status = gr.Markdown("", elem_id="run-status")
                    self.outputs = [gr.Audio(label=f"variation {i}", visible=False, elem_id=f"output-{i}",
                                             interactive=False) for i in range(MAX_VARIATIONS)]
                    self.downloads = gr.File(label="downloads: audio, manifest, recipe", file_count="multiple",
                                             interactive=False, elem_id="downloads")
            self.form_key = gr.Textbox(visible=False)
            self.preview_key = gr.Textbox(visible=False)
            self._wire()
        return blocks

    def _layer(self, i: int, spec: Any) -> None:
        gr = self.gr
        name, values = forms.layer_values(spec) if spec is not None else (NONE, {})
        choices = self.generators if i == 0 else [NONE] + self.generators
        with gr.Group():
            gen = gr.Dropdown(choices=choices, value=name, label=f"mask layer {i + 1}", elem_id=f"layer{i}-generator")
            groups, widgets = {}, {}
            for g in self.generators:
                with gr.Box(visible=(g == name)) as box:
                    own = values if g == name else {}
                    widgets[g] = [(f, _widget(gr, f, f"layer{i}-{g}-{f.name}", own.get(f.name)))
                                  for f in self.fields[g]]
                    doc = plugins.get_mask_generator(g).__doc__ or ""
                    gr.Markdown(f"*{g}*: {doc.strip().splitlines()[0] if doc.strip() else ''}  \n"
                                + _docs(self.fields[g]))
                groups[g] = box
            err = gr.Markdown("", elem_id=f"layer{i}-error")
        self.layer_gen.append(gen)
        self.layer_groups.append(groups)
        self.layer_widgets.append(widgets)
        self.layer_err.append(err)

    @property
    def field_components(self) -> list[Any]:
        return [w for layer in self.layer_widgets for g in self.generators for _f, w in layer[g]]

    # -- wiring --------------------------------------------------------------------------
    def _wire(self) -> None:
        # Gradio 3 drops an event's trigger while that event is still running, so a quick second
        # edit could leave the page stale: each result carries the key of the inputs it was made
        # from, and a change of that key re-runs the handler if the inputs have moved on since.
        mask_inputs = [self.combinator, *self.layer_gen, *self.field_components]
        mask_outputs = [self.mask_text, self.mask_error, *self.layer_err, self.form_key]
        for i, gen in enumerate(self.layer_gen):
            groups = [self.layer_groups[i][g] for g in self.generators]
            gen.change(self._show_layer, [gen], groups, queue=False)
        for component in mask_inputs:
            component.change(_keyed(self.on_form), mask_inputs, mask_outputs, queue=False)
        self.form_key.change(_catch_up(self.gr, self.on_form, len(mask_outputs)), [*mask_inputs, self.form_key],
                             mask_outputs, queue=False)
        preview_inputs = [self.upload_state, self.base_state, self.mask_text, self.start, self.duration,
                          self.seed, self.beats]
        preview_outputs = [self.preview, self.preview_info, self.preview_key]
        for component in (self.mask_text, self.start, self.duration, self.seed, self.beats):
            component.change(_keyed(self.on_preview), preview_inputs, preview_outputs, queue=False)
        self.preview_key.change(_catch_up(self.gr, self.on_preview, len(preview_outputs)),
                                [*preview_inputs, self.preview_key], preview_outputs, queue=False)
        upload_outputs = [self.upload_state, self.upload_status, self.start, self.duration, *preview_outputs]
        for source in (self.upload, self.record):
            source.change(self.on_upload, [source, *preview_inputs[1:]], upload_outputs, queue=False)
        recipe_outputs = [self.base_state, self.recipe_status, self.combinator, *self.layer_gen,
                          *self.field_components, *self.sampling_widgets, self.c2f_steps, self.variations]
        self.recipe.change(self.on_recipe, [self.recipe], recipe_outputs, queue=False)
        self.recipe_file.change(self.on_recipe_file, [self.recipe_file], [self.recipe, *recipe_outputs], queue=False)
        self.new_seed.click(lambda: secrets.randbelow(2**31), [], [self.seed], queue=False)
        generate_inputs = [self.upload_state, self.base_state, self.mask_text, *self.sampling_widgets,
                           self.c2f_steps, self.seed, self.variations, self.start, self.duration]
        def generate(*args: Any, progress: Any = self.gr.Progress()) -> list[Any]:  # noqa: B008 - Gradio's way
            return self.on_generate(*args, progress=progress)

        self.generate.click(generate, generate_inputs,
                            [self.run_status, *self.outputs, self.downloads], queue=True)

    def _show_layer(self, name: str) -> list[Any]:
        return [self.gr.update(visible=(g == name)) for g in self.generators]

    # -- handlers ------------------------------------------------------------------------
    def _layer_values(self, i: int, gen: str, values: dict[Any, Any]) -> dict[str, Any]:
        return {f.name: forms.from_widget(gen, f, values[id(w)]) for f, w in self.layer_widgets[i][gen]}

    @staticmethod
    def _mask_yaml(spec: Any) -> str:
        return yaml.safe_dump(spec, default_flow_style=True, sort_keys=False, width=10_000).strip().removesuffix("...").strip()

    def on_form(self, combinator: str, *rest: Any) -> list[Any]:
        """Compose the mask from the layer forms; a bad value shows its generator's message."""
        gens, raw = rest[:N_LAYERS], rest[N_LAYERS:]
        values = {id(w): v for w, v in zip(self.field_components, raw)}
        errors = [""] * N_LAYERS
        specs: list[Any] = []
        for i, gen in enumerate(gens):
            if gen in (None, NONE):
                continue
            try:
                spec = forms.layer_spec(gen, self._layer_values(i, gen, values))
                build_mask_generator(spec)  # the generator's own validation
                specs.append(spec)
            except ParameterError as exc:
                errors[i] = f"⚠ {exc}"
        if any(errors):
            return [self.gr.update(), "", *errors]
        try:
            spec = forms.compose(combinator, specs)
            build_mask_generator(spec)
        except ParameterError as exc:
            return [self.gr.update(), f"⚠ {exc}", *errors]
        return [self._mask_yaml(spec), "", *errors]

    def _recipe(self, base: dict, mask_text: str, start: Any, duration: Any, seed: Any, *,
                sampling: dict | None = None, c2f_steps: Any = None, variations: Any = 1,
                upload: session.Upload | None = None) -> Any:
        start = float(start or 0.0)
        duration = float(duration) if duration else None
        problem = session.region_problem(start, duration, upload, self.max_seconds)
        if problem:
            raise ParameterError(f"region: {problem}")
        return session.app_recipe(
            base, mask=yaml.safe_load(mask_text), sampling=sampling or {},
            c2f_steps=None if c2f_steps in (None, "") else int(c2f_steps), seed=int(seed or 0),
            variations=int(variations), start=start, duration=duration,
            weights=self.host.recipe_weights(), device=self.host.device)

    def on_preview(self, upload: session.Upload | None, base: dict, mask_text: str, start: Any, duration: Any,
                   seed: Any, beats: bool) -> list[Any]:
        """Draw the mask over the upload's grid and waveform; kept fraction and prompt bitrate.

        Previews run outside the queue (they never wait behind a generation)."""
        if upload is None or not upload.path.exists():
            return [None, "upload audio to see the mask"]
        return self._draw_preview(upload, base, mask_text, start, duration, seed, beats)

    def _draw_preview(self, upload: session.Upload, base: dict, mask_text: str, start: Any, duration: Any,
                      seed: Any, beats: bool) -> list[Any]:
        from ..preview import preview_recipe

        try:
            recipe = self._recipe(base, mask_text, start, duration, seed, upload=upload)
            if not session.uses_mask(recipe):
                return [None, f"the recipe '{recipe.name}' uses no mask: nothing to preview"]
            folder = self.temp / "previews"
            out = folder / f"preview-{uuid.uuid4().hex[:12]}.png"
            info = preview_recipe(recipe, upload.path, out, geometry=self.host.geometry, waveform=True,
                                  beats=True if beats else None)
            _prune(folder, KEEP["previews"])
        except Exception as exc:  # noqa: BLE001 - a failing preview is a message, never a dead page
            return [None, f"⚠ preview failed: {_message(exc)}"]
        text = (f"kept **{info['kept_fraction']:.1%}** of the tokens · prompt "
                f"**{info['bitrate']:,.0f} bit/s** · {info['n_codebooks']} × {info['n_frames']} tokens")
        return [str(out), text]

    def on_upload(self, value: dict | None, base: dict, mask_text: str, start: Any, duration: Any, seed: Any,
                  beats: bool) -> list[Any]:
        """Stage and check an upload; Gradio's trim becomes the region (so the recipe reproduces it)."""
        gr = self.gr
        if not value:
            return [None, "", gr.update(), gr.update(), None, "upload audio to see the mask", ""]
        incoming = Path(value["path"])
        try:
            upload = session.stage_upload(incoming, self.temp / "uploads", self.max_seconds)
            _prune(self.temp / "uploads", KEEP["uploads"])
        except Exception as exc:  # noqa: BLE001 - the page says what is wrong with the file
            return [None, f"⚠ {_message(exc)}", gr.update(), gr.update(), None, "upload audio to see the mask", ""]
        finally:
            incoming.unlink(missing_ok=True)
        low, high = value.get("crop", (0.0, 100.0))
        start_update: Any = gr.update()
        if (low, high) != (0.0, 100.0):  # Gradio's trim handles: percent of the length
            start = round(upload.duration * low / 100, 3)
            duration = round(upload.duration * (high - low) / 100, 3)
            start_update = start
        elif upload.notice:
            duration = self.max_seconds
        text = upload.notice or f"{upload.duration:.2f} s at {upload.sample_rate} Hz"
        start = float(start or 0.0)
        inputs = (upload, base, mask_text, start, duration, seed, beats)
        image, info = self.on_preview(*inputs)
        changed = (low, high) != (0.0, 100.0) or upload.notice
        return [upload, text, start_update, duration if changed else gr.update(), image, info, _key(inputs)]

    def _apply_base(self, base: dict) -> list[Any]:
        gr = self.gr
        combinator, specs = forms.decompose(base.get("mask") or "periodic", N_LAYERS)
        gens, values = [], []
        chosen: list[tuple[str, dict]] = []
        for i in range(N_LAYERS):
            name, vals = forms.layer_values(specs[i]) if i < len(specs) else (NONE, {})
            gens.append(name)
            chosen.append((name, vals))
        for i in range(N_LAYERS):
            name, vals = chosen[i]
            for g in self.generators:
                for f, _w in self.layer_widgets[i][g]:
                    value = vals.get(f.name, f.default) if g == name else f.default
                    values.append(forms.to_widget(f, value))
        sampling = dict(base.get("sampling") or {})
        sampling_values = [forms.to_widget(f, sampling.get(f.name, f.default)) for f in self.sampling_fields]
        c2f = (base.get("c2f") or {}).get("steps", 2)
        return [base, f"recipe **{base.get('name', '?')}**: {base.get('description', '')}",
                gr.update(value=combinator), *gens, *values, *sampling_values, c2f, int(base.get("variations", 1))]

    def _recipe_outputs_unchanged(self, message: str) -> list[Any]:
        n = 3 + N_LAYERS + len(self.field_components) + len(self.sampling_widgets) + 2
        return [self.gr.update(), message] + _unchanged(self.gr, n - 2)

    def on_recipe(self, choice: str) -> list[Any]:
        try:
            if choice == LOCAL:  # the file upload next to the menu fills the forms
                return _unchanged(self.gr, len(self._recipe_outputs_unchanged("")))
            return self._apply_base(session.base_recipe_data(choice))
        except Exception as exc:  # noqa: BLE001 - a bad recipe file is a message on the page
            return self._recipe_outputs_unchanged(f"⚠ {_message(exc)}")

    def on_recipe_file(self, local: Any) -> list[Any]:
        if local is None:
            return [self.gr.update(), *self._recipe_outputs_unchanged("")]
        try:
            return [LOCAL, *self._apply_base(self._local_recipe(local))]
        except Exception as exc:  # noqa: BLE001 - a bad recipe file is a message on the page
            return [self.gr.update(), *self._recipe_outputs_unchanged(f"⚠ {_message(exc)}")]

    @staticmethod
    def _local_recipe(local: str) -> dict:
        path = Path(local)
        try:
            if path.stat().st_size > 1_000_000:
                raise ParameterError("the recipe file is over 1 MB: refused")
            text = path.read_text(encoding="utf-8", errors="replace")
        finally:
            path.unlink(missing_ok=True)
        return session.check_recipe_text(text, "local recipe")

    def on_generate(self, upload: session.Upload | None, base: dict, mask_text: str, *rest: Any,
                    progress: Any = None) -> list[Any]:
        """N variations in one batch through ``run_recipe``; every failure is a message."""
        gr = self.gr
        n_sampling = len(self.sampling_widgets)
        raw_sampling, (c2f_steps, seed, variations, start, duration) = rest[:n_sampling], rest[n_sampling:]
        hidden = [gr.update(visible=False, value=None) for _ in range(MAX_VARIATIONS)]
        if upload is None or not upload.path.exists():
            return ["⚠ upload audio first", *hidden, None]
        started = time.perf_counter()
        try:
            sampling = {f.name: forms.from_widget("sampling", f, v) for f, v in zip(self.sampling_fields, raw_sampling)}
            recipe = self._recipe(base, mask_text, start, duration, seed, sampling=sampling, c2f_steps=c2f_steps,
                                  variations=variations, upload=upload)
            folder = self.temp / "runs" / f"run-{uuid.uuid4().hex[:12]}"
            result = self.host.run(recipe, upload.path, folder, progress=_progress(progress))
            _prune(self.temp / "runs", KEEP["runs"])
            if result.failures:
                return [f"⚠ generation failed: {result.failures[0].error}", *hidden, None]
            recipe_file = session.write_recipe_yaml(recipe, folder, "YOUR_AUDIO")
        except Exception as exc:  # noqa: BLE001 - a failing request is a message; the server keeps serving
            return [f"⚠ generation failed: {_message(exc)}", *hidden, None]
        outputs = [str(p) for p in result.outputs][:MAX_VARIATIONS]
        players = [gr.update(visible=True, value=p, label=f"variation {i}") for i, p in enumerate(outputs)]
        players += [gr.update(visible=False, value=None) for _ in range(MAX_VARIATIONS - len(players))]
        files = outputs + [str(result.manifest_path), str(recipe_file)]
        status = (f"{len(outputs)} variation(s) of **{recipe.name}**, seed {recipe.seed}, in "
                  f"{time.perf_counter() - started:.1f} s on {self.host.device}")
        return [status, *players, files]


def _key(inputs: Sequence[Any]) -> str:
    """A digest of a handler's inputs (which state of the page a result belongs to)."""
    return hashlib.sha1(repr(tuple(inputs)).encode()).hexdigest()


def _keyed(fn: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
    """``fn``'s outputs and the key of the inputs they were made from."""

    def run(*inputs: Any) -> list[Any]:
        return [*fn(*inputs), _key(inputs)]

    return run


def _catch_up(gr: Any, fn: Callable[..., list[Any]], n_outputs: int) -> Callable[..., list[Any]]:
    """Re-run ``fn`` when the page's inputs are no longer those its shown result was made from."""

    def run(*args: Any) -> list[Any]:
        *inputs, key = args
        if _key(inputs) == key:
            return _unchanged(gr, n_outputs)
        return [*fn(*inputs), _key(inputs)]

    return run


def _unchanged(gr: Any, n: int) -> list[Any]:
    """``n`` fresh no-change updates (Gradio consumes each update dict: never share one)."""
    return [gr.update() for _ in range(n)]


def _progress(progress: Any) -> Callable[[str, int], Callable[[int], None] | None] | None:
    """``run_recipe``'s progress callback drawn on the page's progress bar."""
    if progress is None:
        return None

    def start(label: str, total: int) -> Callable[[int], None]:
        done = [0]
        progress((0, total), desc=label)

        def step(n: int = 1) -> None:
            done[0] += n
            progress((done[0], total), desc=label)

        return step

    return start
