"""Audio in and out for the pipeline: read any input, resample, write outputs atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile
import soxr
import torch

from ..errors import AudioError


def read_audio(path: Path) -> tuple[torch.Tensor, int]:
    """``(channels, samples)`` float32 and the sample rate; unreadable or empty files are AudioError."""
    try:
        data, sample_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, OSError, soundfile.LibsndfileError) as exc:  # type: ignore[attr-defined]
        raise AudioError(f"{path}: cannot read audio: {exc}") from exc
    if data.shape[0] == 0:
        raise AudioError(f"{path}: the audio file is empty")
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: the audio contains NaN or infinite samples")
    return torch.from_numpy(np.ascontiguousarray(data.T)), int(sample_rate)


def resample(audio: torch.Tensor, sample_rate: int, target: int) -> torch.Tensor:
    """``audio`` (channels, samples) at ``target`` Hz (soxr, high quality)."""
    if sample_rate == target:
        return audio
    out = soxr.resample(audio.detach().cpu().numpy().T.astype(np.float32), sample_rate, target)
    return torch.from_numpy(np.ascontiguousarray(np.atleast_2d(out.T if out.ndim == 2 else out)))


def write_audio(path: Path, audio: torch.Tensor, sample_rate: int) -> Path:
    """Write a float WAV via a temporary file renamed into place: never a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = audio.detach().float().cpu()
    if samples.dim() == 3:
        samples = samples[0]
    if samples.dim() == 1:
        samples = samples.unsqueeze(0)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        soundfile.write(tmp, samples.numpy().T, int(sample_rate), format="WAV", subtype="FLOAT")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: Path, text: str) -> Path:
    """Write text atomically (temporary file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
