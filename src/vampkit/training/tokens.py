"""Token data sets: audio folders encoded once into memory-mappable codec-token shards.

Layout of a token folder::

    manifest.json             codec identity, preprocessing, files, skipped inputs
    shards/<id>.npy           int16/int32 [n_codebooks, n_frames] codes of one audio file
    shards/<id>.loud.npy      float32 K-weighted block energies (400 ms blocks, 100 ms hop)
    shards/<id>.json          the source's path, size and mtime: written last, marks it done

Encoding is resumable: a file whose sidecar matches the source's size and mtime is not
encoded again. Audio goes through ``vampkit.audio.encode_audio`` (upstream's preprocessing:
mono, -24 LUFS, peak <= 1). Training never decodes audio: it draws excerpts from the
memory-mapped shards, keeping upstream's excerpt loudness cut-off by measuring the excerpt's
loudness (BS.1770 gating) from the stored block energies of the raw audio.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from ..atomic import atomic_path, write_text
from ..audio.loudness import BLOCK_HOP_SECONDS, BLOCK_SECONDS, MIN_LOUDNESS_DB, block_energies, gated_loudness
from ..bundles import VAMPNET
from ..errors import AudioError, ParameterError, VampkitError

FORMAT = "vampkit-tokens"
VERSION = 1
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".m4a", ".opus")


class DatasetError(VampkitError):
    """A token folder is missing, unfinished, or does not fit the model being trained."""


@attrs.frozen
class CodecInfo:
    """What a token folder's codes mean: the codec's grid and a fingerprint of its tables."""

    name: str
    sample_rate: int
    hop_length: int
    n_codebooks: int
    codebook_size: int
    tables_sha256: str

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @classmethod
    def of(cls, codec: object) -> CodecInfo:
        return cls(str(getattr(codec, "name", type(codec).__name__)), int(codec.sample_rate),
                   int(codec.hop_length), int(codec.n_codebooks), int(codec.codebook_size),
                   tables_fingerprint(codec.codebook_tables()))


def tables_fingerprint(tables: torch.Tensor) -> str:
    """sha256 of the codec's codebook tables (float32): the tokens' meaning, whatever the file."""
    data = tables.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
    return hashlib.sha256(data).hexdigest()


@attrs.frozen
class EncodeReport:
    """What ``encode_dataset`` did: encoded now, reused from a previous run, skipped (with why)."""

    out: Path
    encoded: tuple[str, ...]
    reused: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    manifest: Path


def find_audio(source: Path) -> list[Path]:
    """Audio files under ``source`` (recursive, sorted), or ``source`` itself if it is a file."""
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise AudioError(f"'{source}': no such audio file or folder")
    return sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
                  and not any(part.startswith(".") for part in p.relative_to(source).parts))


def _shard_id(relative: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(relative).stem)[:48] or "audio"
    return f"{hashlib.sha1(relative.encode('utf-8')).hexdigest()[:10]}-{stem}"


def encode_dataset(source: str | os.PathLike, out: str | os.PathLike, codec: object, *,
                   codec_spec: str = "", on_file: Callable[[str, str | None], None] | None = None,
                   loudness_db: float = VAMPNET.loudness_db, chunk_seconds: float | None = None) -> EncodeReport:
    """Encode every audio file under ``source`` into the token folder ``out`` (resumable).

    Unreadable or unusable files are skipped and listed (in the report and the manifest).
    ``out`` must be empty, new, or a token folder made by this command with the same codec.
    """
    from ..audio import encode_audio, load_audio
    from ..audio.encoding import mono_mix

    source, out = Path(source), Path(out)
    info = CodecInfo.of(codec)
    _prepare_out(out, info)
    shards = out / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    files = find_audio(source)
    root = source if source.is_dir() else source.parent
    entries, encoded, reused, skipped = [], [], [], []
    for path in files:
        relative = path.relative_to(root).as_posix()
        shard = _shard_id(relative)
        stat = path.stat()
        sidecar = shards / f"{shard}.json"
        previous = _read_json(sidecar)
        if previous and previous.get("size") == stat.st_size and previous.get("mtime_ns") == stat.st_mtime_ns \
                and (shards / f"{shard}.npy").is_file():
            entries.append(previous)
            reused.append(relative)
            if on_file:
                on_file(relative, None)
            continue
        try:
            audio = load_audio(path)
            mono = mono_mix(audio)
            codes = encode_audio(codec, mono, loudness_db=loudness_db, chunk_seconds=chunk_seconds).codes[0]
            energies = block_energies(mono.samples, mono.sample_rate)[0].astype(np.float32)
        except (VampkitError, OSError) as exc:
            skipped.append((relative, str(exc)))
            if on_file:
                on_file(relative, str(exc))
            continue
        entry = _write_shard(shards, shard, codes.numpy(), energies, info,
                             {"source": relative, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                              "seconds": mono.duration})
        entries.append(entry)
        encoded.append(relative)
        if on_file:
            on_file(relative, None)
    path = _write_manifest(out, info, entries, skipped, source=str(source), codec_spec=codec_spec,
                           loudness_db=loudness_db)
    return EncodeReport(out, tuple(encoded), tuple(reused), tuple(skipped), path)


def _write_shard(shards: Path, shard: str, codes: np.ndarray, energies: np.ndarray, info: CodecInfo,
                 entry: dict) -> dict:
    """Codes and block energies (atomically), then the sidecar that marks the shard done."""
    dtype = np.int16 if info.codebook_size <= np.iinfo(np.int16).max else np.int32
    with atomic_path(shards / f"{shard}.npy") as temp:
        np.save(temp, np.asarray(codes).astype(dtype), allow_pickle=False)
    with atomic_path(shards / f"{shard}.loud.npy") as temp:
        np.save(temp, np.asarray(energies, dtype=np.float32), allow_pickle=False)
    entry = {**entry, "shard": shard, "n_frames": int(codes.shape[-1]), "block_seconds": BLOCK_SECONDS,
             "block_hop_seconds": BLOCK_HOP_SECONDS}
    write_text(shards / f"{shard}.json", json.dumps(entry, indent=1))
    return entry


def _write_manifest(out: Path, info: CodecInfo, entries: list[dict], skipped: Sequence[tuple[str, str]], *,
                    source: str, codec_spec: str, loudness_db: float = VAMPNET.loudness_db) -> Path:
    manifest = {
        "format": FORMAT, "version": VERSION, "codec": attrs.asdict(info), "codec_spec": codec_spec,
        "preprocessing": {"channels": "mono (mean)", "loudness_lufs": loudness_db, "peak": 1.0},
        "source": source, "files": entries,
        "skipped": [{"source": s, "reason": r} for s, r in skipped],
    }
    return write_text(out / "manifest.json", json.dumps(manifest, indent=1))


def write_tokens(out: str | os.PathLike, codec: CodecInfo, items: Mapping[str, Any],
                 loudness_db: float = -20.0) -> Path:
    """A token folder from codes already in hand (``{name: [n_codebooks, n_frames]}``), with a
    flat loudness profile at ``loudness_db``: for tests and for tokens made elsewhere."""
    out = Path(out)
    _prepare_out(out, codec)
    shards = out / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, codes in items.items():
        codes = np.asarray(codes.numpy() if isinstance(codes, torch.Tensor) else codes)
        if codes.ndim != 2 or codes.shape[0] != codec.n_codebooks:
            raise ParameterError(f"tokens '{name}': expected [{codec.n_codebooks}, frames], got {codes.shape}")
        seconds = codes.shape[-1] / codec.frame_rate
        n_blocks = max(1, math.ceil((max(seconds, BLOCK_SECONDS) - BLOCK_SECONDS) / BLOCK_HOP_SECONDS) + 1)
        energies = np.full(n_blocks, 10 ** ((loudness_db + 0.691) / 10), dtype=np.float32)
        entries.append(_write_shard(shards, _shard_id(name), codes, energies, codec,
                                    {"source": name, "seconds": seconds}))
    return _write_manifest(out, codec, entries, (), source="(codes)", codec_spec="")


_CODEC_INTS = ("sample_rate", "hop_length", "n_codebooks", "codebook_size")


def _manifest_codec(entry: Any, where: str) -> CodecInfo:
    """The manifest's codec entry, every field of its type and in range, or a DatasetError."""
    names = [f.name for f in attrs.fields(CodecInfo)]
    if not isinstance(entry, dict) or sorted(entry) != sorted(names):
        raise DatasetError(f"{where}: bad codec entry (expected the keys {', '.join(names)})")
    for key in _CODEC_INTS:
        value = entry[key]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
            raise DatasetError(f"{where}: codec {key} must be a positive integer, got {str(value)[:40]}")
    if not all(isinstance(entry[k], str) for k in ("name", "tables_sha256")):
        raise DatasetError(f"{where}: codec name and tables_sha256 must be strings")
    return CodecInfo(**entry)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _prepare_out(out: Path, info: CodecInfo) -> None:
    if out.exists() and not out.is_dir():
        raise DatasetError(f"'{out}' exists and is not a folder")
    if not out.exists() or not any(out.iterdir()):
        return
    manifest = _read_json(out / "manifest.json")
    if manifest is None and not (out / "shards").is_dir():
        raise DatasetError(f"'{out}' is not empty and not a token folder: refusing to write into it")
    if manifest is not None:
        if manifest.get("format") != FORMAT:
            raise DatasetError(f"'{out}/manifest.json' is not a vampkit token manifest")
        check_codec(CodecInfo(**manifest["codec"]), info, f"token folder '{out}'", "this codec")


