"""Reading and writing audio files with soundfile: checked on the way in, atomic on the way out."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

import attrs
import numpy as np
import soundfile
import torch

from ..atomic import atomic_path
from ..errors import AudioError, OutputExistsError
from ..paths import lookup_problem, show
from .resample import check_sample_rate


@attrs.frozen
class Audio:
    """Audio in memory: ``samples [channels, n]`` float32 at ``sample_rate``; ``path`` if read from a file."""

    samples: torch.Tensor
    sample_rate: int
    path: Path | None = None

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def length(self) -> int:
        return int(self.samples.shape[-1])

    @property
    def duration(self) -> float:
        return self.length / self.sample_rate

    @property
    def label(self) -> str:
        """How errors name this audio: its file, or "audio" for an in-memory signal."""
        return f"'{self.path}'" if self.path is not None else "audio"


def load_audio(path: str | Path) -> Audio:
    """Read a WAV/FLAC/OGG (MP3 where libsndfile reads it) file as float32 ``[channels, n]``."""
    path = Path(path)
    if not os.path.exists(path):
        problem = lookup_problem(path)  # a name no file can have (too long, NUL)
        if problem:
            raise AudioError(f"audio file {show(str(path)[:120])}: not a usable path ({problem})")
        raise AudioError(f"audio file '{path}' does not exist")
    if not path.is_file():
        raise AudioError(f"audio file '{path}' is not a regular file")
    if path.stat().st_size == 0:
        raise AudioError(f"audio file '{path}' is empty (0 bytes)")
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioError(
            f"audio file '{path}' cannot be read: not an audio format vampkit reads, or corrupt or "
            f"truncated ({exc})"
        ) from exc
    sample_rate = check_sample_rate(info.samplerate, f"audio file '{path}'")
    try:
        data, _ = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioError(f"audio file '{path}' could not be decoded (corrupt or truncated?): {exc}") from exc
    if data.shape[0] == 0:
        raise AudioError(f"audio file '{path}' contains no samples")
    declared = _wav_declared_frames(path, info.channels)
    if declared is not None and data.shape[0] < declared:
        raise AudioError(
            f"audio file '{path}' is truncated: its header announces {declared} frames, "
            f"only {data.shape[0]} are in the file"
        )
    if info.frames > 0 and data.shape[0] < info.frames:
        raise AudioError(
            f"audio file '{path}' is truncated: its header announces {info.frames} frames, "
            f"only {data.shape[0]} could be read"
        )
    if not np.isfinite(data).all():
        raise AudioError(f"audio file '{path}' contains NaN or infinite samples")
    samples = torch.from_numpy(np.ascontiguousarray(data.T))
    return Audio(samples, sample_rate, path)


def _wav_declared_frames(path: Path, channels: int) -> int | None:
    """Frames a RIFF/WAVE header announces in its data chunk (libsndfile silently reads fewer)."""
    with path.open("rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = None
        while True:
            chunk = handle.read(8)
            if len(chunk) < 8:
                return None
            ident, size = chunk[:4], int.from_bytes(chunk[4:], "little")
            if ident == b"fmt ":
                fmt = handle.read(size)
                block_align = int.from_bytes(fmt[12:14], "little") if len(fmt) >= 14 else None
                handle.seek(size - len(fmt) + (size & 1), os.SEEK_CUR)
            elif ident == b"data":
                if not block_align or size in (0, 0xFFFFFFFF):
                    return None
                return size // block_align
            else:
                handle.seek(size + (size & 1), os.SEEK_CUR)


def _zero_peak_timestamp(path: Path) -> None:
    """Zero the timestamp libsndfile puts in the PEAK chunk of float WAV and AIFF files.

    The chunk is ``version (4 bytes), timestamp (4 bytes), peaks``; only the time changes
    between two writes of the same samples, so zeroing it makes the bytes reproducible.
    """
    with path.open("r+b") as handle:
        head = handle.read(12)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            order = "little"
        elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
            order = "big"
        else:
            return
        while True:
            chunk = handle.read(8)
            if len(chunk) < 8:
                return
            ident, size = chunk[:4], int.from_bytes(chunk[4:], order)
            if ident == b"PEAK" and size >= 8:
                handle.seek(4, os.SEEK_CUR)
                handle.write(b"\0\0\0\0")
                return
            if ident in (b"data", b"SSND"):
                return  # libsndfile writes PEAK before the samples
            handle.seek(size + (size & 1), os.SEEK_CUR)


def _format_for(path: Path) -> str:
    ext = path.suffix.lower().lstrip(".")
    formats = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "oga": "OGG", "mp3": "MP3", "aiff": "AIFF", "aif": "AIFF"}
    if ext not in formats or formats[ext] not in soundfile.available_formats():
        raise AudioError(f"cannot write '{path}': unsupported output format '.{ext}' (use .wav, .flac or .ogg)")
    return formats[ext]


def _same_file(a: Path, b: Path) -> bool:
    with contextlib.suppress(OSError):
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def save_audio(
    path: str | Path,
    samples: torch.Tensor,
    sample_rate: int,
    *,
    protect: Iterable[str | Path] = (),
    subtype: str | None = None,
    overwrite: bool = True,
) -> Path:
    """Write ``samples [channels, n]`` (or ``[n]``) atomically (temp file + rename in the same
    folder); never over a path in ``protect`` (the inputs). PCM output is clipped to [-1, 1].

    The same samples always give the same bytes (the float WAV/AIFF ``PEAK`` chunk's timestamp
    is zeroed). ``overwrite=False``: ``OutputExistsError`` when ``path`` exists (checked
    atomically, so a concurrent writer cannot be replaced either).
    """
    path = Path(path)
    for guarded in protect:
        if _same_file(path, Path(guarded)):
            raise AudioError(f"refusing to write '{path}': it is an input file ('{guarded}')")
    fmt = _format_for(path)
    rate = check_sample_rate(sample_rate, f"output '{path}'")
    if not isinstance(samples, torch.Tensor) or samples.ndim not in (1, 2) or samples.shape[-1] == 0:
        shape = list(samples.shape) if isinstance(samples, torch.Tensor) else type(samples).__name__
        raise AudioError(f"cannot write '{path}': samples must be [channels, n] with n >= 1, got {shape}")
    data = samples.detach().to("cpu", torch.float32)
    data = data[None] if data.ndim == 1 else data
    if not bool(torch.isfinite(data).all()):
        raise AudioError(f"cannot write '{path}': samples contain NaN or infinite values")
    subtype = subtype or soundfile.default_subtype(fmt)
    if subtype is None or not subtype.startswith(("FLOAT", "DOUBLE")):
        data = data.clamp(-1.0, 1.0)
    if not path.parent.is_dir():
        raise AudioError(f"cannot write '{path}': folder '{path.parent}' does not exist")
    try:
        with atomic_path(path, overwrite=overwrite) as temp:
            soundfile.write(temp, data.T.numpy(), rate, format=fmt, subtype=subtype)
            _zero_peak_timestamp(temp)
    except FileExistsError as exc:
        raise OutputExistsError(f"refusing to write '{path}': the file exists (not written by this run)") from exc
    except (soundfile.LibsndfileError, RuntimeError, ValueError, OSError) as exc:
        raise AudioError(f"cannot write '{path}': {exc}") from exc
    return path
