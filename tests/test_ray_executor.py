"""The ray executor on a local Ray instance (2 CPUs, loopback): the same bytes as the local
executor, a bad file fails alone, a dead worker's input is retried (bounded), a re-run skips
everything, and no Ray process is left behind."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from _pipeline_doubles import TINY, FillEngine
from helpers_models import write_tiny_set
from vampkit.pipeline import run_recipe
from vampkit.pipeline.executors import RayExecutor

ray = pytest.importorskip("ray")

TESTS = Path(__file__).resolve().parent


def tone(path: Path, freq: float, seconds: float, rate: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(rate * seconds)) / rate
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype("float32"), rate)
    return path


def ray_processes(session_dir: str) -> list[int]:
    """Processes whose command line names this Ray session (raylet, GCS, workers)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if session_dir in cmdline and int(pid) != os.getpid():
            found.append(int(pid))
    return found


@pytest.fixture(scope="module")
def local_ray():
    import vampkit

    source = str(Path(vampkit.__file__).resolve().parents[1])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             _node_ip_address="127.0.0.1",
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(TESTS), source]), "OMP_NUM_THREADS": "1"}})
    # Ray has no public call for its session folder, which every process it starts names
    session_dir = ray._private.worker._global_node.get_session_dir_path()  # noqa: SLF001
    yield
    ray.shutdown()
    import time

    deadline = time.monotonic() + 30
    while ray_processes(session_dir) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ray_processes(session_dir) == [], "Ray processes left behind"


class DyingEngine(FillEngine):
    """Kills its worker process the first time any worker encodes (a marker file says so)."""

    def __init__(self, marker: str, always_for: str = "") -> None:
        super().__init__()
        self.marker, self.always_for = marker, always_for

    def encode(self, audio):
        peak = audio.samples.abs().max()
        poison = self.always_for and bool(torch.isclose(peak, torch.tensor(0.123), atol=1e-3))
        if poison or not os.path.exists(self.marker):
            Path(self.marker).touch()
            os._exit(1)
        return super().encode(audio)


