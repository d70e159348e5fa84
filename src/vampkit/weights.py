"""Model weights: named presets on the Hugging Face Hub, or local files, resolved to paths.

``resolve_weights("vampnet")`` fetches upstream's published ``coarse.pth``, ``c2f.pth`` and
``codec.pth`` from ``hugggof/vampnet`` into vampkit's cache (``$VAMPKIT_CACHE/hf``);
``"vampnet:<name>"`` takes the fine-tuned ``loras/<name>/{coarse,c2f}.pth`` (full checkpoints)
with the same codec. Local paths: a directory holding the three files, or
``"coarse.pth,c2f.pth,codec.pth"`` (c2f may be left empty for a coarse-only model).
"""

from __future__ import annotations

import os
import socket
import urllib.parse
import re
from pathlib import Path

import attrs

from .cache import cache_dir
from .errors import WeightsUnavailableError

HF_SUBDIR = "hf"
_LORA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@attrs.frozen
class Preset:
    """Where a named set of weights lives on the Hub."""

    repo_id: str
    coarse: str
    c2f: str | None
    codec: str
    revision: str = "main"
    description: str = ""


@attrs.frozen
class WeightPaths:
    """Local files of one model set; ``c2f`` is None for a coarse-only set."""

    coarse: Path
    c2f: Path | None
    codec: Path


PRESETS: dict[str, Preset] = {
    "vampnet": Preset("hugggof/vampnet", "coarse.pth", "c2f.pth", "codec.pth",
                      description="upstream VampNet (CC BY-NC-SA 4.0 weights)"),
}


def preset(spec: str) -> Preset:
    """The preset for ``spec``: a name of ``PRESETS`` or ``"<preset>:<lora name>"``."""
    base, _, lora = spec.partition(":")
    if base not in PRESETS:
        known = ", ".join(sorted(PRESETS))
        raise WeightsUnavailableError(
            f"unknown weights '{spec}': not a preset ({known}, or '<preset>:<fine-tuned name>') "
            f"nor an existing local path"
        )
    found = PRESETS[base]
    if not lora:
        return found
    if not _LORA_NAME.match(lora):
        raise WeightsUnavailableError(f"weights '{spec}': '{lora}' is not a valid fine-tuned model name")
    return attrs.evolve(found, coarse=f"loras/{lora}/coarse.pth", c2f=f"loras/{lora}/c2f.pth",
                        description=f"{found.description}, fine-tuned '{lora}'")


def resolve_weights(spec: str, *, offline: bool | None = None) -> WeightPaths:
    """Local paths for ``spec`` (preset name or local paths), downloading what is not cached.

    Offline (``offline=True`` or ``HF_HUB_OFFLINE=1``) only the cache is used; a file neither
    cached nor downloadable raises ``WeightsUnavailableError`` saying which file, where it was
    looked for, and how to get it. ``HF_ENDPOINT`` selects the Hub server.
    """
    local = _local_weights(spec)
    if local is not None:
        return local
    found = preset(spec)
    if offline is None:
        offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    fetch = lambda name: _download(found, name, offline)  # noqa: E731
    return WeightPaths(fetch(found.coarse), fetch(found.c2f) if found.c2f else None, fetch(found.codec))


def _local_weights(spec: str) -> WeightPaths | None:
    if "," in spec:
        parts = [p.strip() for p in spec.split(",")]
        if len(parts) != 3:
            raise WeightsUnavailableError(f"weights '{spec}': give three comma-separated paths: coarse,c2f,codec")
        coarse, c2f, codec = (Path(p).expanduser() if p else None for p in parts)
        if coarse is None or codec is None:
            raise WeightsUnavailableError(f"weights '{spec}': the coarse and codec paths are required")
        for label, path in (("coarse", coarse), ("c2f", c2f), ("codec", codec)):
            if path is not None and not path.is_file():
                raise WeightsUnavailableError(f"weights: {label} file not found: {path}")
        return WeightPaths(coarse, c2f, codec)
    path = Path(spec).expanduser()
    if path.is_dir():
        files = {name: path / f"{name}.pth" for name in ("coarse", "c2f", "codec")}
        missing = [str(files[n]) for n in ("coarse", "codec") if not files[n].is_file()]
        if missing:
            raise WeightsUnavailableError(f"weights directory {path}: missing {', '.join(missing)}")
        return WeightPaths(files["coarse"], files["c2f"] if files["c2f"].is_file() else None, files["codec"])
    if os.sep in spec or spec.endswith(".pth"):
        raise WeightsUnavailableError(f"weights: no such file or directory: {path}")
    return None


def _download(found: Preset, filename: str, offline: bool) -> Path:
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
        state = "offline mode is on (HF_HUB_OFFLINE / offline=True)" if offline else "the Hub could not be reached"
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
