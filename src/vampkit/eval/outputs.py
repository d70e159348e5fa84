"""The results folder of ``vampkit eval``: every file goes through the one output-path policy
(``vampkit.paths.output_path``) and only files an evaluation made may be replaced.

The folder's marker file is also its ledger: one relative name per line, appended *before*
the file is written. A name in the ledger is the evaluation's own (a resumed run updates its
cache and results); any other existing file (or symlink) at an output's name is foreign and
is never replaced.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ..atomic import file_mode
from ..errors import OutputError, OutputExistsError, RecipeError
from ..paths import make_folder, output_path

#: marker and ledger of a folder ``vampkit eval`` made
MARKER = ".vampkit-eval"


class ResultsFolder:
    """One evaluation's results folder: ``place`` a name to get its checked, claimed path."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.owned: set[str] = set()

    def check(self) -> None:
        """The folder must be new, empty, or one an evaluation made (marker): never write among
        files the run did not create."""
        root = self.root
        if root.exists() and not root.is_dir():
            raise RecipeError(f"--out {root}: exists and is not a folder")
        if not root.is_dir() or not any(root.iterdir()):
            return
        marker = root / MARKER
        if marker.is_symlink() or not marker.is_file():
            raise RecipeError(f"--out {root}: the folder holds files vampkit eval did not make; "
                              "choose a new or empty folder")

    def open(self) -> None:
        """Create the folder and its marker (or read the ledger of an earlier evaluation)."""
        self.check()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"--out {self.root}: cannot create the folder: {exc.strerror or exc}") from exc
        marker = self.root / MARKER
        if marker.is_file() and not marker.is_symlink():
            text = marker.read_text(encoding="utf-8", errors="surrogateescape")
            self.owned = {line for line in text.splitlines() if line}
        self._append("")

    def place(self, name: str, *, key: str, where: str | None = None) -> Path:
        """The path of ``name`` (``/``-separated) inside the folder, claimed for this evaluation.

        ``OutputPathError`` (naming ``key`` and ``where``) when it would land outside the folder,
        ``OutputExistsError`` when a file the evaluations did not create is there."""
        path = output_path(self.root, name, key=key, where=where)
        make_folder(self.root, path)
        relative = path.relative_to(self.root).as_posix()
        if relative not in self.owned:
            if os.path.lexists(path):
                raise OutputExistsError(f"refusing to write '{path}': the file exists and vampkit eval did not "
                                        "create it (move it away or choose another --out)")
            self._append(relative)
            self.owned.add(relative)
        return path

    def remove_temporaries(self) -> None:
        """Remove what writes cut short left (``.NAME.*.part*``, e.g. a killed worker's): files
        only, never through a symlinked folder."""
        for folder, _, names in os.walk(self.root):
            for name in names:
                path = Path(folder) / name
                if name.startswith(".") and ".part" in name and path.is_file() and not path.is_symlink():
                    with contextlib.suppress(OSError):
                        path.unlink()

    def _append(self, relative: str) -> None:
        """Record ``relative`` in the ledger (never through a symlink)."""
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        try:
            handle = os.open(self.root / MARKER, flags, file_mode())
        except OSError as exc:
            raise OutputError(f"cannot write the marker '{self.root / MARKER}': {exc.strerror or exc}") from exc
        try:
            if relative:
                os.write(handle, os.fsencode(relative) + b"\n")
        finally:
            os.close(handle)