@pytest.mark.parametrize("split_io", [True, False], ids=["io-apart", "whole-inputs"])
def test_ray_gives_the_local_bytes_and_a_bad_file_fails_alone(local_ray, tmp_path, split_io):
    weights = write_tiny_set(tmp_path)
    songs = [tone(tmp_path / "in" / f"s{i}.wav", 150.0 + 60 * i, 0.5, 44100) for i in range(6)]
    (tmp_path / "in" / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    common = dict(seed=11, variations=2, device="cpu", weights=weights,
                  overrides=["sampling.steps=2", "c2f.steps=1"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the Ray workers (OMP_NUM_THREADS=1)
    try:
        local = run_recipe("compress", [str(tmp_path / "in")], tmp_path / "local", **common)
    finally:
        torch.set_num_threads(threads)
    remote = run_recipe("compress", [str(tmp_path / "in")], tmp_path / "ray",
                        executor=RayExecutor(workers=2, split_io=split_io), **common)
    assert [Path(f.input).name for f in remote.failures] == ["corrupt.wav"]
    assert len(remote.outputs) == len(local.outputs) == 12
    for path in local.outputs:
        assert (tmp_path / "ray" / path.name).read_bytes() == path.read_bytes(), path.name
    assert [r["input"] for r in remote.manifest["inputs"]] == [r["input"] for r in local.manifest["inputs"]]
    assert remote.manifest_path.exists() and {r["status"] for r in remote.manifest["inputs"]} == {"ok", "failed"}
    assert {Path(r["input"]).name for r in remote.manifest["inputs"]} == {p.name for p in songs} | {"corrupt.wav"}
    stages = remote.manifest["stages"]  # the workers' stage times come back to the manifest
    assert all(stages[stage] > 0 for stage in ("load", "read", "encode", "coarse", "decode", "write")), stages


def test_a_dead_workers_input_is_retried_and_a_rerun_skips_everything(local_ray, tmp_path):
    songs = [tone(tmp_path / "in" / f"s{i}.wav", 200.0 + 50 * i, 0.3, TINY.sample_rate) for i in range(3)]
    engine = DyingEngine(str(tmp_path / "died-once"))
    result = run_recipe("compress", [str(p) for p in songs], tmp_path / "out", engine=engine, seed=2,
                        executor=RayExecutor(workers=2, max_retries=2, split_io=True))
    assert result.ok and (tmp_path / "died-once").exists() and len(result.outputs) == 3
    assert any(r.get("attempts") == 2 for r in result.manifest["inputs"])
    again = run_recipe("compress", [str(p) for p in songs], tmp_path / "out", engine=FillEngine(), seed=2,
                       executor=RayExecutor(workers=2), skip_existing=True)
    assert again.ok and sorted(again.skipped) == sorted(songs)


def test_an_input_that_keeps_killing_workers_fails_after_bounded_retries(local_ray, tmp_path):
    good = tone(tmp_path / "in" / "good.wav", 220.0, 0.3, TINY.sample_rate)
    poison = tmp_path / "in" / "poison.wav"
    t = np.arange(int(TINY.sample_rate * 0.3)) / TINY.sample_rate
    soundfile.write(poison, (0.123 * np.sin(2 * np.pi * 330 * t)).astype("float32"), TINY.sample_rate)
    marker = tmp_path / "marker"
    marker.touch()  # only the poison input kills
    # poison first: good waits behind it on the one worker, dies with it, and is not charged
    result = run_recipe("compress", [str(poison), str(good)], tmp_path / "out", seed=1,
                        engine=DyingEngine(str(marker), always_for="poison"),
                        executor=RayExecutor(workers=1, max_retries=1))
    assert [Path(f.input).name for f in result.failures] == ["poison.wav"]
    assert "worker died 2 times" in result.failures[0].error
    assert (tmp_path / "out" / "good.compress.1.0.wav").exists()
    good_record = next(r for r in result.manifest["inputs"] if r["input"] == str(good))
    assert good_record["status"] == "ok" and "attempts" not in good_record
    assert not [p for p in (tmp_path / "out").iterdir() if ".part" in p.name]


def test_the_command_line_needs_executor_ray_for_ray_options(tmp_path):
    from vampkit import cli

    for args in (["run", "compress", "-i", str(tmp_path / "x.wav"), "--workers", "2", "--dry-run"],
                 ["eval", "compression", "--data", str(tmp_path), "--gpus-per-worker", "1"]):
        with pytest.raises(SystemExit) as info:
            cli.main(args)
        assert info.value.code == 2, args


def test_ctrl_c_stops_the_workers_and_leaves_no_partial_files(local_ray, tmp_path):
    songs = [tone(tmp_path / "in" / f"s{i}.wav", 200.0 + 30 * i, 0.3, TINY.sample_rate) for i in range(6)]
    seen = []

    def interrupt(path, error):
        seen.append(path)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_recipe("compress", [str(p) for p in songs], tmp_path / "out", engine=FillEngine(), seed=3,
                   executor=RayExecutor(workers=2, split_io=True), on_input=interrupt)
    assert len(seen) == 1
    assert not [p for p in (tmp_path / "out").iterdir() if ".part" in p.name]
    import time

    deadline = time.monotonic() + 30  # the workers were stopped: their CPUs are free again
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ray.available_resources().get("CPU", 0) == 2


def test_an_evaluation_grid_on_ray_gives_the_local_numbers(local_ray, tmp_path):
    from vampkit.eval import evaluate, loads_experiment
    from vampkit.examples import write_groove

    (tmp_path / "weights").mkdir()
    weights = write_tiny_set(tmp_path / "weights")
    (tmp_path / "data").mkdir()
    for i, bpm in enumerate((100, 125, 150)):
        write_groove(tmp_path / "data" / f"groove{i}.wav", seconds=1.5, bpm=bpm)
    (tmp_path / "data" / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    grid = ("name: t\ndata: {excerpt: 1.0}\nmetrics: [mel, fad]\nconditions:\n  - baseline: reconstructed\n"
            "  - label: periodic\n    mask: {periodic: {period: 4}}\n    sampling: {steps: 2}\n    c2f: {steps: 1}\n")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the Ray workers (OMP_NUM_THREADS=1)
    try:
        local = evaluate(loads_experiment(grid), tmp_path / "data", weights=weights, device="cpu",
                         out=tmp_path / "local")
    finally:
        torch.set_num_threads(threads)
    import vampkit.eval.runner as runner

    runner.BATCH, batch = 1, runner.BATCH  # one excerpt per call: the batches spread over both workers
    try:
        remote = evaluate(loads_experiment(grid), tmp_path / "data", weights=weights, device="cpu",
                          out=tmp_path / "ray", executor=RayExecutor(workers=2))
    finally:
        runner.BATCH = batch
    assert (tmp_path / "ray" / "results.csv").read_text() == (tmp_path / "local" / "results.csv").read_text()
    assert remote.conditions == local.conditions
    assert len(remote.rows) == 6 and remote.summary["checkpoints"] == local.summary["checkpoints"]
    assert [Path(f.input).name for f in remote.skipped] == ["broken.wav"]


def test_more_workers_than_cpus_finish_the_batch_instead_of_waiting_for_ever(local_ray, tmp_path):
    import faulthandler
    import time

    songs = [tone(tmp_path / "in" / f"s{i}.wav", 180.0 + 40 * i, 0.3, TINY.sample_rate) for i in range(5)]
    faulthandler.dump_traceback_later(300, exit=True)  # a hang fails the run loudly, not CI's clock
    try:
        result = run_recipe("compress", [str(p) for p in songs], tmp_path / "out", engine=FillEngine(), seed=4,
                            executor=RayExecutor(workers=4))  # two of them can never start on 2 CPUs
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert result.ok and len(result.outputs) == 5
    deadline = time.monotonic() + 30  # the waiting workers were given up: nothing holds a CPU
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ray.available_resources().get("CPU", 0) == 2


def test_a_worker_that_needs_more_than_this_machine_has_is_refused_at_once():
    from vampkit.errors import VampkitError

    with pytest.raises(VampkitError, match="--gpus-per-worker 1: this machine's Ray has 0 GPUs"):
        RayExecutor(gpus_per_worker=1).check_fits({"CPU": 2.0})
    RayExecutor(workers=8).check_fits({"CPU": 2.0})  # more workers than fit is fine: they wait their turn


def test_an_evaluation_interrupted_on_ray_leaves_no_partial_files_and_resumes(local_ray, tmp_path, monkeypatch):
    import time

    import tqdm

    from vampkit.eval import evaluate, loads_experiment
    from vampkit.examples import write_groove

    (tmp_path / "weights").mkdir()
    weights = write_tiny_set(tmp_path / "weights")
    (tmp_path / "data").mkdir()
    for i, bpm in enumerate((100, 125, 150, 175)):
        write_groove(tmp_path / "data" / f"groove{i}.wav", seconds=1.5, bpm=bpm)
    grid = ("name: t\ndata: {excerpt: 1.0}\nmetrics: [mel]\nconditions:\n  - baseline: reconstructed\n"
            "  - label: periodic\n    mask: {periodic: {period: 4}}\n    sampling: {steps: 2}\n    c2f: {steps: 1}\n")

    class Interrupting(tqdm.tqdm):
        def update(self, n=1):  # Ctrl-C as the first batch comes back
            raise KeyboardInterrupt

    import vampkit.eval.runner as runner

    monkeypatch.setattr(runner, "BATCH", 1)
    monkeypatch.setattr(tqdm, "tqdm", Interrupting)
    with pytest.raises(KeyboardInterrupt):
        evaluate(loads_experiment(grid), tmp_path / "data", weights=weights, device="cpu", out=tmp_path / "out",
                 progress=True, executor=RayExecutor(workers=2))
    monkeypatch.undo()
    out = tmp_path / "out"
    assert not [p for p in out.rglob("*") if ".part" in p.name]
    assert list((out / "cache").rglob("*.json")) and not (out / "results.csv").exists()  # some work was kept
    deadline = time.monotonic() + 30  # the workers were stopped
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ray.available_resources().get("CPU", 0) == 2
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the Ray workers, so the cached and the new numbers agree
    try:
        resumed = evaluate(loads_experiment(grid), tmp_path / "data", weights=weights, device="cpu", out=out)
        fresh = evaluate(loads_experiment(grid), tmp_path / "data", weights=weights, device="cpu",
                         out=tmp_path / "fresh")
    finally:
        torch.set_num_threads(threads)
    assert (out / "results.csv").read_text() == (tmp_path / "fresh" / "results.csv").read_text()
    assert len(resumed.rows) == len(fresh.rows) == 8
