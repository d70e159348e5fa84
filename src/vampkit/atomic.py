"""Atomic file output: write to a temporary file beside the target, then move it into place.

A reader never sees a partial file, and an interrupted write (Ctrl-C, a crash, an error)
leaves the target as it was. With ``overwrite=False`` the move is exclusive (a hard link,
which fails when the name exists), so two processes can never replace each other's file.
Files get the mode the user's umask gives (``mkstemp`` alone would make them 0600).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@functools.lru_cache(maxsize=1)
def process_umask() -> int:
    """The process umask (read once; os.umask can only be read by setting it)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file: 0666 less the umask."""
    return 0o666 & ~process_umask()


def _place_new(temp: str, path: Path) -> None:
    """Move ``temp`` to ``path`` only if ``path`` does not exist (FileExistsError otherwise)."""
    try:
        os.link(temp, path)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
            raise
        # no hard links here: claim the name exclusively, then replace our own placeholder
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.replace(temp, path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; on success it becomes ``path``.

    The temporary name keeps ``path``'s suffix (writers that pick a format from it still do).
    ``overwrite=False`` raises ``FileExistsError`` (and leaves nothing behind) when ``path``
    exists by the time the file is complete, however it got there.
    """
    path = Path(path)
    stem = os.fsdecode(os.fsencode(path.stem)[:80])  # the temporary name must fit NAME_MAX too
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{stem}.", suffix=f".part{path.suffix[:16]}")
    os.close(handle)
    try:
        os.chmod(temp, file_mode())
        yield Path(temp)
        if overwrite:
            os.replace(temp, path)
        else:
            _place_new(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def write_text(path: str | os.PathLike, text: str, *, overwrite: bool = True) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, overwrite=overwrite) as temp:
        temp.write_text(text, encoding="utf-8")
    return path
