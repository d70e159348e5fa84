"""The contributor docs stay true: CONTRIBUTING.md's layout table points only at files that exist;
docs/architecture.md shows its picture and every hook."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def layout_paths() -> list[str]:
    """Each backticked path of the table's first column, relative to ``src/``; a bare name
    (``prompt.py``) lives in the folder of the row's first path (``vampkit/mask.py``)."""
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    table = text[text.index("| module | job |"):].split("\n\n")[0]
    paths = []
    for row in table.splitlines()[2:]:
        names = re.findall(r"`([^`]+)`", row.split("|")[1])
        base = str(Path(names[0].rstrip("/")).parent) if names else ""
        paths += [name if name.startswith("vampkit/") else f"{base}/{name}" for name in names]
    return paths


def test_the_layout_table_has_rows():
    assert len(layout_paths()) > 20


@pytest.mark.parametrize("path", layout_paths())
def test_layout_table_path_exists(path):
    assert (ROOT / "src" / path).exists(), f"CONTRIBUTING.md names {path}, which is not in src/"


def test_the_architecture_page_shows_its_picture_and_every_hook():
    from vampkit import hookspecs

    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    picture = re.search(r"!\[[^\]]*\]\(([^)]+)\)", page)
    assert picture and (ROOT / "docs" / picture.group(1)).is_file()
    hooks = [name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "vampkit_spec")]
    assert hooks and all(f"`{hook}`" in page for hook in hooks)
