"""The Python example in docs/sampling.md runs as documented."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).parent.parent / "docs" / "sampling.md"


def test_sampling_doc_example_runs(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    code = code.replace("/tmp/tiny_coarse.pth", str(tmp_path / "tiny_coarse.pth"))
    scope: dict = {}
    exec(compile(code, str(DOC), "exec"), scope)  # noqa: S102 - our own documentation
    assert tuple(scope["out"].shape) == (1, 4, 100) and tuple(scope["variations"].shape) == (3, 4, 100)
