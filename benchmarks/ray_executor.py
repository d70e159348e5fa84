"""Ray executor throughput: inputs per minute for the local executor and Ray with 1 and 2
workers (whole inputs on the workers, and at 1 worker also with reading and writing apart),
tiny models (tests/helpers_models.py), synthesised inputs; the overhead of Ray over
local at one worker is reported as a ratio measured in the same run.

    OMP_NUM_THREADS=1 PYTHONPATH=src:tests .venv/bin/python benchmarks/ray_executor.py --inputs 8 --seconds 30
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers_models import write_tiny_set

from vampkit.pipeline import run_recipe
from vampkit.pipeline.executors import RayExecutor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each input")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--address", default=None, help="a Ray cluster (default: a local Ray on this machine)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import ray
    import torch

    torch.set_num_threads(1)  # as each Ray worker (one CPU each)
    root = Path(tempfile.mkdtemp(prefix="vampkit-ray-bench-"))
    weights = write_tiny_set(root)
    rate = 44100
    t = np.arange(int(rate * args.seconds)) / rate
    (root / "in").mkdir()
    for i in range(args.inputs):
        soundfile.write(root / "in" / f"s{i}.wav", (0.3 * np.sin(2 * np.pi * (150 + 20 * i) * t)).astype("float32"), rate)
    common = dict(seed=0, device=args.device, weights=weights,
                  overrides=[f"sampling.steps={args.steps}", "c2f.steps=1"])
    source = str(Path(__file__).resolve().parents[1] / "src")
    t0 = time.perf_counter()
    ray.init(address=args.address, num_cpus=None if args.address else 2, include_dashboard=False,
             log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": source, "OMP_NUM_THREADS": "1"}})
    print(f"ray.init: {time.perf_counter() - t0:.1f} s; inputs={args.inputs} x {args.seconds:.0f} s, "
          f"steps={args.steps}, device={args.device}, cpus={os.cpu_count()}")
    rows = [("local", "local"), ("ray x1", RayExecutor(workers=1)),
            ("ray x1 split", RayExecutor(workers=1, split_io=True)), ("ray x2", RayExecutor(workers=2))]
    walls = {}
    for label, executor in rows:
        t0 = time.perf_counter()
        result = run_recipe("compress", [str(root / "in")], root / label.replace(" ", "-"), executor=executor, **common)
        walls[label] = time.perf_counter() - t0
        assert result.ok, result.failures
        print(f"{label:12s} {walls[label]:7.1f} s  {60 * args.inputs / walls[label]:6.1f} inputs/min")
    print(f"ray x1 / local: {walls['ray x1'] / walls['local']:.2f}   ray x1 split / local: "
          f"{walls['ray x1 split'] / walls['local']:.2f}   ray x2 speed-up over ray x1: "
          f"{walls['ray x1'] / walls['ray x2']:.2f}")
    ray.shutdown()


if __name__ == "__main__":
    main()
