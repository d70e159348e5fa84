"""Test doubles for the pipeline plumbing only: NOT a model. Generated tokens are random ids
from the given generator; prompt tokens are copied through, as the sampler's contract says."""

from __future__ import annotations

import torch

from vampkit.audio import Audio, EncodedAudio, check_audio, resample, resampled_length
from vampkit.pipeline import Geometry

TINY = Geometry(sample_rate=16000, hop_length=320, n_codebooks=4, codebook_size=64)


class FillEngine:
    """Stands in for codec + models so stage plumbing can be tested without checkpoints."""

    def __init__(self, geometry: Geometry = TINY) -> None:
        self.geometry = geometry
        self.checkpoints: dict[str, str] = {}
        self.calls: list[tuple[int, float]] = []

    def encode(self, audio: Audio) -> EncodedAudio:
        check_audio(audio)
        n = self.geometry.n_frames(resampled_length(audio.length, audio.sample_rate, self.geometry.sample_rate))
        frames = torch.arange(n)
        codes = torch.stack([(frames * (c + 1)) % self.geometry.codebook_size
                             for c in range(self.geometry.n_codebooks)])[None]
        return EncodedAudio(codes=codes, loudness=-24.0, sample_rate=audio.sample_rate, length=audio.length,
                            channels=1, codec_sample_rate=self.geometry.sample_rate)

    def decode(self, encoded: EncodedAudio, codes: torch.Tensor) -> Audio:
        samples = (codes[0, :1].float() / self.geometry.codebook_size).repeat_interleave(self.geometry.hop_length, -1)
        samples = resample(samples * 0.1, self.geometry.sample_rate, encoded.sample_rate)
        if codes.shape[-1] == encoded.n_frames:
            samples = samples[..., : encoded.length]
        return Audio(samples, encoded.sample_rate)

    def vamp(self, prompt, *, coarse, c2f, generator, progress=None):
        self.calls.append((prompt.n_frames, prompt.kept_fraction()))
        generators = generator if isinstance(generator, list) else [generator]
        assert len(generators) in (1, prompt.batch_size)
        fill = torch.cat([torch.randint(0, self.geometry.codebook_size, (1, *prompt.codes.shape[1:]), generator=g)
                          for g in generators]) if len(generators) > 1 else torch.randint(
            0, self.geometry.codebook_size, prompt.codes.shape, generator=generators[0])
        if progress is not None:
            progress(coarse.steps + c2f.steps)
        return torch.where(prompt.batched_mask().tensor, fill, prompt.codes)
