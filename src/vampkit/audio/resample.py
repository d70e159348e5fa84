"""Sample-rate conversion with soxr (high quality), on torch tensors of any leading shape."""

from __future__ import annotations

import numpy as np
import soxr
import torch

from ..errors import AudioError

#: sample rates vampkit accepts for audio (files and in-memory signals)
MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 768_000


def check_sample_rate(sample_rate: object, what: str = "audio") -> int:
    """``sample_rate`` as an int within the supported range, else an AudioError naming ``what``."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        if not (isinstance(sample_rate, float) and sample_rate.is_integer()):
            raise AudioError(f"{what}: sample rate {sample_rate!r} is not a whole number of Hz")
    rate = int(sample_rate)  # type: ignore[arg-type]
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioError(
            f"{what}: sample rate {rate} Hz is impossible for music audio "
            f"(vampkit takes {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz)"
        )
    return rate


def resample(samples: torch.Tensor, from_sr: int, to_sr: int) -> torch.Tensor:
    """``samples [..., n]`` at ``from_sr`` resampled to ``to_sr``: ``[..., round(n * to/from)]``
    float32, on the input's device."""
    from_sr = check_sample_rate(from_sr, "resample source")
    to_sr = check_sample_rate(to_sr, "resample target")
    if not isinstance(samples, torch.Tensor) or samples.ndim == 0:
        raise AudioError(f"resample needs a tensor [..., samples], got {type(samples).__name__}")
    if from_sr == to_sr:
        return samples.to(torch.float32)
    lead, n = samples.shape[:-1], samples.shape[-1]
    flat = samples.detach().to("cpu", torch.float32).reshape(-1, n).T.contiguous().numpy()  # [n, ch]
    out = soxr.resample(flat, from_sr, to_sr, quality="HQ")
    result = torch.from_numpy(np.ascontiguousarray(out.T)).reshape(*lead, out.shape[0])
    return result.to(samples.device)


def resampled_length(n_samples: int, from_sr: int, to_sr: int) -> int:
    """The length ``resample`` gives ``n_samples`` (for dry runs that count frames without audio)."""
    # round half up, in integers: soxr's output length for these rates
    return int(n_samples) if from_sr == to_sr else (2 * int(n_samples) * int(to_sr) + int(from_sr)) // (2 * int(from_sr))
