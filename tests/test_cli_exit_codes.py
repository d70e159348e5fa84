"""`vampkit run` through the real entry point with tiny models: documented exit codes (0, 1,
2, 130) without tracebacks, concurrent runs into one folder, the same bytes in two processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from helpers_models import write_tiny_set

VAMPKIT = [sys.executable, "-m", "vampkit"]  # the command line as a user runs it, in this venv
FAST = ("--set", "sampling.steps=2", "--set", "c2f.steps=1", "--device", "cpu")


def env_vars() -> dict[str, str]:
    import torch

    # this process's thread count: outputs are compared with runs made here, and sums depend on it
    return {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}


def vampkit(*args, cwd):
    return subprocess.run([*VAMPKIT, *map(str, args)], cwd=cwd, capture_output=True, text=True, env=env_vars(),
                          timeout=240)


def start(*args, cwd):
    return subprocess.Popen([*VAMPKIT, *map(str, args)], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env_vars())


def tone(path: Path, freq: float, seconds: float = 0.6, rate: int = 44100) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype("float32"), rate)
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("exit")
    files = write_tiny_set(root)
    (root / "in").mkdir()
    for i in range(6):
        tone(root / "in" / f"s{i}.wav", 180.0 + 40 * i)
    return root, f"{files['coarse']},{files['c2f']},{files['codec']}"


def test_a_recipe_error_exits_2_with_one_line(setup):
    root, _ = setup
    proc = vampkit("run", "compress", "-i", "in/s0.wav", "--set", "sampling.temprature=0.8", "--dry-run", cwd=root)
    assert proc.returncode == 2 and proc.stderr.startswith("Error: ") and "Traceback" not in proc.stderr


def test_a_usage_error_exits_2(setup):
    root, _ = setup
    proc = vampkit("run", "compress", "--no-such-option", cwd=root)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = vampkit("run", "compress", "-i", "in/s0.wav", "--overwrite", "--skip-existing", "--dry-run", cwd=root)
    assert proc.returncode == 2 and "contradict" in proc.stderr


def test_an_escaping_template_exits_2_and_writes_nothing(setup):
    root, weights = setup
    proc = vampkit("run", "compress", "-i", "in/s0.wav", "-o", "esc/out", "--weights", weights,
                   "--set", "output.template=../../{stem}.wav", *FAST, cwd=root)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--set output.template=../../{stem}.wav: output.template: output name '../../s0.wav' refused" in proc.stderr
    assert not (root / "esc").exists() and not (root / "s0.wav").exists()


def test_concurrent_runs_into_one_folder_keep_all_outputs_and_both_manifests_with_the_same_bytes(setup):
    root, weights = setup
    procs = [start("run", "compress", "-i", f"in/s{i}.wav", "-o", "shared", "--weights", weights, "--seed", "5",
                   "-n", "2", "-q", *FAST, cwd=root) for i in (0, 1)]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    shared = root / "shared"
    assert sorted(p.name for p in shared.glob("*.wav")) == [
        "s0.compress.5.0.wav", "s0.compress.5.1.wav", "s1.compress.5.0.wav", "s1.compress.5.1.wav"]
    manifests = [json.loads(p.read_text()) for p in shared.glob("compress.5.*.manifest.json")]
    assert len(manifests) == 2 and len({m["run_id"] for m in manifests}) == 2
    assert sorted(Path(m["inputs"][0]["input"]).name for m in manifests) == ["s0.wav", "s1.wav"]
    assert not list(shared.glob(".*.part*"))

    # the same recipe, seed and weights in this process: the same bytes (twice, too)
    from vampkit.pipeline import run_recipe

    for out in ("here1", "here2"):
        run_recipe("compress", [str(root / "in" / "s0.wav")], root / out, seed=5, variations=2, device="cpu",
                   weights=dict(zip(("coarse", "c2f", "codec"), (str(root / p) for p in weights.split(",")))),
                   overrides=["sampling.steps=2", "c2f.steps=1"])
    for name in ("s0.compress.5.0.wav", "s0.compress.5.1.wav"):
        assert (root / "here1" / name).read_bytes() == (shared / name).read_bytes()
        assert (root / "here2" / name).read_bytes() == (shared / name).read_bytes()


def test_a_failed_manifest_still_prints_the_summary_and_exits_1(setup, monkeypatch, capsys):
    from vampkit import cli
    from vampkit.pipeline import manifest

    def unwritable(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    root, weights = setup
    (root / "bad.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    monkeypatch.setattr(manifest, "atomic_path", unwritable)
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "compress", "-i", str(root / "in" / "s2.wav"), "-i", str(root / "bad.wav"),
                  "-o", str(root / "mf"), "--weights", weights, "-q", *FAST])
    err = capsys.readouterr().err
    assert info.value.code == 1 and "Traceback" not in err
    assert "1 of 2 input(s) failed" in err and "Error: cannot write the manifest" in err
    assert "Permission denied" in err and (root / "mf" / "s2.compress.0.0.wav").exists()


def wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_ctrl_c_during_a_run_exits_130_without_traceback_or_partial_files(setup):
    root, weights = setup
    out = root / "interrupted"
    # many steps: the five inputs left after the first one's files appear outlast the signal
    proc = start("run", "compress", "-i", "in", "-o", out, "--weights", weights, "-n", "4", "-q",
                 "--set", "sampling.steps=1000", "--set", "c2f.steps=100", "--device", "cpu", cwd=root)
    try:
        assert wait_for(lambda: any(out.glob("*.wav")) or proc.poll() is not None, 200)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Interrupted" in err
    assert not [p for p in out.iterdir() if ".part" in p.name]
    for path in out.glob("*.wav"):
        assert soundfile.info(path).frames > 0


def package_import_is_heavy() -> bool:
    """Whether ``import vampkit`` imports torch: Ctrl-C then lands in the import, before
    ``vampkit.cli.main`` can catch it (the lazy package import avoids that)."""
    code = "import sys, vampkit; print('torch' in sys.modules)"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env_vars(),
                          timeout=120).stdout.strip() != "False"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_while_starting_exits_130_without_traceback(setup):
    if package_import_is_heavy():
        pytest.skip("needs vampkit's lazy package import")
    root, _ = setup
    for delay in (0.8, 2.0):
        proc = start("run", "compress", "-i", "in/s0.wav", "--dry-run", cwd=root)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode in (130, 0), err  # 0: it finished before the signal came
        assert "Traceback" not in err
