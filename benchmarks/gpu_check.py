"""One script for a lent GPU machine: the CUDA paths of the tests, then the whole-run stage table
on CUDA at fp32 / bf16 / compiled, peak GPU memory, and host synchronisations per sampling step.

    python benchmarks/gpu_check.py            # published sizes (needs ~10 GB of GPU memory)
    python benchmarks/gpu_check.py --small    # a quick pass

Prints everything; exits non-zero if a test fails or the sampler synchronises every step.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

# test_cuda.py compares the GPU with the CPU (skipped where there is no GPU); the others run
# their device-choice, precision and sampler checks on this machine
CUDA_TESTS = ["tests/test_cuda.py", "tests/test_model_modes.py", "tests/test_model_device.py", "tests/test_sampler_sync.py",
              "tests/test_sampler_engine.py", "tests/test_model_vampnet.py", "tests/test_codec_lac.py"]


def run_tests() -> int:
    """The test files with CUDA paths (device choice, precision, sampler, codec), on this machine."""
    print("== tests", flush=True)
    return subprocess.call([sys.executable, "-m", "pytest", "-q", "-x", *CUDA_TESTS])


def count_syncs_per_step(small: bool, steps: int = 8) -> tuple[int, int]:
    """Host synchronisations of one ``sample`` call at ``steps`` and at 2 steps, counted by CUDA's
    sync debug mode (every sync warns); their difference / (steps - 2) is the per-step count."""
    from vampkit import Mask, Prompt, VampNet, sample

    dim, layers = (512, 4) if small else (1280, 20)
    model = VampNet(n_heads=8 if small else 20, n_layers=layers, n_codebooks=4, embedding_dim=dim, vocab_size=1024)
    model.set_codebook_tables(torch.randn(4, 1024, 8))
    model = model.cuda().eval()
    codes = torch.randint(0, 1024, (1, 4, 575), device="cuda")
    mask = Mask(torch.rand(4, 575, device="cuda") < 0.8)
    prompt = Prompt(codes, mask, frame_rate=44100 / 768, codebook_size=1024)
    counts = []
    for n in (steps, 2):
        generator = torch.Generator(device="cuda").manual_seed(0)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("warn")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sample(model, prompt, steps=n, generator=generator)
        torch.cuda.set_sync_debug_mode("default")
        counts.append(sum("synchroniz" in str(w.message).lower() for w in caught))
    return counts[0], counts[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--skip-tests", action="store_true")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("gpu_check: no CUDA device here")
    print(f"{torch.cuda.get_device_name()} torch {torch.__version__} bf16={torch.cuda.is_bf16_supported()}")
    failed = 0 if args.skip_tests else run_tests()

    print("== host synchronisations per sampling step", flush=True)
    many, few = count_syncs_per_step(args.small)
    per_step = (many - few) / 6
    print(f"sample(steps=8): {many} syncs; sample(steps=2): {few}; per step: {per_step:g}")

    print("== whole run on CUDA (stage table, peak GPU memory)", flush=True)
    import whole_run

    root = Path("/tmp/vampkit-whole-run") / ("small" if args.small else "published")
    weights = whole_run.write_weights(root, whole_run.SMALL if args.small else whole_run.PUBLISHED)
    from vampkit.examples import write_groove
    from vampkit.pipeline import run_recipe
    from vampkit.recipes import load_recipe

    audio = write_groove(root / "groove.wav", seconds=10, bpm=120)
    overrides = ["sampling.steps=12", "variations=1", "pipeline.0.load.duration=10"]
    for round_ in range(args.repeats):
        for config, (precision, compiled) in whole_run.CONFIGS.items():
            torch.cuda.reset_peak_memory_stats()
            t0 = time.perf_counter()
            result = run_recipe(load_recipe("loop-variation", overrides), [str(audio)], root / "out",
                                weights=weights, device="cuda", precision=precision, compile=compiled)
            wall = time.perf_counter() - t0
            peak = torch.cuda.max_memory_allocated() / 2**30
            stages = result.manifest["stages"]
            print(f"round {round_ + 1} {config:<14} wall {wall:6.2f} s peak GPU {peak:5.2f} GiB  "
                  + " ".join(f"{k} {v:.2f}" for k, v in stages.items()), flush=True)
            failed += not result.ok
    if per_step > 1:
        print("FAIL: more than one host synchronisation per sampling step")
        failed += 1
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
