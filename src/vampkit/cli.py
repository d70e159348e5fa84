"""The ``vampkit`` command line."""

from __future__ import annotations

import json
import sys
import warnings

import click

from . import plugins
from .errors import VampkitError
from .params import describe, first_line


class VampkitGroup(click.Group):
    """Turns vampkit errors into a one-line message and exit code 1 (no traceback)."""

    def invoke(self, ctx: click.Context):  # noqa: ANN201
        try:
            return super().invoke(ctx)
        except VampkitError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)


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
    regs = plugins.registered("masks")
    rows = []
    for name, reg in sorted(regs.items()):
        rows.append({
            "name": name,
            "plugin": reg.plugin,
            "doc": first_line(reg.obj.__doc__),
            "parameters": [
                {"name": p.name, "type": p.type, "default": _jsonable(p.default),
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
            default = "required" if p["required"] else f"default {p['default']!r}"
            click.echo(f"    {p['name']}: {p['type']} ({default}) {p['doc']}")


def _jsonable(value: object) -> object:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return repr(value)


_SET_HELP = "Override a recipe value: KEY=VALUE (dotted key, YAML value). Repeatable."


@cli.command("run")
@click.argument("recipe")
@click.option("--input", "-i", "inputs", multiple=True, help="Input file, glob or folder (replaces the recipe's). Repeatable.")
@click.option("--out", "-o", "out_dir", type=click.Path(file_okay=False), help="Output folder (default: the recipe's, else '.').")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
@click.option("--seed", type=int, help="Seed of masks and sampling.")
@click.option("--variations", "-n", type=click.IntRange(min=1), help="Outputs per input.")
@click.option("--device", help="auto, cpu, cuda, cuda:1, mps.")
@click.option("--weights", help="A weights preset (vampnet) or COARSE,C2F,CODEC checkpoint paths.")
@click.option("--dry-run", is_flag=True, help="Validate and build the masks only; no model is loaded.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars, only errors and the summary of failures.")
def run_command(recipe: str, inputs: tuple[str, ...], out_dir: str | None, overrides: tuple[str, ...],
                seed: int | None, variations: int | None, device: str | None, weights: str | None,
                dry_run: bool, quiet: bool) -> None:
    """Run RECIPE (a YAML file or a shipped recipe's name) over audio inputs.

    Exit code 0 only when every input succeeded; a bad input is reported at the end and the
    others still run. A JSON manifest is written next to the outputs.

    \b
    Examples:
      vampkit run recipes/loop-variation.yaml --input groove.wav --out out
      vampkit run inpaint -i 'songs/*.wav' --set mask.region.start=2.5 --seed 3
      vampkit run sweep -i songs/ --dry-run
    """
    from .pipeline import run_recipe
    from .recipes import load_recipe

    loaded = load_recipe(recipe, overrides)
    bars = _ProgressBars(quiet)

    def on_input(path: object, error: str | None) -> None:
        bars.file_done(path, error)

    result = run_recipe(loaded, list(inputs) if inputs else None, out_dir, seed=seed, variations=variations,
                        device=device, weights=_weights_option(weights), dry_run=dry_run,
                        progress=bars.steps, on_input=on_input)
    bars.close()
    if dry_run and not quiet:
        for record in result.manifest["inputs"]:
            if record["status"] == "ok":
                click.echo(f"{record['input']}: {record.get('n_frames')} frames, kept "
                           f"{record['kept_fraction']:.1%}, prompt {record['bitrate']:,.0f} bit/s"
                           if record.get("kept_fraction") is not None else f"{record['input']}: ok")
    elif not quiet:
        for path in result.outputs:
            click.echo(str(path))
        if result.manifest_path:
            click.echo(f"manifest: {result.manifest_path}")
    if result.failures:
        total = len(result.manifest["inputs"])
        click.echo(f"{len(result.failures)} of {total} input(s) failed:", err=True)
        for failure in result.failures:
            click.echo(f"  {failure.input}: {failure.error}", err=True)
        sys.exit(1)


class _ProgressBars:
    """tqdm bars: one over the inputs, one per sampling call; nothing when quiet."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.files = None
        self.step_bar = None

    def steps(self, label: str, total: int):  # noqa: ANN201
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
            self.files = tqdm(desc="inputs", unit="file", file=sys.stderr)
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
    return dict(zip(("coarse", "c2f", "codec"), parts))


@cli.command("validate")
@click.argument("recipes", nargs=-1, required=True)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
def validate_command(recipes: tuple[str, ...], overrides: tuple[str, ...]) -> None:
    """Check recipe files without touching audio or models; errors give file:line:col.

    \b
    Examples:
      vampkit validate recipes/*.yaml
      vampkit validate my.yaml --set sampling.temperature=0.8
    """
    from .recipes import load_recipe

    failed = 0
    for name in recipes:
        try:
            recipe = load_recipe(name, overrides)
        except VampkitError as exc:
            click.echo(f"Error: {exc}", err=True)
            failed += 1
            continue
        click.echo(f"{name}: ok ({recipe.name}: {' -> '.join(recipe.stage_names())})")
    if failed:
        sys.exit(1)


@cli.command("preview")
@click.argument("recipe")
@click.option("--input", "-i", "input_path", required=True, type=click.Path(dir_okay=False), help="The input audio file.")
@click.option("--out", "-o", "out_path", required=True, type=click.Path(dir_okay=False), help="The PNG to write.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
@click.option("--variation", type=int, default=0, show_default=True, help="Which variation's mask (its seed).")
@click.option("--beats/--no-beats", default=None, help="Mark beats (default: when the mask uses them).")
def preview_command(recipe: str, input_path: str, out_path: str, overrides: tuple[str, ...], variation: int,
                    beats: bool | None) -> None:
    """Draw RECIPE's mask over an input's token grid to a PNG (no model needed).

    \b
    Examples:
      vampkit preview beat-driven -i groove.wav -o mask.png
      vampkit preview compress -i song.wav -o mask.png --set mask.any-of.0.periodic.period=16
    """
    from .preview import preview_recipe
    from .recipes import load_recipe

    info = preview_recipe(load_recipe(recipe, overrides), input_path, out_path, variation=variation, beats=beats)
    click.echo(f"{out_path}: {info['n_codebooks']} x {info['n_frames']} tokens, kept {info['kept_fraction']:.1%}, "
               f"prompt {info['bitrate']:,.0f} bit/s")


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
    from .codecs import load_codec
    from .training import encode_dataset

    if codec_spec is None:
        from .weights import resolve_weights

        codec_spec = str(resolve_weights(weights).codec)
    codec = load_codec(codec_spec)
    bar = None
    if not quiet:
        from tqdm import tqdm

        bar = tqdm(desc="encoding", unit="file", file=sys.stderr)

    def on_file(name: str, error: str | None) -> None:
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"{'SKIPPED ' if error else ''}{name}")

    report = encode_dataset(audio, out_dir, codec, codec_spec=codec_spec, on_file=on_file)
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


def main() -> None:
    # descript-audio-codec's layers use torch's legacy weight_norm on purpose (its checkpoint key
    # names); torch's deprecation notice about it says nothing a vampkit user can act on
    warnings.filterwarnings("ignore", message=r".*weight_norm.*deprecated", category=FutureWarning)
    cli(prog_name="vampkit")


if __name__ == "__main__":
    main()
