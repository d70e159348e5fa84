"""The split of one input into reading, model and writing stages (what the ray executor runs as
a CPU task, an actor call and another CPU task) gives what the one-piece ``process_input`` gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from _pipeline_doubles import TINY, FillEngine
from vampkit.pipeline.process import finish_input, generate_input, prepare_input, process_input, split_pipeline
from vampkit.pipeline.state import Env
from vampkit.recipes import load_recipe, loads_recipe


def song(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(TINY.sample_rate) / TINY.sample_rate
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype("float32"), TINY.sample_rate)
    return path


def split_run(path: Path, recipe, env: Env, *, skip_existing: bool = False):
    model_env = Env(out_dir=env.out_dir, engine=env.loaded_engine)
    io_env = Env(out_dir=env.out_dir, geometry=TINY)  # no model: reading and writing never need one
    return finish_input(generate_input(prepare_input(path, recipe, io_env, skip_existing), model_env), io_env)


def test_file_stages_at_either_end_are_split_from_the_model_stages():
    reading, model, writing = split_pipeline(load_recipe("compress"))
    assert ([s.name for s in reading], [s.name for s in model], [s.name for s in writing]) == (
        ["load"], ["encode", "mask", "vamp", "decode"], ["write"])


def test_split_stages_write_the_same_bytes_and_record_as_one_piece(tmp_path):
    path = song(tmp_path / "in" / "song.wav")
    recipe = loads_recipe("name: ten\nvariations: 10\nmask: {periodic: {period: 4}}\n")  # two chunks (of 8 and 2)
    whole = process_input(path, recipe, Env(out_dir=tmp_path / "whole", engine=FillEngine()))
    split = split_run(path, recipe, Env(out_dir=tmp_path / "split", engine=FillEngine()))
    assert whole.error is None and split.error is None and len(split.outputs) == 10
    for a, b in zip(whole.outputs, split.outputs):
        assert a.name == b.name and a.read_bytes() == b.read_bytes()
    drop = {"seconds", "outputs"}
    assert {k: v for k, v in split.record.items() if k not in drop} == {
        k: v for k, v in whole.record.items() if k not in drop}
    again = split_run(path, recipe, Env(out_dir=tmp_path / "split", engine=FillEngine()), skip_existing=True)
    assert again.skipped and again.record["status"] == "skipped"


def test_an_unreadable_input_fails_in_its_reading_stage_and_never_reaches_the_model(tmp_path):
    bad = tmp_path / "in" / "bad.wav"
    bad.parent.mkdir()
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    engine = FillEngine()
    outcome = split_run(bad, loads_recipe("name: r\nmask: {periodic: {period: 4}}\n"),
                        Env(out_dir=tmp_path / "out", engine=engine))
    assert outcome.error and "bad.wav" in outcome.error and outcome.record["status"] == "failed"
    assert engine.calls == [] and not (tmp_path / "out").exists()
