"""The ``vampkit`` command line.

Only click and vampkit's errors are imported at module level: every command imports what it
needs (torch, the plugins, the pipeline) inside its body, so ``vampkit --help`` stays quick
(benchmarks/cli_startup.py measures it; tests/test_cli_commands.py checks no torch is loaded).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import click

from .errors import ParameterError, RecipeError, UnknownNameError, VampkitError

#: exit codes of every command (README "Exit codes", docs/recipes.md)
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def exit_code_for(exc: VampkitError) -> int:
    """2 for a usage or recipe error (nothing was run: click's convention), 1 for the rest."""
    return EXIT_USAGE if isinstance(exc, (RecipeError, ParameterError, UnknownNameError)) else EXIT_FAILED


class VampkitGroup(click.Group):
    """Turns vampkit errors into a one-line message (no traceback) and the documented exit code:
    2 for a usage or recipe error, 1 for any other failure."""

    def invoke(self, ctx: click.Context):  # noqa: ANN201
        try:
            return super().invoke(ctx)
        except VampkitError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exit_code_for(exc))


@click.group(cls=VampkitGroup)
@click.version_option(package_name="vampkit")
def cli() -> None:
    """Prompt masked acoustic token models of music (VampNet) with composable masks."""


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Output as JSON.")
@click.option("--all", "show_all", is_flag=True, help="Include vampkit's built-in plugins.")
def plugins_command(as_json: bool, show_all: bool) -> None:
    """List loaded plugins and what each one registers.

    \b
    Examples:
      vampkit plugins
      vampkit plugins --all --json
    """
    from . import plugins

    infos = [p for p in plugins.list_plugins() if show_all or not p.builtin]
    if as_json:
        click.echo(json.dumps([
            {"name": p.name, "version": p.version, "builtin": p.builtin, "hooks": list(p.hooks),
             "registers": {k: list(v) for k, v in p.registers.items()}}
            for p in infos
        ], indent=2))
        return
    if not infos:
        click.echo("No plugins installed (use --all to list vampkit's built-ins).")
    for p in infos:
        version = f" {p.version}" if p.version else ""
        click.echo(f"{p.name}{version}{' (built-in)' if p.builtin else ''}")
        for kind, names in p.registers.items():
            click.echo(f"  {kind}: {', '.join(names)}")


@cli.command("masks")
@click.option("--json", "as_json", is_flag=True, help="Output as JSON.")
def masks_command(as_json: bool) -> None:
    """List every mask generator with its parameters, types, defaults and doc.

    \b
    Examples:
      vampkit masks
      vampkit masks --json
    """
    from . import plugins
    from .params import describe, first_line
    from .plaindata import jsonable, yaml_text

    rows = []
    for name, reg in sorted(plugins.registered("masks").items()):
        rows.append({
            "name": name,
            "plugin": reg.plugin,
            "doc": first_line(reg.obj.__doc__),
            "parameters": [
                {"name": p.name, "type": p.type, "default": jsonable(p.default),
                 "required": p.required, "doc": p.doc}
                for p in describe(reg.obj)
            ],
        })
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['name']}  [{row['plugin']}]")
        click.echo(f"  {row['doc']}")
        for p in row["parameters"]:
            default = "required" if p["required"] else f"default {yaml_text(p['default'])}"
            click.echo(f"    {p['name']}: {p['type']} ({default}) {p['doc']}")


_SET_HELP = "Override a recipe value: KEY=VALUE (dotted key, YAML value). Repeatable."


