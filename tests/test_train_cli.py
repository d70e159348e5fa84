"""`vampkit train` on the command line: a run, a resume, and one-line errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from _train_helpers import random_tokens, recipe_text, tiny_codec

from vampkit.cli import cli
from vampkit.training.schedule import constant_lr, noam_lr


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    codec, info = tiny_codec(root)
    tokens = random_tokens(root, info, {"a": 40})
    path = root / "tiny.yaml"
    path.write_text(recipe_text(codec, tokens, steps=1, tensorboard=None))
    return path


def test_train_then_resume_from_the_command_line(recipe, tmp_path):
    out = tmp_path / "run"
    first = CliRunner().invoke(cli, ["train", str(recipe), "--out", str(out), "-q"])
    assert first.exit_code == 0, first.output
    assert "step 1" in first.output and (out / "latest" / "vampnet" / "weights.pth").is_file()
    again = CliRunner().invoke(cli, ["train", str(recipe), "--out", str(out), "--resume", "--set", "steps=2", "-q"])
    assert again.exit_code == 0, again.output
    assert "step 2" in again.output


def test_tensorboard_logs_when_installed(recipe, tmp_path):
    pytest.importorskip("tensorboard")
    result = CliRunner().invoke(cli, ["train", str(recipe), "--out", str(tmp_path / "run"), "-q"])
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "run" / "tensorboard").glob("events.*"))


def test_errors_are_one_line_without_traceback(recipe, tmp_path):
    result = CliRunner().invoke(cli, ["train", str(recipe), "--out", str(tmp_path), "--set", "batch_size=oops"])
    assert result.exit_code == 2  # a recipe error is a usage error
    assert result.output.startswith("Error: ") and "batch_size: expected an integer" in result.output
    assert "Traceback" not in result.output
    resume = CliRunner().invoke(cli, ["train", str(recipe), "--out", str(tmp_path / "none"), "--resume"])
    assert resume.exit_code == 1 and "no checkpoint to resume from" in resume.output


def test_torchrun_runs_the_command_unchanged_and_only_rank_0_writes(recipe, tmp_path):
    """The documented launch, `torchrun --nproc_per_node 2 -m vampkit train ...` (gloo on CPU,
    loopback): both ranks train, one prints, one writes the run's files."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
                           "--master_addr", "127.0.0.1", "--master_port", str(port),
                           "-m", "vampkit", "train", str(recipe), "--out", str(out), "-q"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("step 1") == 1, proc.stdout  # rank 0 reports
    assert (out / "latest" / "vampnet" / "weights.pth").is_file() and (out / "run.json").is_file()
    assert '"processes": 2' in (out / "run.json").read_text()


@settings(max_examples=50, deadline=None)
@given(warmup=st.integers(1, 20000), update=st.integers(1, 10**6))
def test_noam_rises_to_its_peak_at_warmup_then_falls(warmup, update):
    peak = noam_lr(warmup, 1280, 2.0, warmup)
    assert noam_lr(update, 1280, 2.0, warmup) <= peak * (1 + 1e-12)
    assert peak == pytest.approx(2.0 * 1280 ** -0.5 * warmup ** -0.5)
    if update < warmup:
        assert noam_lr(update, 1280, 2.0, warmup) < noam_lr(update + 1, 1280, 2.0, warmup)


@given(lr=st.floats(1e-6, 1.0), warmup=st.integers(0, 100), update=st.integers(1, 1000))
def test_constant_schedule_never_exceeds_lr(lr, warmup, update):
    assert 0 < constant_lr(update, lr, warmup) <= lr
