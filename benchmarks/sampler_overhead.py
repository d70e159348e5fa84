"""Sampler overhead: wall time of sample(steps=N) / wall time of N forward passes, same model and batch.

Default: the published coarse size (20 layers, width 1280, 20 heads, 4 codebooks) at a 10 s
context (575 frames), random weights, float32. Example:

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/sampler_overhead.py --steps 4
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from vampkit import Mask, Prompt, VampNet, sample
from vampkit.device import autocast, resolve_device


def build(args: argparse.Namespace, device: torch.device) -> VampNet:
    model = VampNet(n_heads=args.heads, n_layers=args.layers, n_codebooks=4, embedding_dim=args.dim, vocab_size=1024)
    model.set_codebook_tables(torch.randn(4, 1024, 8))
    return model.to(device).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=20)
    parser.add_argument("--dim", type=int, default=1280)
    parser.add_argument("--heads", type=int, default=20)
    parser.add_argument("--frames", type=int, default=575)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="alternating baseline/sampler pairs")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--autocast", default=None, help="bf16 / fp16 on GPU")
    args = parser.parse_args()

    device = resolve_device(args.device)
    model = build(args, device)
    g = torch.Generator(device=device).manual_seed(0)
    codes = torch.randint(0, 1024, (args.batch, 4, args.frames), generator=torch.Generator().manual_seed(0)).to(device)
    mask = torch.rand(4, args.frames, generator=torch.Generator().manual_seed(1)) < 0.8
    prompt = Prompt(codes, Mask(mask.to(device)), frame_rate=44100 / 768, codebook_size=1024)
    masked = codes.masked_fill(mask.to(device), 1024)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def forwards() -> float:
        t0 = time.perf_counter()
        with torch.no_grad(), autocast(device, args.autocast):
            for _ in range(args.steps):
                model.logits(masked)
        sync()
        return time.perf_counter() - t0

    def sampling() -> float:
        t0 = time.perf_counter()
        sample(model, prompt, steps=args.steps, generator=g, autocast=args.autocast)
        sync()
        return time.perf_counter() - t0

    with torch.no_grad():
        model.logits(masked)  # warm-up (also builds the merged-weight caches)
    # baseline and sampler alternate, so drifts in machine load hit both alike
    pairs = [(forwards(), sampling()) for _ in range(args.repeats)]
    ratios = [s / f for f, s in pairs]
    params = sum(p.numel() for p in model.parameters())
    print(f"device={device} params={params:,} batch={args.batch} frames={args.frames} steps={args.steps} "
          f"threads={torch.get_num_threads()} repeats={args.repeats}")
    print(f"{args.steps} forwards: median {statistics.median(f for f, _ in pairs):.3f} s; "
          f"sample(steps={args.steps}): median {statistics.median(s for _, s in pairs):.3f} s; "
          f"overhead ratio median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")


if __name__ == "__main__":
    main()
