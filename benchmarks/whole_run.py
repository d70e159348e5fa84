"""A whole ``vampkit run`` timed per stage: the loop-variation recipe on 10 s of synthesised audio
with published-size random weights, at fp32 eager, bf16, compiled and bf16 + compiled.

The configurations alternate (A B C D A B C D ...) in one process so drifts in machine load
hit all alike; medians per stage are printed with the ratio to fp32 eager. Checkpoints are
written once (in upstream's format, by vampkit's own writers) into ``--workdir``.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/whole_run.py            # published sizes
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/whole_run.py --small    # a quick run
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
import warnings
from pathlib import Path

import torch

#: published sizes (upstream's configs): coarse 20 x 1280 on 4 codebooks, c2f 16 x 1280 on 14 (4 given)
PUBLISHED = {
    "coarse": {"n_heads": 20, "n_layers": 20, "n_codebooks": 4, "n_conditioning_codebooks": 0, "embedding_dim": 1280},
    "c2f": {"n_heads": 20, "n_layers": 16, "n_codebooks": 14, "n_conditioning_codebooks": 4, "embedding_dim": 1280},
    "codec": {"encoder_dim": 64, "encoder_rates": [2, 6, 8, 8], "decoder_dim": 1536, "decoder_rates": [6, 4, 4, 2, 2, 2],
                  "n_codebooks": 14, "codebook_size": 1024, "codebook_dim": 8, "sample_rate": 44100},
}
SMALL = {
    "coarse": dict(PUBLISHED["coarse"], n_heads=8, n_layers=4, embedding_dim=512),
    "c2f": dict(PUBLISHED["c2f"], n_heads=8, n_layers=4, embedding_dim=512),
    "codec": dict(PUBLISHED["codec"], encoder_dim=16, decoder_dim=256),
}
CONFIGS = {"fp32": ("fp32", False), "bf16": ("bf16", False), "compiled": ("fp32", True),
           "bf16+compiled": ("bf16", True)}


def write_weights(root: Path, sizes: dict) -> dict[str, str]:
    """Random checkpoints at ``sizes`` in upstream's formats (written once, reused)."""
    from vampkit.codecs.fixtures import make_lac_checkpoint
    from vampkit.models import VampNet

    root.mkdir(parents=True, exist_ok=True)
    paths = {name: root / f"{name}.pth" for name in ("coarse", "c2f", "codec")}
    if not paths["codec"].exists():
        make_lac_checkpoint(paths["codec"], **sizes["codec"])
    for name in ("coarse", "c2f"):
        if not paths[name].exists():
            torch.manual_seed(0)
            VampNet.from_kwargs(dict(sizes[name], vocab_size=1024, latent_dim=8)).save(paths[name])
    return {k: str(v) for k, v in paths.items()}


def run_once(config: str, weights: dict[str, str], audio: Path, out: Path, overrides: list[str]) -> dict[str, float]:
    from torch._dynamo.utils import counters

    from vampkit.pipeline import run_recipe
    from vampkit.recipes import load_recipe

    precision, compiled = CONFIGS[config]
    graphs = counters["stats"]["unique_graphs"]
    result = run_recipe(load_recipe("loop-variation", overrides), [str(audio)], out, weights=weights,
                        device="cpu", precision=precision, compile=compiled)
    assert result.ok, result.failures
    stages = dict(result.manifest["stages"])
    stages["graphs compiled"] = counters["stats"]["unique_graphs"] - graphs
    gc.collect()
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="reduced widths: a run of seconds, not minutes")
    parser.add_argument("--repeats", type=int, default=2, help="alternating rounds over the configurations")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--steps", type=int, default=12, help="coarse steps (the recipe has 36; upstream main 12)")
    parser.add_argument("--variations", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workdir", default="/tmp/vampkit-whole-run")
    parser.add_argument("--json", help="write the per-run stage times here")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)

    from vampkit.examples import write_groove

    root = Path(args.workdir) / ("small" if args.small else "published")
    t0 = time.perf_counter()
    weights = write_weights(root, SMALL if args.small else PUBLISHED)
    print(f"weights ready in {time.perf_counter() - t0:.1f} s: {root}")
    audio = write_groove(root / "groove.wav", seconds=args.seconds, bpm=120)
    overrides = [f"sampling.steps={args.steps}", f"variations={args.variations}", f"pipeline.0.load.duration={args.seconds}"]
    runs: dict[str, list[dict[str, float]]] = {c: [] for c in args.configs}
    for round_ in range(args.repeats):
        for config in args.configs:
            stages = run_once(config, weights, audio, root / "out", overrides)
            runs[config].append(stages)
            print(f"round {round_ + 1} {config:<14} total {stages['total']:7.2f} s  "
                  + " ".join(f"{k} {v:.2f}" for k, v in stages.items() if k != "total"), flush=True)

    rows = [k for k in runs[args.configs[0]][0] if k != "graphs compiled"]
    print(f"\ntorch {torch.__version__}, {torch.get_num_threads()} threads, {args.seconds:g} s audio, "
          f"coarse {args.steps} steps, {args.variations} variation(s), {'small' if args.small else 'published'} "
          f"sizes; medians of {args.repeats} alternating rounds (first compiled round includes compiling)")
    print(f"{'stage':<8}" + "".join(f"{c:>16}" for c in args.configs))
    base = args.configs[0]
    for row in rows:
        med = {c: statistics.median(r[row] for r in runs[c]) for c in args.configs}
        cells = "".join(f"{med[c]:9.2f} {'x%.2f' % (med[base] / med[c]) if med[c] > 0 else '':>6}"
                        for c in args.configs)
        print(f"{row:<8}{cells}")
    later = {c: [r['graphs compiled'] for r in runs[c]] for c in args.configs}
    print("graphs compiled per round:", later)
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
