"""Model weights: registered bundles on the Hugging Face Hub, or local files, resolved to paths.

``resolve_weights("vampnet")`` fetches the files of the bundle ``vampkit.bundles.VAMPNET``
(upstream's ``coarse.pth``, ``c2f.pth``, ``codec.pth`` in ``hugggof/vampnet``) into vampkit's
cache (``$VAMPKIT_CACHE/hf``); ``"vampnet:<name>"`` takes the fine-tuned
``loras/<name>/{coarse,c2f}.pth`` (full checkpoints) with the same codec. Any bundle a plugin
registers resolves the same way. Local paths: a directory holding the three files, or
``"coarse.pth,c2f.pth,codec.pth"`` (c2f may be left empty for a coarse-only model).
"""

from __future__ import annotations

import os
import socket
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path

import attrs

from . import bundles
from .bundles import VAMPNET, ModelBundle
from .cache import cache_dir
from .errors import WeightsUnavailableError
from .hashing import sha256_file
from .paths import lookup_problem

HF_SUBDIR = "hf"


@attrs.frozen
class WeightPaths:
    """Local files of one model set; ``c2f`` is None for a coarse-only set.

    ``bundle`` holds the facts the files are run with (loudness target, context lengths):
    the registered bundle they came from, or ``bundles.VAMPNET`` for local files.
    """

    coarse: Path
    c2f: Path | None
    codec: Path
    bundle: ModelBundle = attrs.field(default=VAMPNET, eq=False, repr=False)


class _Presets(Mapping[str, ModelBundle]):
    """The registered bundles by name, read at each access (plugins may add some)."""

    def __getitem__(self, name: str) -> ModelBundle:
        return bundles.registered()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(bundles.registered())

    def __len__(self) -> int:
        return len(bundles.registered())


#: weights names ``--weights`` and recipes accept: every registered ``ModelBundle``
PRESETS: Mapping[str, ModelBundle] = _Presets()


def preset(spec: str) -> ModelBundle:
    """The bundle for ``spec``: a registered name or ``"<bundle>:<fine-tuned name>"``."""
    return bundles.get(spec)


def resolve_weights(spec: str, *, offline: bool | None = None) -> WeightPaths:
    """Local paths for ``spec`` (bundle name or local paths), downloading what is not cached.

    Offline (``offline=True``, ``HF_HUB_OFFLINE=1`` or ``VAMPKIT_OFFLINE=1``) only the cache is used; a file neither
    cached nor downloadable raises ``WeightsUnavailableError`` saying which file, where it was
    looked for, and how to get it. ``HF_ENDPOINT`` selects the Hub server.
    """
    local = _local_weights(spec)
    if local is not None:
        return local
    return fetch_bundle(preset(spec), offline=offline)


def fetch_bundle(bundle: ModelBundle, *, offline: bool | None = None) -> WeightPaths:
    """Local paths of a bundle's files from vampkit's Hub cache, downloaded when missing and
    checked against the bundle's published sha256 where it has one."""
    if offline is None:
        offline = offline_mode()

    def fetch(name: str) -> Path:
        return _checked(bundle, name, _download(bundle, name, offline))

    return WeightPaths(fetch(bundle.coarse), fetch(bundle.c2f) if bundle.c2f else None, fetch(bundle.codec),
                       bundle=bundle)


def _checked(bundle: ModelBundle, filename: str, path: Path) -> Path:
    expected = bundle.sha256.get(filename)
    if expected is not None:
        actual = sha256_file(path)
        if actual != expected.lower():
            raise WeightsUnavailableError(
                f"weights file '{filename}' of {bundle.repo_id} at {path} has sha256 {actual}, not the published "
                f"{expected}: a damaged or replaced file; delete it and fetch it again"
            )
    return path


def _local_weights(spec: str) -> WeightPaths | None:
    if "," in spec:
        parts = [p.strip() for p in spec.split(",")]
        if len(parts) != 3:
            raise WeightsUnavailableError(f"weights '{spec}': give three comma-separated paths: coarse,c2f,codec")
        coarse, c2f, codec = (Path(p).expanduser() if p else None for p in parts)
        if coarse is None or codec is None:
            raise WeightsUnavailableError(f"weights '{spec}': the coarse and codec paths are required")
        for label, path in (("coarse", coarse), ("c2f", c2f), ("codec", codec)):
            if path is not None and not os.path.isfile(path):
                raise WeightsUnavailableError(f"weights: {label} file {str(path)[:200]} does not exist or "
                                              f"is not a regular file")
        return WeightPaths(coarse, c2f, codec)
    path = Path(spec).expanduser()
    problem = lookup_problem(path)
    if problem:  # a name no folder can have (too long): not a preset either
        raise WeightsUnavailableError(f"weights '{spec[:120]}...': not a usable path ({problem})")
    if path.is_dir():
        files = {name: path / f"{name}.pth" for name in ("coarse", "c2f", "codec")}
        missing = [str(files[n]) for n in ("coarse", "codec") if not files[n].is_file()]
        if missing:
            raise WeightsUnavailableError(f"weights directory {path}: missing {', '.join(missing)}")
        return WeightPaths(files["coarse"], files["c2f"] if files["c2f"].is_file() else None, files["codec"])
    if os.sep in spec or spec.endswith(".pth"):
        raise WeightsUnavailableError(f"weights: no such file or directory: {path}")
    return None


