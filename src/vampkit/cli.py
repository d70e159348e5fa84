"""The ``vampkit`` command line."""

from __future__ import annotations

import json
import sys

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


def main() -> None:
    cli(prog_name="vampkit")


if __name__ == "__main__":
    main()
