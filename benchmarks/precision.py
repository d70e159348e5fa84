"""Fidelity and speed of reduced precision: VampNet logits at bf16 (or fp16 on a GPU) against fp32.

For each model size: the logits' largest absolute difference, the mean KL divergence of the
token distributions (fp32 || low), the argmax agreement, and the forward-time ratio measured
alternately (fp32, low, fp32, low, ...) in one process. Random weights; published size by default.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/precision.py
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/precision.py --sizes tiny --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from vampkit.device import resolve_device
from vampkit.models import VampNet

SIZES = {
    "tiny": {"n_heads": 4, "n_layers": 2, "embedding_dim": 64, "vocab_size": 128, "frames": 40},
    "published-coarse": {"n_heads": 20, "n_layers": 20, "embedding_dim": 1280, "vocab_size": 1024, "frames": 575},
}


def measure(size: str, precision: str, repeats: int, device: torch.device) -> dict:
    cfg = dict(SIZES[size])
    frames = cfg.pop("frames")
    kwargs = dict(cfg, n_codebooks=4, n_conditioning_codebooks=0, latent_dim=8)
    tables = torch.randn(4, kwargs["vocab_size"], 8, generator=torch.Generator().manual_seed(0))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "coarse.pth"
        torch.manual_seed(0)
        sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
        from helpers_models import perturbed_state

        model = VampNet.from_kwargs(kwargs)
        model.load_upstream_state_dict(perturbed_state(model))  # LoRA factors and norms off their init
        model.save(path)
        del model
        ref = VampNet.load(path, tables, device)
        low = VampNet.load(path, tables, device, precision=precision)
    codes = torch.randint(0, kwargs["vocab_size"], (1, 4, frames), generator=torch.Generator().manual_seed(1))
    codes = codes.masked_fill(torch.rand(codes.shape, generator=torch.Generator().manual_seed(2)) < 0.7,
                              kwargs["vocab_size"]).to(device)

    def timed(model: VampNet) -> tuple[float, torch.Tensor]:
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = model.logits(codes)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0, out

    with torch.inference_mode():
        timed(ref), timed(low)  # warm-up
        pairs = []
        for _ in range(repeats):
            (ta, a), (tb, b) = timed(ref), timed(low)
            pairs.append((ta, tb))
    p = a.log_softmax(-1)
    q = b.log_softmax(-1)
    kl = (p.exp() * (p - q)).sum(-1)
    return {
        "size": size, "precision": precision, "params": sum(t.numel() for t in ref.parameters()),
        "max_abs_diff": float((a - b).abs().max()), "logit_range": float(a.abs().max()),
        "kl_mean": float(kl.mean()), "kl_max": float(kl.max()),
        "argmax_agreement": float((a.argmax(-1) == b.argmax(-1)).float().mean()),
        "fp32_s": statistics.median(t for t, _ in pairs), "low_s": statistics.median(t for _, t in pairs),
        "speedup": statistics.median(ta / tb for ta, tb in pairs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--precision", default="bf16", choices=["bf16", "fp16"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(f"device={device} torch {torch.__version__} threads={torch.get_num_threads()} repeats={args.repeats}")
    print("| model | params | precision | max abs diff (logit range) | KL mean / max | argmax agreement "
          "| fp32 forward | low forward | speed-up |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for size in args.sizes:
        r = measure(size, args.precision, args.repeats, device)
        print(f"| {r['size']} | {r['params'] / 1e6:.1f} M | {r['precision']} | {r['max_abs_diff']:.3g} "
              f"({r['logit_range']:.3g}) | {r['kl_mean']:.2e} / {r['kl_max']:.2e} | {r['argmax_agreement']:.2%} "
              f"| {r['fp32_s']:.3f} s | {r['low_s']:.3f} s | x{r['speedup']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