def check_codec(found: CodecInfo, wanted: CodecInfo, found_label: str, wanted_label: str) -> None:
    """Refuse tokens from another codec, naming both values of what differs (sample rate and hop
    together fix the frame rate)."""
    for key in ("sample_rate", "hop_length", "codebook_size"):
        a, b = getattr(found, key), getattr(wanted, key)
        if a != b:
            raise DatasetError(f"{found_label} has {key} {a}, {wanted_label} has {b}: tokens of another codec")
    if found.n_codebooks < wanted.n_codebooks:
        raise DatasetError(f"{found_label} has {found.n_codebooks} codebooks, {wanted_label} needs "
                           f"{wanted.n_codebooks}")
    if found.tables_sha256 != wanted.tables_sha256:
        raise DatasetError(f"{found_label} was encoded by a codec with tables {found.tables_sha256[:12]}..., "
                           f"{wanted_label} has tables {wanted.tables_sha256[:12]}...: another codec's tokens")


@attrs.frozen(eq=False)
class TokenFile:
    """One encoded file: its codes (memory-mapped) and loudness block energies."""

    source: str
    codes: np.ndarray  # [n_codebooks, n_frames]
    energies: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.codes.shape[-1])


@attrs.frozen(eq=False)
class TokenDataset:
    """A token folder opened for training: memory-mapped codes and the codec they belong to."""

    root: Path
    codec: CodecInfo
    files: tuple[TokenFile, ...]

    @classmethod
    def open(cls, root: str | os.PathLike) -> TokenDataset:
        root = Path(root)
        manifest = _read_json(root / "manifest.json")
        if manifest is None:
            if (root / "shards").is_dir():
                raise DatasetError(f"token folder '{root}' has no manifest.json: encoding did not finish; "
                                   f"run `vampkit encode-dataset` again to complete it")
            raise DatasetError(f"'{root}' is not a token folder (no manifest.json); make one with "
                               f"`vampkit encode-dataset AUDIO_DIR --out {root}`")
        where = f"'{root}/manifest.json'"
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
            raise DatasetError(f"{where} is not a version-{VERSION} vampkit token manifest")
        codec = _manifest_codec(manifest.get("codec"), where)
        entries = manifest.get("files")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise DatasetError(f"{where}: 'files' must be a list of file entries")
        files = []
        for entry in entries:
            shard = entry.get("shard")
            if not isinstance(shard, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", shard) or shard[0] == ".":
                raise DatasetError(f"{where}: bad shard name {str(shard)[:100]!r}")
            try:
                codes = np.load(root / "shards" / f"{shard}.npy", mmap_mode="r", allow_pickle=False)
                energies = np.load(root / "shards" / f"{shard}.loud.npy", allow_pickle=False)
            except (OSError, ValueError, EOFError) as exc:
                raise DatasetError(f"token folder '{root}': shard '{shard}' is unreadable: {exc}") from exc
            if codes.dtype.kind not in "iu" or codes.ndim != 2 or codes.shape[0] != codec.n_codebooks:
                raise DatasetError(f"token folder '{root}': shard '{shard}' holds {codes.dtype} {codes.shape}, "
                                   f"expected integer codes [{codec.n_codebooks}, frames]")
            if energies.dtype.kind != "f" or energies.ndim != 1 or not np.isfinite(energies).all() \
                    or (energies < 0).any():
                raise DatasetError(f"token folder '{root}': shard '{shard}' has no usable loudness blocks "
                                   f"({shard}.loud.npy: {energies.dtype} {energies.shape})")
            source = entry.get("source", shard)
            files.append(TokenFile(source if isinstance(source, str) else shard, codes, energies))
        if not files:
            raise DatasetError(f"token folder '{root}' holds no encoded files")
        return cls(root, codec, tuple(files))

    def split(self, fraction: float) -> tuple[TokenDataset, TokenDataset]:
        """(train, validation): files held out by a hash of their name, stable across runs."""
        if not 0 < fraction < 1:
            raise ParameterError(f"validation_split must lie in (0, 1), got {fraction}")
        held = [f for f in self.files
                if int(hashlib.sha1(f.source.encode("utf-8")).hexdigest()[:8], 16) / 2**32 < fraction]
        if not held:
            held = [self.files[-1]]
        kept = [f for f in self.files if f not in held]
        if not kept:
            raise DatasetError(f"token folder '{self.root}': too few files to hold out a validation split")
        return attrs.evolve(self, files=tuple(kept)), attrs.evolve(self, files=tuple(held))


COARSE_LOUDNESS_CUTOFF = -30.0
C2F_LOUDNESS_CUTOFF = -40.0


def default_loudness_cutoff(n_conditioning_codebooks: int) -> float:
    """Upstream's excerpt loudness cut-off (LUFS): -30 for a coarse model, -40 for a
    coarse-to-fine one (a model with conditioning codebooks), whose excerpts are shorter."""
    return COARSE_LOUDNESS_CUTOFF if n_conditioning_codebooks == 0 else C2F_LOUDNESS_CUTOFF


@attrs.frozen(eq=False)
class ExcerptSampler:
    """Draws excerpts of ``n_frames`` from a data set, as upstream's salient excerpts.

    A file is picked with probability proportional to its length, then up to ``num_tries``
    start frames until the excerpt's loudness exceeds ``loudness_cutoff`` (the last try is
    kept otherwise); files shorter than ``n_frames`` are left out.
    """

    dataset: TokenDataset
    n_frames: int
    n_codebooks: int
    loudness_cutoff: float | None = None
    num_tries: int = 8
    usable: tuple[int, ...] = attrs.field(init=False)
    weights: torch.Tensor = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        usable = tuple(i for i, f in enumerate(self.dataset.files) if f.n_frames >= self.n_frames)
        if not usable:
            longest = max(f.n_frames for f in self.dataset.files)
            raise DatasetError(f"token folder '{self.dataset.root}': no file is as long as one training excerpt "
                               f"({self.n_frames} frames; the longest has {longest})")
        object.__setattr__(self, "usable", usable)
        weights = torch.tensor([self.dataset.files[i].n_frames - self.n_frames + 1 for i in usable],
                               dtype=torch.float64)
        object.__setattr__(self, "weights", weights / weights.sum())

    @property
    def skipped_short(self) -> list[str]:
        return [f.source for i, f in enumerate(self.dataset.files) if i not in self.usable]

    def draw(self, generator: torch.Generator) -> tuple[int, int]:
        """(file index, start frame) of one excerpt."""
        pick = self.usable[int(torch.multinomial(self.weights, 1, generator=generator))]
        file = self.dataset.files[pick]
        room = file.n_frames - self.n_frames + 1
        start = 0
        for _ in range(max(1, self.num_tries)):
            start = int(torch.randint(0, room, (), generator=generator))
            if self.loudness_cutoff is None or self.excerpt_loudness(file, start) > self.loudness_cutoff:
                break
        return pick, start

    def excerpt_loudness(self, file: TokenFile, start: int) -> float:
        """Loudness of frames ``[start, start + n_frames)`` from the blocks that lie inside it."""
        rate = self.dataset.codec.frame_rate
        t0, t1 = start / rate, (start + self.n_frames) / rate
        first = math.ceil(t0 / BLOCK_HOP_SECONDS - 1e-9)
        last = math.floor((t1 - BLOCK_SECONDS) / BLOCK_HOP_SECONDS + 1e-9)
        if last < first:  # excerpt shorter than a block: the blocks it overlaps
            first, last = int(t0 / BLOCK_HOP_SECONDS), max(int(t0 / BLOCK_HOP_SECONDS), first)
        blocks = file.energies[max(0, first): min(len(file.energies), last + 1)]
        return gated_loudness(blocks) if len(blocks) else MIN_LOUDNESS_DB

    def codes(self, picks: Sequence[tuple[int, int]]) -> torch.Tensor:
        """``long [len(picks), n_codebooks, n_frames]`` codes of the given excerpts."""
        out = np.empty((len(picks), self.n_codebooks, self.n_frames), dtype=np.int64)
        for row, (index, start) in enumerate(picks):
            out[row] = self.dataset.files[index].codes[: self.n_codebooks, start : start + self.n_frames]
        vocab = self.dataset.codec.codebook_size
        if out.size and (out.min() < 0 or out.max() >= vocab):  # checked where read: shards are memory-mapped
            bad = sorted({self.dataset.files[i].source for i, _ in picks})
            raise DatasetError(f"token folder '{self.dataset.root}': {', '.join(bad)[:200]} holds codes outside "
                               f"0..{vocab - 1} (another codec's tokens, or a damaged shard)")
        return torch.from_numpy(out)


def describe_skipped(skipped: Iterable[tuple[str, str]]) -> list[str]:
    return [f"{name}: {reason}" for name, reason in skipped]