def executor_options(command: Callable) -> Callable:
    """--executor, --address, --workers, --gpus-per-worker: who runs the work (run and eval)."""
    options = [
        click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="Who runs the work: this process, or a pool of Ray workers (pip install 'vampkit[ray]')."),
        click.option("--address", help="Ray cluster to attach to ('auto': the one this machine is in; "
                                        "default: a local Ray)."),
        click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Ray workers (actors)."),
        click.option("--gpus-per-worker", type=click.FloatRange(min=0), default=0.0, show_default=True,
                     help="GPUs each Ray worker reserves (fractions share a GPU)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _executor(executor: str, address: str | None, workers: int, gpus_per_worker: float) -> object:
    """The executor the options name; Ray's options without ``--executor ray`` are a usage error."""
    if executor == "ray":
        from .pipeline.executors import RayExecutor

        return RayExecutor(address=address, workers=workers, gpus_per_worker=gpus_per_worker)
    if address is not None or workers != 1 or gpus_per_worker:
        raise click.UsageError("--address, --workers and --gpus-per-worker need --executor ray")
    return executor


@cli.command("run")
@click.argument("recipe")
@click.option("--input", "-i", "inputs", multiple=True, help="Input file, glob or folder (replaces the recipe's). Repeatable.")
@click.option("--out", "-o", "out_dir", type=click.Path(file_okay=False), help="Output folder (default: the recipe's, else '.').")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
@click.option("--seed", type=int, help="Seed of masks and sampling.")
@click.option("--variations", "-n", type=click.IntRange(min=1), help="Outputs per input.")
@click.option("--device", help="auto, cpu, cuda, cuda:1, mps.")
@click.option("--weights", help="A weights preset (vampnet) or COARSE,C2F,CODEC checkpoint paths.")
@click.option("--lora", "loras", multiple=True, metavar="MODEL=PATH",
              help="A LoRA file (vampkit train's lora.pth) on top of the weights: coarse=PATH or c2f=PATH.")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16", "auto"]),
              help="Model compute precision (default: the recipe's, else fp32; auto: bf16 where faster).")
@click.option("--compile/--no-compile", "compile_", default=None,
              help="torch.compile the transformer and the codec's Snake (default: the recipe's, else off).")
@click.option("--dry-run", is_flag=True, help="Validate and build the masks only; no model is loaded.")
@click.option("--overwrite", is_flag=True, help="Replace existing files of the same names (never an input).")
@click.option("--skip-existing", is_flag=True, help="Skip inputs whose outputs all exist (resume a batch).")
@executor_options
@click.option("--quiet", "-q", is_flag=True, help="No progress bars, only errors and the summary of failures.")
@click.option("--verbose", "-v", is_flag=True, help="Print the time of each stage at the end.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (outputs, failures, manifest); no bars.")
def run_command(recipe: str, inputs: tuple[str, ...], out_dir: str | None, overrides: tuple[str, ...],
                seed: int | None, variations: int | None, device: str | None, weights: str | None,
                loras: tuple[str, ...], precision: str | None, compile_: bool | None, dry_run: bool, overwrite: bool, skip_existing: bool,
                executor: str, address: str | None, workers: int, gpus_per_worker: float, quiet: bool,
                verbose: bool, as_json: bool) -> None:
    """Run RECIPE (a YAML file or a shipped recipe's name) over audio inputs.

    Outputs stay inside --out and never replace an existing file unless --overwrite. Exit
    code 0 when every input succeeded, 1 when some failed (reported at the end; the others
    still run), 2 for a usage or recipe error, 130 on Ctrl-C. A JSON manifest named with the
    run's id is written next to the outputs.

    \b
    Examples:
      vampkit run recipes/loop-variation.yaml --input groove.wav --out out
      vampkit run inpaint -i 'songs/*.wav' --set mask.region.start=2.5 --seed 3
      vampkit run sweep -i songs/ --dry-run
      vampkit run compress -i 'songs/*.wav' -o out --skip-existing
      vampkit run compress -i 'bucket/**/*.wav' -o /shared/out --executor ray --address auto --workers 8 --gpus-per-worker 1
      vampkit run compress -i song.wav --json
      vampkit run loop-variation -i groove.wav --lora coarse=runs/coarse-lora/latest/vampnet/lora.pth
    """
    from .pipeline import expand_inputs, run_recipe
    from .recipes import load_recipe

    loaded = load_recipe(recipe, overrides)
    if overwrite and skip_existing:
        raise click.UsageError("--overwrite and --skip-existing contradict each other: give one")
    runner = _executor(executor, address, workers, gpus_per_worker)
    patterns = list(inputs) if inputs else list(loaded.inputs)
    bars = _ProgressBars(quiet or as_json, n_inputs=len(expand_inputs(patterns)[0]))
    try:
        result = run_recipe(loaded, patterns or None, out_dir, seed=seed, variations=variations,
                            device=device, weights=_weights_option(weights), lora=_lora_option(loras),
                            precision=precision, compile=compile_,
                            dry_run=dry_run, overwrite=overwrite,
                            skip_existing=skip_existing, executor=runner, progress=bars.steps,
                            on_input=bars.file_done)
    finally:
        bars.close()
    if verbose:
        from .timing import format_stage_table

        click.echo(format_stage_table(result.manifest["stages"]), err=True)
    if as_json:
        click.echo(json.dumps(_run_summary(result, dry_run), indent=2))
    elif dry_run and not quiet:
        for line in _dry_run_lines(result.manifest["inputs"]):
            click.echo(line)
    elif not quiet:
        for path in result.outputs:
            click.echo(str(path))
        if result.manifest_path:
            click.echo(f"manifest: {result.manifest_path}")
        if result.skipped:
            click.echo(f"skipped {len(result.skipped)} input(s) whose outputs all exist")
    if result.failures:
        total = len(result.manifest["inputs"])
        click.echo(f"{len(result.failures)} of {total} input(s) failed:", err=True)
        for failure in result.failures:
            click.echo(f"  {failure.input}: {_one_line(failure.error)}", err=True)
    if result.manifest_error:
        click.echo(f"Error: {_one_line(result.manifest_error)}", err=True)
    if not result.ok:
        sys.exit(EXIT_FAILED)


