"""Batch scaling: wall time of sample() for B = 1, 4, 16 variations of one prompt.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/batch_scaling.py --layers 4 --dim 512 --heads 8
"""

from __future__ import annotations

import argparse
import time

import torch

from sampler_overhead import build  # the same random coarse-shaped model

from vampkit import Mask, Prompt, sample
from vampkit.device import resolve_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=20)
    parser.add_argument("--dim", type=int, default=1280)
    parser.add_argument("--heads", type=int, default=20)
    parser.add_argument("--frames", type=int, default=575)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batches", default="1,4,16")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--autocast", default=None)
    args = parser.parse_args()

    device = resolve_device(args.device)
    model = build(args, device)
    codes = torch.randint(0, 1024, (1, 4, args.frames), generator=torch.Generator().manual_seed(0)).to(device)
    mask = Mask((torch.rand(4, args.frames, generator=torch.Generator().manual_seed(1)) < 0.8).to(device))
    print(f"device={device} params={sum(p.numel() for p in model.parameters()):,} frames={args.frames} "
          f"steps={args.steps} threads={torch.get_num_threads()}")
    warm = Prompt(codes, mask, frame_rate=44100 / 768, codebook_size=1024)
    sample(model, warm, steps=1, generator=torch.Generator(device=device).manual_seed(0), autocast=args.autocast)
    base = None
    for b in (int(x) for x in args.batches.split(",")):
        prompt = Prompt(codes.expand(b, -1, -1), mask, frame_rate=44100 / 768, codebook_size=1024)
        gens = [torch.Generator(device=device).manual_seed(i) for i in range(b)]
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        sample(model, prompt, steps=args.steps, generator=gens, autocast=args.autocast)
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
        base = base or wall
        print(f"B={b:3d}: {wall:.3f} s total, {wall / b:.3f} s per variation, x{wall / base:.2f} vs B=1")


if __name__ == "__main__":
    main()
