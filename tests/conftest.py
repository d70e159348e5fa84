"""Shared fixtures: tiny checkpoints in upstream's formats, a synthesised groove, and the
command line run as a user runs it (a subprocess of this Python, ``python -m vampkit``).

The helper modules next to this file (``helpers_models``, ``signals``, ``_pipeline_doubles``)
are importable by name because ``tests/`` is on pytest's ``pythonpath`` (pyproject.toml).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers_models import write_tiny_set


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Paths of a tiny coarse, c2f and LAC codec set that fit together (random weights)."""
    return write_tiny_set(tmp_path_factory.mktemp("tiny-weights"))


@pytest.fixture(scope="session")
def tiny_weights_option(tiny_weights: dict[str, str]) -> str:
    """The tiny set as the command line's ``--weights COARSE,C2F,CODEC``."""
    return ",".join(tiny_weights[k] for k in ("coarse", "c2f", "codec"))


@pytest.fixture()
def tiny_engine(tiny_weights_option: str):
    """The real VampNet engine (codec + coarse + c2f) on the tiny set, on the CPU; a fresh one
    per test, so that no test sees the models another test may have changed (precision, LoRA)."""
    from vampkit.pipeline.engine import VampNetEngine
    from vampkit.weights import resolve_weights

    return VampNetEngine(resolve_weights(tiny_weights_option), "cpu")


@pytest.fixture(scope="session")
def groove(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1.5 s of the synthesised example drum groove at 120 BPM (a WAV file)."""
    from vampkit.examples import write_groove

    return write_groove(tmp_path_factory.mktemp("groove") / "groove.wav", seconds=1.5, bpm=120)


CliRunner = Callable[..., subprocess.CompletedProcess]


@pytest.fixture(scope="session")
def run_vampkit() -> CliRunner:
    """Run ``python -m vampkit ARGS`` with this interpreter (any venv, no hard-coded path):
    ``run_vampkit("validate", "x.yaml", cwd=folder, env={...})``; one thread, text output."""

    def run(*args: object, cwd: str | os.PathLike, env: dict[str, str] | None = None,
            timeout: float = 240) -> subprocess.CompletedProcess:
        full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
        return subprocess.run([sys.executable, "-m", "vampkit", *map(str, args)], cwd=cwd, capture_output=True,
                              text=True, env=full_env, timeout=timeout)

    return run
