"""vampkit eval: time per excerpt-condition, and the share of time spent outside the models.

Runs a shipped grid through ``vampkit.evaluate`` on synthesised grooves with random-weight
checkpoints written in upstream's formats (a tiny LAC codec; token models tiny by default,
``--layers/--dim/--heads`` for bigger ones, e.g. the published coarse size 20 x 1280 x 20).
"Model" time is encode + sampling + decode (the engine's calls); "outside" is everything
else after loading: reading and preparing excerpts, metrics and their embeddings, the cache,
aggregation, tables and plots. Target: outside < 10 % of the model time. Example:

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/eval_overhead.py --grid sampling-steps --excerpts 4
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from vampkit import VampNet
from vampkit.codecs.fixtures import make_lac_checkpoint
from vampkit.eval import engine as models
from vampkit.eval import evaluate, load_experiment
from vampkit.examples import write_groove
from vampkit.recipes.schema import WeightsSpec


def write_models(root: Path, args: argparse.Namespace) -> dict[str, str]:
    codec = make_lac_checkpoint(root / "codec.pth", n_codebooks=14, codebook_size=args.vocab)
    size = {"n_heads": args.heads, "n_layers": args.layers, "latent_dim": 8, "embedding_dim": args.dim,
            "vocab_size": args.vocab}
    VampNet.from_kwargs(dict(size, n_codebooks=4, n_conditioning_codebooks=0)).save(root / "coarse.pth")
    VampNet.from_kwargs(dict(size, n_codebooks=14, n_conditioning_codebooks=4)).save(root / "c2f.pth")
    return {"coarse": str(root / "coarse.pth"), "c2f": str(root / "c2f.pth"), "codec": str(codec)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default="sampling-steps", help="a shipped experiment (or a path)")
    parser.add_argument("--excerpts", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=2.0, help="excerpt length")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="experiment override")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        weights = write_models(root, args)
        data = root / "data"
        data.mkdir()
        for i in range(args.excerpts):
            write_groove(data / f"groove{i}.wav", seconds=args.seconds + 0.5, bpm=96 + 12 * i)
        experiment = load_experiment(args.grid, [f"data.excerpt={args.seconds}", *args.overrides])
        engine = models.load_engine(WeightsSpec(preset=None, **weights), args.device)
        start = time.perf_counter()
        result = evaluate(experiment, data, engine=engine, out=root / "out")
        wall = time.perf_counter() - start
    t = result.summary["timings"]
    n = len(result.rows)
    outside = t["total"] - t["load"] - t["model"]
    print(f"grid {experiment.name}: {n} excerpt-conditions ({result.summary['excerpts']} excerpts of "
          f"{args.seconds:g} s x {len(experiment.conditions)} conditions), models {args.layers} x {args.dim}")
    print(f"wall {wall:.2f} s: {wall / n * 1000:.1f} ms per excerpt-condition")
    print(f"model (encode + sample + decode) {t['model']:.2f} s; metrics and embeddings {t['metrics']:.2f} s; "
          f"outside the models {outside:.2f} s = {outside / t['model']:.1%} of the model time")


if __name__ == "__main__":
    main()