def _one_line(text: str) -> str:
    """A message on one line (a file name may hold a newline)."""
    return " ".join(str(text).splitlines())


def _dry_run_lines(records: list[dict]) -> list[str]:
    """One line per prompt a dry run built: per variation and sweep point, not per input."""
    lines = []
    for record in records:
        if record["status"] != "ok":
            continue
        frames = f"{record['n_frames']} frames, " if record.get("n_frames") is not None else ""
        prompts = record.get("prompts") or []
        if not prompts:
            lines.append(f"{record['input']}: ok")
        for prompt in prompts:
            label = f"v{prompt['variation']}" + (f" {prompt['point']}" if prompt.get("point") else "")
            lines.append(f"{record['input']} [{label}]: {frames}kept {prompt['kept_fraction']:.1%}, "
                         f"prompt {prompt['bitrate']:,.0f} bit/s")
    return lines


def _run_summary(result: object, dry_run: bool) -> dict:
    """What ``run --json`` prints: enough for a script to find the outputs and the failures."""
    from .plaindata import jsonable

    return jsonable({
        "ok": result.ok,
        "dry_run": dry_run,
        "outputs": list(result.outputs),
        "failures": [{"input": f.input, "error": f.error} for f in result.failures],
        "manifest": result.manifest_path,
        "manifest_error": result.manifest_error,
        "run_id": result.run_id,
        "skipped": list(result.skipped),
        "inputs": result.manifest["inputs"],
    })


class _ProgressBars:
    """tqdm bars on stderr: one over the inputs, one per sampling call; nothing when quiet."""

    def __init__(self, quiet: bool, n_inputs: int | None = None) -> None:
        self.quiet = quiet
        self.n_inputs = n_inputs
        self.files = None
        self.step_bar = None

    def steps(self, label: str, total: int | None) -> Callable[[int], None] | None:
        if self.quiet:
            return None
        from tqdm import tqdm

        if self.step_bar is not None:
            self.step_bar.close()
        self.step_bar = tqdm(total=total, desc=label, unit="step", leave=False, file=sys.stderr)
        return lambda n=1: self.step_bar.update(n)

    def file_done(self, path: object, error: str | None) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        if self.files is None:
            self.files = tqdm(total=self.n_inputs, desc="inputs", unit="file", file=sys.stderr)
        self.files.update(1)
        self.files.set_postfix_str(f"{'FAILED ' if error else ''}{getattr(path, 'name', path)}")

    def close(self) -> None:
        for bar in (self.step_bar, self.files):
            if bar is not None:
                bar.close()


def _weights_option(value: str | None) -> object:
    if value is None:
        return None
    parts = [p.strip() for p in value.split(",")]
    if len(parts) == 1:
        return parts[0]
    if len(parts) != 3:
        from .errors import RecipeError

        raise RecipeError(f"--weights {value}: give a preset name or three paths COARSE,C2F,CODEC")
    return dict(zip(("coarse", "c2f", "codec"), parts, strict=True))


def _lora_option(values: tuple[str, ...]) -> dict[str, str] | None:
    """``--lora coarse=PATH`` (repeatable) as ``{"coarse": PATH}``."""
    lora: dict[str, str] = {}
    for value in values:
        role, sep, path = value.partition("=")
        if not sep or role.strip() not in ("coarse", "c2f") or not path.strip():
            raise click.UsageError(f"--lora {value}: give coarse=PATH or c2f=PATH")
        lora[role.strip()] = path.strip()
    return lora or None


