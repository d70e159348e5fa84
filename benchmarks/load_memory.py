"""Loading the model bundle (coarse, c2f, codec): wall time and peak RSS after loading, each in
a fresh process, the way vampkit loaded before (random init, a full in-memory read, parameters
copied over) and now (modules built on the meta device, memory-mapped weights-only read,
tensors adopted with ``assign=True``). Alternates before/after ``--repeats`` times.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/load_memory.py --workdir /tmp/vampkit-whole-run/published

The checkpoints are those ``whole_run.py`` writes (published sizes, upstream's format).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys, time, warnings
warnings.filterwarnings("ignore")
t0 = time.perf_counter()
import torch
from vampkit.checkpoint import read_checkpoint
from vampkit.codecs import load_codec
from vampkit.models import VampNet
mode, root = sys.argv[1], sys.argv[2]
t_import = time.perf_counter()
codec = load_codec(f"{root}/codec.pth")
tables = codec.codebook_tables()
models = []
for name in ("coarse", "c2f"):
    path = f"{root}/{name}.pth"
    if mode == "before":
        ck = read_checkpoint(path, mmap=False)
        model = VampNet.from_kwargs(ck.kwargs, tables)  # random init, then a copy over it
        model.load_upstream_state_dict(ck.state_dict)
        models.append(model.eval())
        del ck
    else:
        models.append(VampNet.load(path, tables))
t_end = time.perf_counter()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
status = dict(line.split(":", 1) for line in open("/proc/self/status") if line.startswith("Rss"))
kb = {k: int(v.split()[0]) / 1024 for k, v in status.items()}
print(json.dumps({"mode": mode, "load_s": t_end - t_import, "peak_rss_mb": rss,
                  "anon_mb": kb.get("RssAnon", 0.0), "file_mb": kb.get("RssFile", 0.0)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="/tmp/vampkit-whole-run/published")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, list[dict]] = {"before": [], "after": []}
    for _ in range(args.repeats):
        for mode in ("before", "after"):
            out = subprocess.run([sys.executable, "-c", CHILD, mode, args.workdir], capture_output=True, text=True,
                                 check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            results[mode].append(row)
            print(row, flush=True)
    sizes = sum(p.stat().st_size for p in Path(args.workdir).glob("*.pth")) / 2**20
    print(f"\ncheckpoints: {sizes:.0f} MB; medians of {args.repeats} fresh processes each")
    print("| loading | time | peak RSS after loading | of which anonymous / file-backed (page cache) |")
    print("| --- | --- | --- | --- |")
    for mode, rows in results.items():
        print(f"| {mode} | {statistics.median(r['load_s'] for r in rows):.2f} s | "
              f"{statistics.median(r['peak_rss_mb'] for r in rows):.0f} MB | "
              f"{statistics.median(r['anon_mb'] for r in rows):.0f} / {statistics.median(r['file_mb'] for r in rows):.0f} MB |")


if __name__ == "__main__":
    main()
