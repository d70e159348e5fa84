"""`vampkit app` through the real entry point: serves its page on loopback, stops on SIGTERM
and leaves no temporary folder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from helpers_models import write_tiny_set

VAMPKIT = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "vampkit")
pytest.importorskip("gradio", reason="the app extra is not installed (scripts/setup.sh installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_app_command_serves_its_page_on_loopback(tmp_path):
    files = write_tiny_set(tmp_path)
    port = _free_port()
    started = time.time() - 1
    weights = f"{files['coarse']},{files['c2f']},{files['codec']}"
    proc = subprocess.Popen([VAMPKIT, "app", "--weights", weights, "--device", "cpu", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=2) as response:
                    config = response.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, "the app did not start"
                time.sleep(0.5)
        assert '"title":"vampkit"' in config.replace(' ', '') and "layer0-generator" in config
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode is not None
    assert "Warning" not in proc.stderr.read()  # loopback: no public-binding warning
    assert not [d for d in Path(tempfile.gettempdir()).glob("vampkit-app-*") if d.stat().st_mtime >= started]


def test_a_missing_weights_file_is_a_one_line_error(tmp_path):
    proc = subprocess.run([VAMPKIT, "app", "--weights", f"{tmp_path}/a.pth,{tmp_path}/b.pth,{tmp_path}/c.pth",
                           "--device", "cpu", "--port", str(_free_port())],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0
    assert proc.stderr.startswith("Error: ") and "Traceback" not in proc.stderr
