"""The README's Python examples run as written (blocks marked '# (needs ...' need your files)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"
BLOCKS = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if not b.startswith("# (needs")]


def test_readme_has_runnable_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = BLOCKS[index].replace("/tmp/tiny_coarse.pth", str(tmp_path / "tiny_coarse.pth"))
    import vampkit.plugins

    try:
        exec(compile(code, f"README.md block {index}", "exec"), {})  # noqa: S102 - our own docs
    finally:
        vampkit.plugins.reset()