@cli.command("validate")
@click.argument("recipes", nargs=-1, required=True)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
@click.option("--kind", type=click.Choice(["auto", "recipe", "experiment", "train"]), default="auto",
              show_default=True, help="What the files are: run recipes, experiment files (vampkit eval) or "
                                      "training recipes (vampkit train); auto tells by their keys.")
@click.option("--json", "as_json", is_flag=True, help="Output as JSON: one entry per recipe, with every error.")
def validate_command(recipes: tuple[str, ...], overrides: tuple[str, ...], kind: str, as_json: bool) -> None:
    """Check recipe, experiment or training recipe files without touching audio or models;
    errors give file:line:col.

    Every problem of a file is reported, in line order. Exit code 0: all valid; 2: any invalid.

    \b
    Examples:
      vampkit validate recipes/*.yaml
      vampkit validate my.yaml --set sampling.temperature=0.8
      vampkit validate experiments/compression.yaml recipes/train/lora-coarse.yaml
      vampkit validate my.yaml --json
    """
    from .recipes.listing import file_kind

    report = []
    for name in recipes:
        what = file_kind(name) if kind == "auto" else kind
        try:
            summary = _validated(what, name, overrides)
        except VampkitError as exc:
            errors = exc.each() if isinstance(exc, RecipeError) else (exc,)
            report.append({"recipe": name, "kind": what, "valid": False, "errors": [_error_entry(e) for e in errors]})
            if not as_json:
                for error in errors:
                    click.echo(f"Error: {error}", err=True)
            continue
        report.append({"recipe": name, "kind": what, "valid": True, **summary, "errors": []})
        if not as_json:
            click.echo(f"{name}: ok ({summary['summary']})")
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=True))
    if not all(entry["valid"] for entry in report):
        sys.exit(2)


def _validated(kind: str, name: str, overrides: tuple[str, ...]) -> dict:
    """Load one file of ``kind``; what `validate` reports of it."""
    if kind == "experiment":
        from .eval import load_experiment

        experiment = load_experiment(name, overrides)
        return {"name": experiment.name, "conditions": [c.label for c in experiment.conditions],
                "summary": f"experiment {experiment.name}: {len(experiment.conditions)} conditions"}
    if kind == "train":
        from .training import load_train_recipe

        recipe = load_train_recipe(name, overrides)
        return {"name": recipe.name, "masks": list(recipe.masks.labels),
                "summary": f"training recipe {recipe.name}: {recipe.steps} steps, masks "
                           f"{', '.join(recipe.masks.labels)}"}
    from .recipes import load_recipe

    recipe = load_recipe(name, overrides)
    return {"name": recipe.name, "stages": list(recipe.stage_names()),
            "summary": f"{recipe.name}: {' -> '.join(recipe.stage_names())}"}


def _error_entry(error: Exception) -> dict:
    """One validation error as JSON: where (``file:line:col`` or ``--set ...``), key and problem."""
    if isinstance(error, RecipeError) and error.where:
        return {"where": error.where, "key": error.key, "problem": error.problem, "message": str(error)}
    return {"where": "", "key": "", "problem": str(error), "message": str(error)}


@cli.command("preview")
@click.argument("recipe")
@click.option("--input", "-i", "input_path", required=True, type=click.Path(dir_okay=False), help="The input audio file.")
@click.option("--out", "-o", "out_dir", type=click.Path(), default=".", show_default=True,
              help="Output folder (as for run): writes <input>.<recipe>.<variation>.mask.png there.")
