"""Mask building time for a 10-minute song (~34,500 frames x 14 codebooks), against a baseline
in the same run: the same periodic prompt built frame by frame in Python (what vectorising saves).

    .venv/bin/python benchmarks/mask_build.py
"""

from __future__ import annotations

import math
import statistics
import time

import torch

from vampkit import MaskContext, build_mask_generator

SPECS = {
    "periodic": {"periodic": {"period": 7, "width": 3, "random_offset": True}},
    "compress (any-of periodic + codebooks)": {"any-of": [{"periodic": {"period": 16}}, {"codebooks": {"keep": 3}}]},
    "inpaint + dropout": {"dropout": {"p": 0.2, "mask": {"inpaint": {"prefix": 60.0, "suffix": 60.0}}}},
    "beat (120 BPM, given beats)": {"beat": {"before": 0.0375, "after": 0.0375}},
}


def per_frame_periodic(n_codebooks: int, n_frames: int, period: int, width: int) -> torch.Tensor:
    """The baseline: upstream's loop over prompt frames, one window at a time."""
    mask = torch.ones(n_codebooks, n_frames, dtype=torch.bool)
    for j in range(0, n_frames, period):
        for t in range(max(0, j - width // 2), min(n_frames - 1, j + width // 2) + 1):
            mask[:, t] = False
    return mask


def timed(fn, repeats: int = 7) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    from vampkit.beats import Beats

    n_frames, n_codebooks = math.ceil(600 * 44100 / 768), 14
    beats = Beats(times=tuple(0.25 + 0.5 * k for k in range(1199)))
    ctx = lambda: MaskContext(n_codebooks=n_codebooks, n_frames=n_frames, seed=0,  # noqa: E731
                              analyses={"beats": lambda: beats})
    baseline = timed(lambda: per_frame_periodic(n_codebooks, n_frames, 7, 3), repeats=3)
    print(f"grid {n_codebooks} x {n_frames} (10 min at 57.42 Hz); baseline per-frame periodic: {baseline * 1e3:.1f} ms")
    for label, spec in SPECS.items():
        generator = build_mask_generator(spec)
        t = timed(lambda generator=generator: generator(ctx()))
        print(f"{label:42s} {t * 1e3:7.2f} ms   {baseline / t:6.0f}x faster than the baseline")


if __name__ == "__main__":
    main()
