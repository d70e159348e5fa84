"""Command-line start-up: wall time of `vampkit --help` (as `python -m vampkit --help`) against
`python -c pass` (the interpreter's own start-up), measured alternately in the same run.

Also times `import vampkit` and a command that needs torch (`vampkit masks`), to show what the
lazy import saves and where the time goes once a command does real work. Example:

    .venv/bin/python benchmarks/cli_startup.py --repeats 10
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

CASES = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "python -c 'import vampkit'": [sys.executable, "-c", "import vampkit"],
    "vampkit --help": [sys.executable, "-m", "vampkit", "--help"],
    "vampkit masks (imports torch)": [sys.executable, "-m", "vampkit", "masks"],
}


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--target", type=float, default=0.5, help="seconds `vampkit --help` should stay under")
    args = parser.parse_args()

    times: dict[str, list[float]] = {name: [] for name in CASES}
    for argv in CASES.values():  # warm the file-system cache once
        wall(argv)
    for _ in range(args.repeats):  # alternate the cases, so load on the machine hits all alike
        for name, argv in CASES.items():
            times[name].append(wall(argv))

    baseline = statistics.median(times["python -c pass (baseline)"])
    print(f"{'case':32s} {'median':>8s} {'min':>8s} {'max':>8s} {'vs baseline':>12s}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:32s} {median:7.3f}s {min(values):7.3f}s {max(values):7.3f}s {median / baseline:11.1f}x")
    helps = statistics.median(times["vampkit --help"])
    verdict = "within" if helps < args.target else "OVER"
    print(f"vampkit --help: {helps:.3f} s, {verdict} the {args.target} s target "
          f"({helps - baseline:.3f} s above the interpreter's start-up)")


if __name__ == "__main__":
    main()