@click.option("--png", "png_path", type=click.Path(dir_okay=False), help="Write the PNG to this file instead.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
@click.option("--variation", type=int, default=0, show_default=True, help="Which variation's mask (its seed).")
@click.option("--beats/--no-beats", default=None, help="Mark beats (default: when the mask uses them).")
@click.option("--overwrite", is_flag=True, help="Replace the PNG if it exists (never the input).")
def preview_command(recipe: str, input_path: str, out_dir: str, png_path: str | None, overrides: tuple[str, ...],
                    variation: int, beats: bool | None, overwrite: bool) -> None:
    """Draw RECIPE's mask over an input's token grid to a PNG (no model needed).

    \b
    Examples:
      vampkit preview beat-driven -i groove.wav -o previews
      vampkit preview compress -i song.wav --png mask.png --set mask.any-of.0.periodic.period=16
    """
    from .preview import preview_recipe
    from .recipes import load_recipe

    loaded = load_recipe(recipe, overrides)
    out_path = Path(png_path) if png_path else _preview_file(out_dir, input_path, loaded.name, variation)
    info = preview_recipe(loaded, input_path, out_path, variation=variation, beats=beats, overwrite=overwrite)
    click.echo(f"{out_path}: {info['n_codebooks']} x {info['n_frames']} tokens, kept {info['kept_fraction']:.1%}, "
               f"prompt {info['bitrate']:,.0f} bit/s")


def _preview_file(out_dir: str, input_path: str, recipe_name: str, variation: int) -> Path:
    """The preview's file in the output folder; ``-o FILE.png`` (the old meaning) still works."""
    if out_dir.lower().endswith(".png"):
        click.echo(f"Warning: -o {out_dir}: -o is the output folder now (as for run); "
                   f"use --png {out_dir} for a file name", err=True)
        return Path(out_dir)
    return Path(out_dir) / f"{Path(input_path).stem}.{recipe_name}.{variation}.mask.png"


@cli.command("recipes")
@click.argument("folders", nargs=-1, type=click.Path(file_okay=False, exists=True))
@click.option("--json", "as_json", is_flag=True, help="Output as JSON.")
def recipes_command(folders: tuple[str, ...], as_json: bool) -> None:
    """List the shipped recipes and the local ones (FOLDERS, default the current folder).

    A local recipe is a *.yaml or *.yml file whose top level is a mapping with at least one
    recipe key (mask, pipeline, sampling, ...); each is validated, and a broken one is listed
    with its first error. Run any of them by name (shipped) or path (local).

    \b
    Examples:
      vampkit recipes
      vampkit recipes my-recipes/ --json
    """
    from .recipes.listing import list_recipes

    rows = [info.as_dict() for info in list_recipes([Path(f) for f in folders] or [Path(".")])]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for kind in ("shipped", "local"):
        group = [row for row in rows if row["kind"] == kind]
        if group:
            click.echo(f"{kind}:")
        width = max((len(row["name"]) for row in group), default=0)
        for row in group:
            text = row["description"] if row["error"] is None else f"INVALID: {row['error']}"
            click.echo(f"  {row['name']:<{width}}  {text}")


@cli.command("eval")
@click.argument("experiment")
@click.option("--data", "-d", required=True, help="Folder (or glob) of held-out audio to cut excerpts from.")
@click.option("--weights", help="A weights preset (vampnet) or COARSE,C2F,CODEC checkpoint paths.")
@click.option("--device", help="auto, cpu, cuda, cuda:1, mps.")
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate at most N excerpts (a prefix of the full choice).")
@click.option("--out", "-o", "out_dir", type=click.Path(file_okay=False), help="Results folder (default: eval-NAME); a re-run continues it.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override an experiment value (e.g. data.excerpt=5).")
@click.option("--keep-audio", is_flag=True, help="Also write every generated excerpt (audio/CONDITION/).")
@executor_options
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no table on stdout.")
def eval_command(experiment: str, data: str, weights: str | None, device: str | None, limit: int | None,
                 out_dir: str | None, overrides: tuple[str, ...], keep_audio: bool, executor: str,
                 address: str | None, workers: int, gpus_per_worker: float, quiet: bool) -> None:
    """Score every condition of EXPERIMENT (a YAML file or a shipped grid's name) on excerpts of
    --data: mel distance, FAD, prompt bitrate; CSVs, JSON summary, markdown table and plots.

    \b
    Examples:
      vampkit eval compression --data held-out/ --limit 100
      vampkit eval experiments/sampling-steps.yaml --data 'songs/*.flac' --out steps-eval
      vampkit eval my-prompts.yaml --data held-out/ --weights coarse.pth,c2f.pth,codec.pth
      vampkit eval compression --data /shared/clips --out /shared/eval --executor ray --address auto --workers 8 --gpus-per-worker 1
    """
    from .eval import evaluate

    runner = _executor(executor, address, workers, gpus_per_worker)
    result = evaluate(experiment, data, weights=_weights_option(weights), device=device, limit=limit,
                      out=out_dir, keep_audio=keep_audio, overrides=overrides, progress=not quiet, executor=runner)
    if not quiet:
        click.echo(result.table, nl=False)
        click.echo(f"results: {result.out_dir}")
    for failure in result.skipped:
        click.echo(f"skipped {failure.input}: {failure.error}", err=True)
    for failure in result.metric_failures:
        click.echo(f"metric failed: {failure}", err=True)


@cli.command("example")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--seconds", type=float, default=8.0, show_default=True)
@click.option("--bpm", type=float, default=110.0, show_default=True)
def example_command(path: str, seconds: float, bpm: float) -> None:
    """Write a short synthesised drum groove to PATH (an input to try recipes on).

    \b
    Examples:
      vampkit example groove.wav
    """
    from .examples import write_groove

    click.echo(str(write_groove(path, seconds=seconds, bpm=bpm)))


@cli.command("encode-dataset")
@click.argument("audio", type=click.Path(exists=True))
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False), help="The token folder to write.")
@click.option("--codec", "codec_spec", help="Codec checkpoint file or name (default: the --weights set's codec).")
@click.option("--weights", default="vampnet", show_default=True, help="Weights preset or folder whose codec to use.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def encode_dataset_command(audio: str, out_dir: str, codec_spec: str | None, weights: str, quiet: bool) -> None:
    """Encode an audio folder (or file) into codec tokens for `vampkit train`.

    Resumable: files already encoded are skipped. Unreadable files are listed and skipped.

    \b
    Examples:
      vampkit encode-dataset my-music/ --out tokens/
      vampkit encode-dataset my-music/ --out tokens/ --codec codec.pth
    """
    from .bundles import VAMPNET
    from .codecs import load_codec
    from .training import encode_dataset

    loudness, chunk = VAMPNET.loudness_db, None  # upstream's preprocessing, unless a weights bundle says otherwise
    if codec_spec is None:
        from .weights import resolve_weights

        paths = resolve_weights(weights)
        codec_spec, loudness, chunk = str(paths.codec), paths.bundle.loudness_db, paths.bundle.chunk_seconds
    codec = load_codec(codec_spec)
    bar = None
    if not quiet:
        from tqdm import tqdm

        bar = tqdm(desc="encoding", unit="file", file=sys.stderr)

    def on_file(name: str, error: str | None) -> None:
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"{'SKIPPED ' if error else ''}{name}")

    report = encode_dataset(audio, out_dir, codec, codec_spec=codec_spec, on_file=on_file, loudness_db=loudness,
                            chunk_seconds=chunk)
    if bar is not None:
        bar.close()
    click.echo(f"{report.out}: {len(report.encoded)} encoded, {len(report.reused)} already done, "
               f"{len(report.skipped)} skipped (manifest: {report.manifest})")
    for name, reason in report.skipped:
        click.echo(f"  skipped {name}: {reason}", err=True)


