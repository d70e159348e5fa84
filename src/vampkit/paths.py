"""The one output-path policy: every file vampkit writes lands inside the chosen output folder.

Names come from untrusted places (a shared recipe's ``output.template`` or ``name``, an input
file's stem), so they are checked as text first (no absolute paths, no ``..``, no NUL, control
characters or lone surrogates, no component longer than the file system allows) and then
resolved on disk, so a symlink inside the folder cannot lead out of it either.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import OutputError, OutputPathError

#: bytes in one path component on every common file system (ext4, APFS, NTFS in UTF-16 units)
NAME_MAX = 255

_SEPARATORS = re.compile(r"[/\\]")
_DRIVE = re.compile(r"^[A-Za-z]:")


def show(text: str) -> str:
    """``text`` quoted for a one-line message (escaped when it holds unprintable characters)."""
    return f"'{text}'" if text.isprintable() else ascii(text)


def lookup_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot even be looked up (a name too long, a NUL byte, no permission), else
    None. ``os.path.exists`` answers False for those; this says why a missing file is missing."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        return exc.strerror or str(exc)
    except ValueError as exc:
        return str(exc)
    return None


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a relative file name inside a folder, or None when it can."""
    if not isinstance(name, str):
        return f"expected text, got {type(name).__name__}"
    if not name:
        return "the name is empty"
    if "\x00" in name:
        return "it contains a NUL character"
    if any(0xD800 <= ord(c) <= 0xDFFF for c in name):
        return "it contains a lone surrogate (not valid Unicode text)"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "it contains a control character"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "it is an absolute path"
    parts = _SEPARATORS.split(name)
    if ".." in parts:
        return "it contains '..'"
    if parts[-1] in ("", "."):
        return "it names a folder, not a file"
    for part in parts:
        if len(os.fsencode(part)) > NAME_MAX:
            return f"a component is longer than {NAME_MAX} bytes"
    return None


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def output_path(folder: str | os.PathLike, name: str, *, key: str, where: str | None = None) -> Path:
    """The path of output ``name`` inside ``folder``, or an ``OutputPathError`` naming ``key``.

    ``where`` is the ``file:line:col`` (or ``--set`` option) the name's recipe value came from.
    The final path is resolved (symlinks followed) and must stay inside the resolved folder.
    """
    prefix = f"{where}: {key}" if where else key
    problem = name_problem(name)
    if problem is not None:
        raise OutputPathError(f"{prefix}: output name {show(str(name))} refused: {problem} "
                              f"(outputs must stay inside the output folder '{folder}')")
    parts = [p for p in _SEPARATORS.split(name) if p not in ("", ".")]
    path = Path(folder).joinpath(*parts)
    root = os.path.realpath(folder)
    if not _inside(os.path.realpath(path), root):
        raise OutputPathError(f"{prefix}: output name {show(name)} refused: it resolves to "
                              f"'{os.path.realpath(path)}', outside the output folder '{root}' (a symlink?)")
    return path


def make_folder(folder: str | os.PathLike, path: Path) -> None:
    """Create ``path``'s parent folders (inside ``folder``), with a clear error when that fails."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise OutputError(f"cannot write '{path}': '{exc.filename}' exists and is not a folder") from exc
    except NotADirectoryError as exc:
        raise OutputError(f"cannot write '{path}': a part of its folder is a file, not a folder") from exc
    except OSError as exc:
        raise OutputError(f"cannot create the folder of '{path}': {exc.strerror or exc}") from exc
    if not _inside(os.path.realpath(path.parent), os.path.realpath(folder)):
        raise OutputPathError(f"cannot write '{path}': its folder resolves outside '{folder}'")
