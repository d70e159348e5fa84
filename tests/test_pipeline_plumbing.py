"""Pipeline plumbing with a test double in place of the models (tests/_pipeline_doubles.py):
stages, techniques, naming, manifest, batch failures. Not a test of model output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import vampkit
from _pipeline_doubles import TINY, FillEngine
from vampkit.pipeline import State, run_recipe
from vampkit.pipeline.state import Env
from vampkit.pipeline.techniques import Continue, WindowedVamp
from vampkit.recipes import load_recipe, loads_recipe

SR = TINY.sample_rate


@pytest.fixture()
def wav(tmp_path):
    path = tmp_path / "in" / "song.wav"
    path.parent.mkdir()
    t = np.arange(SR * 2) / SR
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype("float32"), SR)
    return path


def run(recipe, inputs, out, **kw):
    return run_recipe(recipe, [str(p) for p in inputs], out, engine=FillEngine(), **kw)


def test_default_pipeline_writes_one_file_per_variation(wav, tmp_path):
    result = run("medium-variation", [wav], tmp_path / "out", variations=2, seed=5)
    names = sorted(p.name for p in result.outputs)
    assert names == ["song.medium-variation.5.0.wav", "song.medium-variation.5.1.wav"]
    assert result.ok and all(p.exists() for p in result.outputs)


def test_manifest_records_recipe_seed_versions_and_prompt_measures(wav, tmp_path):
    result = run("compress", [wav], tmp_path / "out", seed=3)
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["seed"] == 3 and manifest["recipe"]["name"] == "compress"
    assert manifest["versions"]["vampkit"] and manifest["versions"]["torch"] == torch.__version__
    record = manifest["inputs"][0]
    assert record["status"] == "ok" and 0 < record["kept_fraction"] < 1
    # compression prompt: 3 codebooks of every 8th frame, 6 bits each (64 codes)
    frames = record["n_frames"]
    kept_frames = len(range(0, frames, 8))
    assert record["bitrate"] == pytest.approx(kept_frames * 3 * 6 / (frames / TINY.frame_rate), rel=0.15)
    assert "stage vamp" in manifest["timings"]


def test_batch_with_a_corrupt_file_goes_on_and_reports_it(wav, tmp_path):
    bad = wav.parent / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00not audio")
    result = run("inpaint", [wav.parent], tmp_path / "out", overrides=["mask.region.end=1.5"])
    assert [p.name for p in result.outputs] == ["song.inpaint.0.0.wav"]
    assert len(result.failures) == 1 and "broken.wav" in result.failures[0].input
    assert "cannot be read" in result.failures[0].error
    statuses = {r["input"].rsplit("/", 1)[-1]: r["status"] for r in result.manifest["inputs"]}
    assert statuses == {"broken.wav": "failed", "song.wav": "ok"}


def test_loop_joins_the_variations_end_to_end(wav, tmp_path):
    result = run("loop-variation", [wav], tmp_path / "out", variations=3)
    loop = [p for p in result.outputs if p.name.endswith(".loop.wav")]
    assert len(loop) == 1 and len(result.outputs) == 4
    one = soundfile.info(str(result.outputs[0])).frames
    assert soundfile.info(str(loop[0])).frames == 3 * one


def test_sweep_writes_one_output_per_point(wav, tmp_path):
    result = run("sweep", [wav], tmp_path / "out")
    names = sorted(p.name for p in result.outputs)
    assert names == sorted(f"song.sweep.0.0.period={p}.wav" for p in (7, 13, 16, 32))
    kept = [r["kept_fraction"] for r in result.manifest["inputs"][0]["prompts"]]
    assert kept == sorted(kept, reverse=True)  # longer period, fewer kept tokens


def test_continue_extends_the_input(wav, tmp_path):
    recipe = load_recipe("continue", ["pipeline.2.continue.seconds=0.5", "pipeline.2.continue.context=1.0"])
    result = run(recipe, [wav], tmp_path / "out")
    frames_in = TINY.n_frames(2 * SR)
    added = 2 * int(np.ceil(0.5 * TINY.frame_rate))
    assert soundfile.info(str(result.outputs[0])).frames == (frames_in + added) * TINY.hop_length


def test_dry_run_builds_masks_without_an_engine_or_writing(wav, tmp_path):
    recipe = loads_recipe("mask: {periodic: {period: 4}}\nweights: {coarse: a, c2f: b, codec: c}\n")
    result = run_recipe(recipe, [str(wav)], tmp_path / "out", dry_run=True, engine=FillEngine())
    assert result.ok and not (tmp_path / "out").exists()
    assert result.manifest["inputs"][0]["kept_fraction"] == pytest.approx(0.25, abs=0.02)


def test_missing_inputs_is_an_error_before_any_work():
    with pytest.raises(vampkit.RecipeError, match="no inputs"):
        run_recipe(loads_recipe("mask: periodic\n"), None, "out", engine=FillEngine())


def test_same_output_name_twice_is_refused(wav, tmp_path):
    recipe = loads_recipe("mask: periodic\noutput: {template: '{stem}.wav'}\nvariations: 2\n")
    result = run(recipe, [wav], tmp_path / "out")
    assert "gives the same name" in result.failures[0].error


def _state(codes, mask=None):
    recipe = loads_recipe("mask: periodic\nsampling: {steps: 1}\n")
    return State(input=__import__("pathlib").Path("x.wav"), recipe=recipe, seed=0, codes=codes,
                 n_frames=codes.shape[-1], mask=mask)


@settings(max_examples=30, deadline=None)
@given(n_frames=st.integers(min_value=5, max_value=400), window=st.floats(min_value=0.2, max_value=3.0),
       overlap_part=st.floats(min_value=0.05, max_value=0.9), seed=st.integers(0, 2**16))
def test_windowed_vamp_keeps_every_prompt_token_and_covers_the_grid(n_frames, window, overlap_part, seed):
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, TINY.codebook_size, (1, TINY.n_codebooks, n_frames), generator=g)
    mask = vampkit.Mask(torch.rand(TINY.n_codebooks, n_frames, generator=g) < 0.6)
    env = Env(out_dir=Path("."), engine_factory=FillEngine)
    stage = WindowedVamp(window=window, overlap=window * overlap_part)
    spans = stage.windows(n_frames, env)
    assert spans[0][0] == 0 and spans[-1][1] == n_frames
    assert all(b[0] < a[1] for a, b in zip(spans, spans[1:]))  # consecutive windows overlap
    (out,) = stage([_state(codes, mask)], env)
    kept = ~mask.tensor
    assert torch.equal(out.out_codes[0][kept], codes[0][kept])


@settings(max_examples=20, deadline=None)
@given(n_frames=st.integers(min_value=3, max_value=200), seconds=st.floats(0.05, 1.0), times=st.integers(1, 3),
       context=st.floats(0.05, 2.0))
def test_continue_keeps_the_input_tokens_as_they_were(n_frames, seconds, times, context):
    codes = torch.randint(0, TINY.codebook_size, (1, TINY.n_codebooks, n_frames))
    env = Env(out_dir=Path("."), engine_factory=FillEngine)
    (out,) = Continue(seconds=seconds, times=times, context=context)([_state(codes)], env)
    added = times * int(np.ceil(seconds * TINY.frame_rate))
    assert out.out_codes.shape[-1] == n_frames + added
    assert torch.equal(out.out_codes[..., :n_frames], codes)
    assert out.mask.n_frames == n_frames + added and not out.mask.tensor[:, :n_frames].any()


def test_a_dry_run_runs_here_whatever_the_executor(wav, tmp_path):
    class Remote:  # an executor that must not be asked: a dry run needs no workers
        name = "ray"

        def run(self, *args, **kwargs):
            raise AssertionError("a dry run started the executor")

    result = run("compress", [wav], tmp_path / "out", dry_run=True, executor=Remote())
    assert result.ok and result.manifest["inputs"][0]["status"] == "ok"