@cli.command("train")
@click.argument("recipe", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "-o", "out_dir", type=click.Path(file_okay=False), help="Run folder (default: the recipe's output, else runs/<name>).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its latest checkpoint.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
@click.option("--device", help="auto, cpu, cuda, cuda:1, mps (under torchrun: each process's local GPU).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def train_command(recipe: str, out_dir: str | None, resume: bool, overrides: tuple[str, ...], device: str | None,
                  quiet: bool) -> None:
    """Train or fine-tune (LoRA) a VampNet model with a training RECIPE (YAML).

    Works unchanged under torchrun (DDP): `torchrun --nproc_per_node N -m vampkit train RECIPE`.

    \b
    Examples:
      vampkit train recipes/train/lora-coarse.yaml --out runs/mine
      vampkit train my.yaml --out runs/mine --resume
      vampkit train my.yaml --set steps=200 --set batch_size=4
    """
    import os

    from .training import train

    result = train(recipe, out_dir, resume=resume, overrides=overrides, device=device, progress=not quiet)
    if os.environ.get("RANK", "0") == "0":
        click.echo(f"{result.out}: step {result.step}, loss {result.loss:.4f}; checkpoint {result.checkpoint}"
                   + (f", LoRA {result.lora}" if result.lora else ""))


@cli.command("app")
@click.option("--weights", help="A weights preset (vampnet) or COARSE,C2F,CODEC checkpoint paths.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, mps.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; others than loopback are public.")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: the first free one from 7860).")
@click.option("--share", is_flag=True, help="Also make a public gradio.live link (needs network).")
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True,
              help="Requests taken from the queue at once (generations still take the shared models in turn).")
