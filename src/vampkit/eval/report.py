"""What an evaluation writes: per-excerpt CSV, per-condition CSV, JSON summary, a markdown
table, and plots (metric vs bitrate per prompt family, metric vs sampling steps)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..atomic import atomic_path, write_text
from ..plaindata import jsonable


def write_csv(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in columns})
    return write_text(path, buffer.getvalue())


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def write_json(path: Path, data: Any) -> Path:
    """Strict JSON (a NaN aggregate, e.g. of a metric that failed everywhere, is null)."""
    return write_text(path, json.dumps(jsonable(data), indent=2, sort_keys=False, allow_nan=False) + "\n")


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def markdown_table(conditions: Sequence[dict[str, Any]], pair_labels: Sequence[str], set_labels: Sequence[str]) -> str:
    """A short table for a README: one row per condition, mean [95% CI] of each pair metric."""
    head = ["condition", "bitrate (bit/s)", "kept", "n"] + [f"{m} (95% CI)" for m in pair_labels] + list(set_labels)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in conditions:
        cells = [c["condition"], _fmt(c.get("bitrate"), 0), _fmt(c.get("kept_fraction"), 3), str(c.get("n", 0))]
        for m in pair_labels:
            mean, low, high = c.get(m), c.get(f"{m}_ci_low"), c.get(f"{m}_ci_high")
            cells.append(f"{_fmt(mean)} [{_fmt(low)}, {_fmt(high)}]" if mean is not None and math.isfinite(mean) else "–")
        cells += [_fmt(c.get(m)) for m in set_labels]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def plot_results(place: Callable[[str], Path], conditions: Sequence[dict[str, Any]],
                 labels: Sequence[str]) -> list[Path]:
    """``<metric>-vs-bitrate`` (one line per prompt family, log bitrate axis) and, where a family
    sweeps the sampling steps, ``<metric>-vs-steps``; each as PNG and SVG. ``place`` turns a
    file name into its checked path in the results folder (the output-path policy)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .cache import safe_name

    written: list[Path] = []
    for metric in labels:
        for axis, key in (("bitrate", "bitrate"), ("steps", "steps")):
            families: dict[str, list[tuple[float, float, dict]]] = {}
            for c in conditions:
                if _finite(c.get(key)) and _finite(c.get(metric)) and (key != "bitrate" or c[key] > 0):
                    families.setdefault(c["family"], []).append((float(c[key]), float(c[metric]), c))
            if axis == "steps":
                families = {f: p for f, p in families.items() if len({x for x, _, _ in p}) > 1}
            if not families:
                continue
            fig, ax = plt.subplots(figsize=(6.4, 4.2))
            for family, points in sorted(families.items()):
                points.sort(key=lambda p: p[0])
                xs, ys = [p[0] for p in points], [p[1] for p in points]
                low = [p[2].get(f"{metric}_ci_low") for p in points]
                high = [p[2].get(f"{metric}_ci_high") for p in points]
                line = ax.plot(xs, ys, marker="o", label=family)[0]
                if all(_finite(v) for v in low + high):
                    ax.fill_between(xs, low, high, alpha=0.2, color=line.get_color())
            if axis == "bitrate":
                ax.set_xscale("log")
                ax.set_xlabel("prompt bitrate (bit/s, kept tokens × log2(vocab) / duration)")
            else:
                ax.set_xlabel("coarse sampling steps")
            ax.set_ylabel(metric)
            ax.set_title(f"{metric} vs {axis}")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize="small")
            fig.tight_layout()
            for ext in ("png", "svg"):
                path = place(f"{safe_name(metric)}-vs-{axis}.{ext}")
                with atomic_path(path) as temp:
                    fig.savefig(temp, format=ext, dpi=120)
                written.append(path)
            plt.close(fig)
    return written
