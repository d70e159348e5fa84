"""Per-stage wall times of a run (load, analyse, encode, mask, coarse, c2f, decode, write).

Code deep inside a run (the sampler, the analyses) marks its time with ``timed(label)``; the
runner collects it into the manifest's ``timings`` with ``recording(timings)``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar, Token

import torch

_active: ContextVar[dict[str, float] | None] = ContextVar("vampkit_timings", default=None)

#: the stage table's rows, in the order a run goes through them
STAGES = ("load", "read", "analyse", "encode", "mask", "coarse", "c2f", "decode", "write")


@contextlib.contextmanager
def recording(timings: dict[str, float]) -> Iterator[dict[str, float]]:
    """Collect every ``timed`` label inside the block into ``timings`` (seconds, summed)."""
    token = _active.set(timings)
    try:
        yield timings
    finally:
        _active.reset(token)


def start_recording(timings: dict[str, float]) -> Token:
    """``recording`` for code that cannot use a ``with`` block; end it with ``stop_recording``."""
    return _active.set(timings)


def stop_recording(token: Token) -> None:
    _active.reset(token)


def _sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()  # GPU work is asynchronous: charge it to the stage that queued it


@contextlib.contextmanager
def timed(label: str) -> Iterator[None]:
    """Add the block's wall time to ``label`` of the active recording (nothing if none)."""
    timings = _active.get()
    if timings is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        _sync()
        timings[label] = timings.get(label, 0.0) + time.perf_counter() - start


def stage_table(timings: Mapping[str, float]) -> dict[str, float]:
    """The run's ``timings`` (as the runner records them) as the rows of ``STAGES`` + ``total``.

    ``load`` is resolving and loading the models, ``read`` reading the input audio; analyses
    run lazily inside the mask stage, so ``mask`` excludes them; the rest of the pipeline
    (loops, sweeps) is ``other``.
    """
    t = dict(timings)
    rows = {
        "load": t.get("resolve weights", 0.0) + t.get("load models", 0.0),
        "read": t.get("stage load", 0.0),
        "analyse": t.get("analyse", 0.0),
        "encode": t.get("stage encode", 0.0),
        "mask": max(0.0, t.get("stage mask", 0.0) - t.get("analyse", 0.0)),
        "coarse": t.get("coarse", 0.0),
        "c2f": t.get("c2f", 0.0),
        "decode": t.get("stage decode", 0.0),
        "write": t.get("stage write", 0.0),
    }
    if "total" in t:
        rows["other"] = max(0.0, t["total"] - sum(rows.values()))
        rows["total"] = t["total"]
    return rows


def format_stage_table(rows: Mapping[str, float]) -> str:
    """A two-column text table: stage, seconds, share of the total."""
    total = rows.get("total") or sum(v for k, v in rows.items() if k != "total") or 1.0
    lines = [f"{'stage':<8} {'seconds':>8} {'share':>6}"]
    for name, seconds in rows.items():
        lines.append(f"{name:<8} {seconds:8.2f} {seconds / total:6.1%}")
    return "\n".join(lines)