def _download(found: ModelBundle, filename: str, offline: bool) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError

    where = cache_dir(HF_SUBDIR)
    endpoint = os.environ.get("HF_ENDPOINT") or None
    how = (
        f"download it with network access (e.g. `hf download {found.repo_id} {filename} --cache-dir {where}`), "
        f"or pass local files instead (a directory with coarse.pth, c2f.pth, codec.pth, or 'coarse,c2f,codec' paths)"
    )
    try:
        # a cached file is used as it is: no network round trip for a pinned revision
        return Path(hf_hub_download(found.repo_id, filename, revision=found.revision, cache_dir=where,
                                    local_files_only=True, endpoint=endpoint))
    except LocalEntryNotFoundError:
        pass
    if not offline and not _reachable(endpoint):
        offline_reason = "the Hub could not be reached"
    else:
        offline_reason = None
    try:
        if offline_reason:
            raise LocalEntryNotFoundError(offline_reason)
        return Path(hf_hub_download(found.repo_id, filename, revision=found.revision, cache_dir=where,
                                    local_files_only=offline, endpoint=endpoint))
    except LocalEntryNotFoundError as exc:  # (a subclass of EntryNotFoundError: first)
        state = "offline mode is on (HF_HUB_OFFLINE / VAMPKIT_OFFLINE / offline=True)" if offline else "the Hub could not be reached"
        raise WeightsUnavailableError(
            f"weights file '{filename}' of {found.repo_id} is not in the cache ({where}) and {state}; {how}"
        ) from exc
    except (EntryNotFoundError, RepositoryNotFoundError) as exc:
        raise WeightsUnavailableError(
            f"weights file '{filename}' does not exist in {found.repo_id}@{found.revision} "
            f"({endpoint or 'https://huggingface.co'}): {type(exc).__name__}"
        ) from exc
    except OSError as exc:  # network errors, disk full, permissions
        raise WeightsUnavailableError(
            f"could not fetch weights file '{filename}' of {found.repo_id} into {where}: {exc}; {how}"
        ) from exc


_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def _reachable(endpoint: str | None, timeout: float = 5.0) -> bool:
    """Whether the Hub's host accepts a TCP connection: a quick check, so that an offline
    machine gets the clear message at once instead of the hub client's retries with back-off.
    Behind a proxy the check is skipped (the client knows how to reach the Hub)."""
    if any(os.environ.get(name) for name in _PROXY_VARIABLES):
        return True
    url = urllib.parse.urlparse(endpoint or "https://huggingface.co")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout).close()
    except OSError:
        return False
    return True


#: set to 1 to forbid vampkit any network access (``HF_HUB_OFFLINE=1`` does the same)
OFFLINE_ENV = "VAMPKIT_OFFLINE"
_TRUE = ("1", "true", "yes", "on")


def offline_mode() -> bool:
    """Whether downloads are forbidden: ``VAMPKIT_OFFLINE`` or ``HF_HUB_OFFLINE`` is set."""
    return any(os.environ.get(name, "").strip().lower() in _TRUE for name in (OFFLINE_ENV, "HF_HUB_OFFLINE"))


def fetch_url(url: str, dest: str | os.PathLike, *, sha256: str | None = None, progress: bool = True) -> Path:
    """A published file outside the Hub (e.g. DAC's GitHub releases) at ``dest``, fetched with
    pooch when missing: downloaded to a temporary file, checked against ``sha256`` when one is
    known, then moved into place; a cached copy is used (and checked) without the network."""
    import pooch

    dest = Path(dest)
    how = f"download {url} on a connected machine and place it at '{dest}'" + (f" (sha256 {sha256})" if sha256 else "")
    if not dest.is_file() and offline_mode():
        raise WeightsUnavailableError(
            f"could not download {url} to '{dest}': offline mode is on ({OFFLINE_ENV} / HF_HUB_OFFLINE), so "
            f"vampkit does not use the network. To install it by hand, {how}."
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        found = pooch.retrieve(url, known_hash=f"sha256:{sha256.lower()}" if sha256 else None, fname=dest.name,
                               path=dest.parent, progressbar=progress)
    except ValueError as exc:  # pooch's checksum mismatch: the download is discarded
        raise WeightsUnavailableError(
            f"checksum mismatch for {url}: expected sha256 {sha256}; the download was discarded ({exc}). "
            f"To install it by hand, {how}."
        ) from exc
    except Exception as exc:  # requests' connection and HTTP errors, disk errors: named, re-raised
        raise WeightsUnavailableError(
            f"could not download {url} to '{dest}': {type(exc).__name__}: {exc}. To install it by hand, {how}."
        ) from exc
    return Path(found)
