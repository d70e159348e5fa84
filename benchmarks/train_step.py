"""Training step: wall time, peak memory, and the share of a step spent outside forward/backward.

One full update of ``vampkit.training`` (excerpt draw from memory-mapped tokens, mask mixture,
forward, loss, backward, clipping, AdamW) is timed alternately with the same model's bare
forward + loss + backward + clip + AdamW on an already-made batch (the baseline); the share
outside = (update - baseline) / update, medians over ``--repeats`` pairs; and, measured
on its own, the time to draw a batch (excerpts from the memory-mapped tokens + the mask
mixture) as a share of an update. On CPU the times
are this process's CPU time (``time.process_time``), so other work on a shared machine does not
enter; on CUDA, wall time after a synchronize. Each case runs in
this process; run one case per process for a clean peak-memory figure (``ru_maxrss`` on CPU,
``torch.cuda.max_memory_allocated`` on CUDA). Random weights, a tiny random codec with 1024
codes (the tables only feed the embedding).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/train_step.py --size tiny --batch 1 4
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/train_step.py --size coarse --batch 1 --repeats 2
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

from vampkit.codecs import load_codec
from vampkit.codecs.fixtures import make_lac_checkpoint
from vampkit.device import autocast
from vampkit.training import loads_train_recipe
from vampkit.training.distributed import Dist
from vampkit.training.loop import _Run
from vampkit.training.masking import draw_masks, generator_for
from vampkit.training.metrics import loss_sum, masked_targets
from vampkit.training.tokens import CodecInfo, write_tokens

SIZES = {
    "tiny": {"n_heads": 4, "n_layers": 2, "embedding_dim": 64},
    "coarse": {"n_heads": 20, "n_layers": 20, "embedding_dim": 1280},  # published coarse: 335.9 M parameters
}


def make_run(root: Path, size: str, batch: int, frames: int, device: str, precision: str) -> _Run:
    codec = make_lac_checkpoint(root / "codec.pth", n_codebooks=4, codebook_size=1024)
    info = CodecInfo.of(load_codec(str(codec)))
    g = torch.Generator().manual_seed(0)
    write_tokens(root / "tok", info, {f"f{i}": torch.randint(0, 1024, (4, frames * 4), generator=g) for i in range(3)})
    recipe = loads_train_recipe(yaml.safe_dump({
        "model": {"kwargs": dict(SIZES[size], n_codebooks=4, vocab_size=1024), "codec": str(codec),
                  "context_frames": frames, "dropout": 0.1},
        "data": {"train": str(root / "tok")}, "batch_size": batch, "steps": 10**6, "precision": precision,
        "masks": [{"weight": 0.7, "mask": "random"}, {"weight": 0.3, "mask": {"periodic": {"period": [3, 19]}}}],
        "validation_items": 0, "tensorboard": False, "device": device}))
    return _Run(recipe, root / "run", torch.device(device), Dist(), resume=False, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--frames", type=int, default=575, help="excerpt length (575 = 10 s coarse)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    args = parser.parse_args()
    device = torch.device(args.device)
    # CPU time of this process on CPU (robust to other processes on a shared machine), wall time on GPU
    clock = time.process_time if device.type == "cpu" else time.perf_counter

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for batch in args.batch:
        with tempfile.TemporaryDirectory() as tmp:
            run = make_run(Path(tmp), args.size, batch, args.frames, args.device, args.precision)
            model, recipe = run.model, run.recipe
            n_cond = model.n_conditioning_codebooks
            items = list(range(batch))
            picks = [run.sampler.draw(generator_for(0, 0, i)) for i in items]
            codes = run.sampler.codes(picks)
            masks, _ = draw_masks(recipe.masks, (batch, 4, args.frames), items, n_cond, seed=0, step=0,
                                  r=torch.rand(batch), frame_rate=run.codec.frame_rate,
                                  sample_rate=run.codec.sample_rate)

            def baseline(run: _Run = run, model=model, codes: torch.Tensor = codes,
                         masks: torch.Tensor = masks, n_cond: int = n_cond) -> float:
                t0 = clock()
                z, m = codes.to(device), masks.to(device)
                with autocast(device, "bf16" if args.precision == "bf16" else None):
                    scores = model(z.masked_fill(m, model.mask_token))
                summed = loss_sum(scores, masked_targets(z, m, n_cond), 0.1)
                (summed / m[:, n_cond:].sum()).backward()
                torch.nn.utils.clip_grad_norm_(run.trainable, 5.0)
                run.optimizer.step()
                run.optimizer.zero_grad(set_to_none=True)
                sync()
                return clock() - t0

            def update(step: int, run: _Run = run) -> float:
                t0 = clock()
                run.update(step)
                sync()
                return clock() - t0

            def data(step: int, run: _Run = run) -> float:
                t0 = clock()
                run.batch(step)
                return clock() - t0

            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            update(0)  # warm-up: allocator, AdamW state
            pairs = [(baseline(), update(i + 1)) for i in range(args.repeats)]
            base = statistics.median(b for b, _ in pairs)
            full = statistics.median(u for _, u in pairs)
            shares = [(u - b) / u for b, u in pairs]
            batch_share = statistics.median(data(10**6 + i) for i in range(args.repeats)) / full
            if device.type == "cuda":
                peak = f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MiB (CUDA)"
            else:
                peak = f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (max RSS so far)"
            params = sum(p.numel() for p in model.parameters())
            print(f"size={args.size} params={params:,} batch={batch} frames={args.frames} device={device} "
                  f"precision={args.precision} threads={torch.get_num_threads()} repeats={args.repeats}")
            kind = "CPU" if device.type == "cpu" else "wall"
            print(f"  update {full * 1000:.1f} ms {kind}, forward+backward+AdamW {base * 1000:.1f} ms, outside share "
                  f"median {statistics.median(shares):+.1%} (min {min(shares):+.1%}, max {max(shares):+.1%}); "
                  f"batch drawing (excerpts + masks) alone {batch_share:.2%} of an update; "
                  f"peak {peak}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
