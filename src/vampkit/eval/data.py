"""The excerpts of an evaluation: chosen by seed from a folder or glob, cut, prepared as
upstream's baseline (mono, codec rate, -24 LUFS, peaks <= 1). Unusable clips are skipped and
listed, as ``vampkit run`` lists bad inputs."""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import attrs
import torch

from ..audio import (
    VAMPNET_LOUDNESS_DB,
    limit_peak,
    load_audio,
    normalize_loudness,
    resample,
)
from ..audio.loudness import MIN_LOUDNESS_DB
from ..errors import AudioError, RecipeError
from ..paths import show
from ..recipes.loader import clip
from ..pipeline.runner import AUDIO_EXTENSIONS, Failure, expand_inputs
from .experiment import DataSpec


@attrs.frozen
class Excerpt:
    """One excerpt: ``length`` samples from ``start`` of ``path`` (at the file's rate)."""

    index: int
    path: Path
    start: int
    length: int
    sample_rate: int
    key: str  # stable identity: file, size, mtime, start, length

    @property
    def name(self) -> str:
        return f"{self.index:05d}-{self.path.stem}"


def audio_files(data: str | os.PathLike, spec: DataSpec) -> tuple[list[Path], list[Failure]]:
    """Audio files of the data set: ``spec.files`` (a glob) inside the folder ``data``, or
    ``data`` itself when it is a file or a glob."""
    root = Path(data)
    is_dir = os.path.isdir(root)  # False for a name no folder can have: expand_inputs says why
    pattern = str(root / spec.files) if is_dir else str(data)
    recursive = is_dir and "**" in spec.files
    if is_dir and spec.files == "*":
        pattern = str(root)
    files, failures = expand_inputs([pattern])
    files = [f for f in files if f.suffix.lower() in AUDIO_EXTENSIONS]
    if not files and not failures:
        failures.append(Failure(str(data), "no audio files" + (" (recursive glob)" if recursive else "")))
    return files, failures


def choose_excerpts(data: str | os.PathLike, spec: DataSpec, limit: int | None = None
                    ) -> tuple[list[Excerpt], list[Failure]]:
    """Up to ``spec.count`` (and ``limit``) excerpts: files in a seeded order, ``per_file``
    seeded starts each; too-short or unreadable files are skipped and returned as failures."""
    files, failures = audio_files(data, spec)
    if not files:
        raise RecipeError(f"--data {clip(show(str(data)), 120)}: no audio files found"
                          + (f" ({failures[0].error})" if failures else ""))
    generator = torch.Generator().manual_seed(spec.seed)
    order = torch.randperm(len(files), generator=generator).tolist()
    wanted = min(spec.count, limit) if limit is not None else spec.count
    excerpts: list[Excerpt] = []
    for i in order:
        if len(excerpts) >= wanted:
            break
        path = files[i]
        try:
            import soundfile

            info = soundfile.info(str(path))
        except Exception as exc:  # noqa: BLE001 - libsndfile's errors vary by format
            failures.append(Failure(str(path), f"cannot be read: {exc}"))
            continue
        length = round(spec.excerpt * info.samplerate)
        if info.frames < length or length < 1:
            failures.append(Failure(str(path), f"too short: {info.frames / info.samplerate:.2f} s, the "
                                               f"excerpt is {spec.excerpt:g} s"))
            continue
        stat = path.stat()
        for _ in range(spec.per_file):
            if len(excerpts) >= wanted:
                break
            start = int(torch.randint(0, info.frames - length + 1, (1,), generator=generator))
            ident = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{start}|{length}"
            key = hashlib.sha256(ident.encode()).hexdigest()[:16]
            excerpts.append(Excerpt(len(excerpts), path, start, length, int(info.samplerate), key))
    return excerpts, failures


def load_reference(excerpt: Excerpt, sample_rate: int) -> torch.Tensor:
    """The excerpt as upstream's baseline: mono ``[1, n]`` at ``sample_rate``, -24 LUFS, peak <= 1."""
    audio = load_audio(excerpt.path)
    samples = audio.samples[:, excerpt.start:excerpt.start + excerpt.length].mean(dim=0, keepdim=True)
    samples = resample(samples, audio.sample_rate, sample_rate)
    if not bool(samples.abs().amax() > 0):
        raise AudioError(f"'{excerpt.path}' is silent from {excerpt.start / audio.sample_rate:.2f} s")
    normalised, loudness = normalize_loudness(samples, sample_rate, VAMPNET_LOUDNESS_DB)
    if not math.isfinite(loudness) or loudness <= MIN_LOUDNESS_DB:
        raise AudioError(f"'{excerpt.path}': the excerpt is too quiet to measure its loudness")
    return limit_peak(normalised)
