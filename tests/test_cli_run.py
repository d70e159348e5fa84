"""The command line through the real entry point (``python -m vampkit`` in a subprocess): run,
validate, preview, example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_weights_option, run_vampkit):
    root = tmp_path_factory.mktemp("cli")
    (root / "in").mkdir()
    assert run_vampkit("example", "in/groove.wav", "--seconds", "1.2", cwd=root).returncode == 0
    (root / "in" / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    return root, tiny_weights_option


def test_validate_reports_file_line_column_and_key(setup, run_vampkit):
    root, _ = setup
    (root / "bad.yaml").write_text("name: bad\nmask: periodic\nsampling:\n  temperature: hot\n")
    proc = run_vampkit("validate", "bad.yaml", cwd=root)
    assert proc.returncode == 2  # a recipe error: click's usage-error code
    assert "bad.yaml:4:16: sampling.temperature: expected a number, got 'hot'" in proc.stderr


def test_validate_accepts_shipped_recipes_by_name(setup, run_vampkit):
    root, _ = setup
    proc = run_vampkit("validate", "loop-variation", "compress", cwd=root)
    assert proc.returncode == 0 and proc.stdout.count(": ok") == 2


def test_bad_override_names_the_option_and_suggests(setup, run_vampkit):
    root, _ = setup
    proc = run_vampkit("run", "compress", "-i", "in/groove.wav", "--set", "sampling.temprature=0.8", "--dry-run", cwd=root)
    assert proc.returncode == 2
    assert "--set sampling.temprature=0.8: sampling.temprature: unknown key 'temprature'" in proc.stderr
    assert "did you mean 'temperature'" in proc.stderr


def test_batch_with_a_corrupt_file_runs_the_good_one_and_exits_1(setup, run_vampkit):
    root, weights = setup
    proc = run_vampkit("run", "compress", "-i", "in", "--out", "out", "--weights", weights, "--seed", "7",
                   "--set", "sampling.steps=2", "--set", "c2f.steps=1", "--device", "cpu", "-q", cwd=root)
    assert proc.returncode == 1
    assert "1 of 2 input(s) failed" in proc.stderr and "corrupt.wav" in proc.stderr
    assert (root / "out" / "groove.compress.7.0.wav").exists()
    [manifest_file] = (root / "out").glob("compress.7.*.manifest.json")
    manifest = json.loads(manifest_file.read_text())
    assert manifest["seed"] == 7 and manifest["recipe"]["sampling"]["steps"] == 2
    assert "--set sampling.steps=2" in manifest["recipe"]["overrides"]
    by_name = {Path(r["input"]).name: r for r in manifest["inputs"]}
    assert by_name["corrupt.wav"]["status"] == "failed" and by_name["groove.wav"]["status"] == "ok"
    assert by_name["groove.wav"]["bitrate"] > 0
    assert not list((root / "out").glob("*.part"))


def test_offline_uncached_weights_stop_before_any_audio_work(setup, tmp_path, run_vampkit):
    root, _ = setup
    proc = run_vampkit("run", "loop-variation", "-i", "in/groove.wav", "--out", tmp_path / "o", cwd=root,
                   env={"VAMPKIT_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 1 and proc.stderr.startswith("Error: ")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_dry_run_prints_kept_fraction_and_bitrate_without_weights(setup, tmp_path, run_vampkit):
    root, _ = setup
    proc = run_vampkit("run", "compress", "-i", "in/groove.wav", "--dry-run", "--out", tmp_path / "o", cwd=root,
                   env={"VAMPKIT_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "kept" in proc.stdout and "bit/s" in proc.stdout and not (tmp_path / "o").exists()


def test_preview_writes_a_png(setup, tmp_path, run_vampkit):
    root, _ = setup
    proc = run_vampkit("preview", "compress", "-i", "in/groove.wav", "-o", tmp_path / "previews", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "previews" / "groove.compress.0.mask.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_help_shows_examples(setup, run_vampkit):
    root, _ = setup
    proc = run_vampkit("run", "--help", cwd=root)
    assert proc.returncode == 0 and "Examples:" in proc.stdout and "--dry-run" in proc.stdout
