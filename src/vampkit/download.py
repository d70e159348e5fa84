"""Downloading weights: streamed into ``<dest>.part``, resumed with HTTP Range, checked against
a sha256 when one is known, renamed into place atomically; a clear error when offline."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

from .errors import WeightsUnavailableError

#: set to 1 to forbid any network access (only cached files are used)
OFFLINE_ENV = "VAMPKIT_OFFLINE"
CHUNK_BYTES = 1 << 20
TIMEOUT_SECONDS = 30.0


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def _by_hand(url: str, dest: Path, sha256: str | None) -> str:
    check = f" (sha256 {sha256})" if sha256 else ""
    return f"To install it by hand, download {url} on a connected machine and place it at '{dest}'{check}."


def _unavailable(url: str, dest: Path, sha256: str | None, problem: str) -> WeightsUnavailableError:
    return WeightsUnavailableError(f"could not download {url} to '{dest}': {problem}. {_by_hand(url, dest, sha256)}")


def download(url: str, dest: str | Path, *, sha256: str | None = None, progress: bool = True) -> Path:
    """Fetch ``url`` to ``dest`` (kept if already there and, given ``sha256``, matching it).
    An interrupted transfer leaves ``<dest>.part``; the next call resumes from it."""
    dest = Path(dest)
    sha256 = sha256.lower() if sha256 else None
    if dest.is_file():
        if sha256 is None or sha256_of(dest) == sha256:
            return dest
        dest.unlink()  # a stale or damaged copy: fetch it again
    if os.environ.get(OFFLINE_ENV, "").strip() not in ("", "0"):
        raise _unavailable(url, dest, sha256, f"{OFFLINE_ENV} is set, so vampkit does not use the network")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    _fetch(url, part, dest, sha256, progress)
    if sha256 is not None:
        actual = sha256_of(part)
        if actual != sha256:
            part.unlink()
            raise WeightsUnavailableError(
                f"checksum mismatch for {url}: expected sha256 {sha256}, got {actual}; the download "
                f"was discarded. {_by_hand(url, dest, sha256)}"
            )
    os.replace(part, dest)
    return dest


def _fetch(url: str, part: Path, dest: Path, sha256: str | None, progress: bool) -> None:
    offset = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "vampkit"})  # noqa: S310 - http(s) URLs from tables
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)  # noqa: S310 - http(s) URLs from tables
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the partial file is already whole (or bigger than the file)
            part.unlink()
            return _fetch(url, part, dest, sha256, progress)
        raise _unavailable(url, dest, sha256, f"the server answered HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise _unavailable(url, dest, sha256, f"no connection ({reason}); are you offline?") from exc
    with response:
        resumed = offset > 0 and response.status == 206
        if not resumed:
            offset = 0
        length = response.headers.get("Content-Length")
        expected = offset + int(length) if length is not None and length.isdigit() else None
        received = offset
        bar = _progress_bar(dest.name, expected, offset, progress)
        try:
            with part.open("ab" if resumed else "wb") as handle:
                while True:
                    block = response.read(CHUNK_BYTES)
                    if not block:
                        break
                    handle.write(block)
                    received += len(block)
                    bar.update(len(block))
        except (OSError, http.client.HTTPException, socket.timeout) as exc:
            raise _interrupted(url, dest, part, received, expected, sha256, exc) from exc
        finally:
            bar.close()
    if expected is not None and received < expected:
        raise _interrupted(url, dest, part, received, expected, sha256, None)


def _interrupted(url, dest, part, received, expected, sha256, exc) -> WeightsUnavailableError:  # noqa: ANN001
    total = f" of {expected}" if expected is not None else ""
    cause = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
    return WeightsUnavailableError(
        f"download of {url} was interrupted after {received}{total} bytes{cause}; the partial file "
        f"'{part}' is kept and the next attempt resumes it. {_by_hand(url, dest, sha256)}"
    )


def _progress_bar(name: str, total: int | None, initial: int, enabled: bool):  # noqa: ANN202
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=f"downloading {name}",
        disable=not enabled,
        file=sys.stderr,
        leave=False,
    )