def app_command(weights: str | None, device: str, host: str, port: int | None, share: bool, concurrency: int) -> None:
    """Serve a local web page to vamp by ear (needs the app extra: pip install 'vampkit[app]').

    \b
    Examples:
      vampkit app
      vampkit app --weights coarse.pth,c2f.pth,codec.pth --device cpu --port 7860
    """
    from .app import public_warning, serve

    warning = public_warning(host, share)
    if warning:
        click.echo(f"Warning: {warning}", err=True)
    serve(weights, device=device, host=host, port=port, share=share, concurrency=concurrency)


def _interrupted() -> None:
    """Ctrl-C: a one-line note and exit 130; a second Ctrl-C while leaving changes nothing.

    The exception has already unwound every ``finally`` (temporary files removed, workers
    stopped), so the process ends with ``os._exit``: CPython 3.11 kills itself with SIGINT at
    exit when an interrupt once hit code it ran through ``PyRun_*`` (an import in a C
    extension), even if the interrupt was handled, and the exit code would not be 130.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    click.echo("\nInterrupted (no partial files are left).", err=True)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(EXIT_INTERRUPTED)


class _Interrupt:
    """SIGINT handler: remembers the interrupt, then raises KeyboardInterrupt as Python's does
    (a library may turn it into another error while importing; the exit code stays 130)."""

    seen = False

    def __call__(self, signum: int, frame: object) -> None:
        _Interrupt.seen = True
        raise KeyboardInterrupt


def _finish_interrupts() -> None:
    """The work is done: a Ctrl-C from now on changes nothing, and one that a library swallowed
    earlier still ends the run with 130 (CPython would otherwise kill itself with SIGINT at exit)."""
    with contextlib.suppress(ValueError):
        if isinstance(signal.getsignal(signal.SIGINT), _Interrupt):
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    if _Interrupt.seen:
        _interrupted()


def _one_line_warning(message: Warning | str, category: type[Warning], *_args: object, **_kwargs: object) -> str:
    """Warnings on the command line: one line each, as errors are (no source line)."""
    return f"Warning: {_one_line(str(message))}\n"


def main(args: list[str] | None = None) -> None:
    """The console entry point: exit codes 0 ok, 1 some input failed, 2 usage or recipe error,
    130 interrupted; never a traceback (``VAMPKIT_DEBUG=1`` shows one for an unexpected error)."""
    with contextlib.suppress(ValueError):  # ValueError: not the main thread (main() called by a host)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _Interrupt())
    try:
        # descript-audio-codec's layers use torch's legacy weight_norm on purpose (its checkpoint key
        # names); torch's deprecation notice about it says nothing a vampkit user can act on
        warnings.filterwarnings("ignore", message=r".*weight_norm.*deprecated", category=FutureWarning)
        warnings.formatwarning = _one_line_warning
        try:
            code = cli.main(args=args, prog_name="vampkit", standalone_mode=False)
        except click.exceptions.Abort as exc:
            if isinstance(exc.__cause__, KeyboardInterrupt):
                raise exc.__cause__ from None
            click.echo("Aborted!", err=True)
            code = EXIT_FAILED
        except click.ClickException as exc:
            exc.show()
            code = exc.exit_code
        except VampkitError as exc:  # raised outside a command (e.g. while loading plugins)
            click.echo(f"Error: {_one_line(str(exc))}", err=True)
            code = exit_code_for(exc)
        except Exception as exc:  # the last line of defence: no traceback
            if _Interrupt.seen:
                raise KeyboardInterrupt from None
            if os.environ.get("VAMPKIT_DEBUG"):
                raise
            click.echo(f"Error: unexpected {type(exc).__name__}: {_one_line(str(exc))} "
                       f"(set VAMPKIT_DEBUG=1 to see where)", err=True)
            code = EXIT_FAILED
        _finish_interrupts()
        sys.exit(code if isinstance(code, int) else EXIT_OK)
    except KeyboardInterrupt:
        _interrupted()


if __name__ == "__main__":
    main()
