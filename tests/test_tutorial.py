"""docs/plugin-tutorial.md runs as written: its files are written out, its commands run.

Fenced blocks carry their role in the info string: ``file=PATH`` blocks are written to PATH
(relative to an empty folder), ``bash run`` blocks are run line by line, and a ``text output``
block must appear in the output of the command run just before it. ``pip install -e .`` is
run as a real pip install of the tutorial's project into a throwaway ``--target`` folder put
on ``PYTHONPATH`` (its ``.dist-info`` carries the entry point), so the shared venv is untouched.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from vampkit import hookspecs

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "plugin-tutorial.md"
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
BIN = Path(sys.executable).parent


@attrs.frozen
class Block:
    lang: str
    tags: tuple[str, ...]
    body: str
    line: int

    def tag(self, key: str) -> str | None:
        return next((t.split("=", 1)[1] for t in self.tags if t.startswith(f"{key}=")), None)


def blocks() -> list[Block]:
    text = TUTORIAL.read_text()
    found = []
    for match in FENCE.finditer(text):
        lang, *tags = match["info"].split() or [""]
        found.append(Block(lang, tuple(tags), match["body"], text.count("\n", 0, match.start()) + 1))
    return found


class Session:
    """Runs the tutorial's commands from an empty folder, keeping track of ``cd``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cwd = root
        self.site = root / "_site"
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(self.site),
                                                                              os.environ.get("PYTHONPATH")])),
                    "VAMPKIT_LOAD_PLUGINS": "gate", "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        self.last_output = ""

    def run(self, line: str, where: str) -> None:
        words = shlex.split(line)
        if words[0] == "mkdir":
            (self.cwd / words[1]).mkdir(parents=True, exist_ok=True)
            return
        if words[0] == "cd":
            self.cwd = (self.cwd / words[1]).resolve()
            return
        if words[:3] == ["pip", "install", "-e"]:
            argv = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                    "--quiet", "--target", str(self.site), str(self.cwd / words[3])]
        elif words[0] == "vampkit":
            argv = [str(BIN / "vampkit"), *words[1:]]
        elif words[0] == "python":
            argv = [sys.executable, *words[1:]]
        elif words[0] == "pytest":
            argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *words[1:]]
        else:
            pytest.fail(f"{where}: the tutorial runs `{line}`, which this test does not know how to run")
        result = subprocess.run(argv, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{where}: `{line}` failed:\n{result.stdout}\n{result.stderr}"
        self.last_output = result.stdout


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def _contains(haystack: list[str], needle: list[str]) -> bool:
    return any(haystack[i:i + len(needle)] == needle for i in range(len(haystack) - len(needle) + 1))


@pytest.mark.slow
def test_the_tutorial_runs_as_written(tmp_path):
    session = Session(tmp_path)
    ran = written = compared = 0
    for block in blocks():
        where = f"{TUTORIAL.name}:{block.line}"
        path = block.tag("file")
        if path:
            target = tmp_path / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.body)
            written += 1
        elif "run" in block.tags:
            for line in block.body.strip().splitlines():
                session.run(line.strip(), where)
                ran += 1
        elif "output" in block.tags:
            assert _contains(_lines(session.last_output), _lines(block.body)), (
                f"{where}: expected output not found; the command printed:\n{session.last_output}")
            compared += 1
    assert written >= 5 and ran >= 8 and compared >= 3  # the tutorial did not lose its steps
    assert (session.site / "vampkit_gate.py").exists()
    # the comparison step evaluated the plugin next to the built-ins: table and plots written
    table = (session.cwd / "gate-eval" / "table.md").read_text()
    assert "| gate, generate 7 |" in table and "| periodic P=16 |" in table
    assert (session.cwd / "gate-eval" / "plots" / "mel-vs-bitrate.svg").exists()


def test_every_python_block_is_valid_python():
    for block in blocks():
        if block.lang == "python":
            ast.parse(block.body, filename=f"{TUTORIAL.name}:{block.line}")


def test_every_toml_block_parses():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    tomls = [b for b in blocks() if b.lang == "toml"]
    assert tomls
    for block in tomls:
        data = tomllib.loads(block.body)
        assert data["project"]["entry-points"]["vampkit"], "the plugin declares a vampkit entry point"


def test_the_tutorial_documents_every_hook_with_its_signature():
    text = TUTORIAL.read_text()
    specs = [name for name in dir(hookspecs) if name.startswith("register_")
             and hasattr(getattr(hookspecs, name), "vampkit_spec")]
    assert {"register_masks", "register_analyses"} <= set(specs)
    for name in specs:
        assert re.search(rf"def {name}\(register: Callable\[", text), f"the hook signature of {name} is not documented"
        assert f"| `{name}(register)` |" in text, f"{name} is missing from the hook table"


def test_the_documented_limit_variable_is_the_one_vampkit_reads():
    from vampkit import plugins

    assert plugins.LOAD_PLUGINS_ENV in TUTORIAL.read_text()
