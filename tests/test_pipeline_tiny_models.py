"""Every shipped recipe end to end on tiny random-weight checkpoints in the upstream formats
(LAC codec, VampNet coarse + c2f), through the real loaders, sampler and codec."""

from __future__ import annotations

import json

import pytest
import soundfile
import torch

from vampkit.pipeline import run_recipe
from vampkit.recipes import load_recipe, shipped_recipes

FAST = ["sampling.steps=2", "c2f.steps=1"]
PER_RECIPE = {
    "inpaint": ["mask.region.start=0.5", "mask.region.end=1.0"],
    "continue": ["pipeline.2.continue.seconds=0.5", "pipeline.2.continue.context=0.5"],
    "long-audio": ["pipeline.3.windowed-vamp.window=0.6", "pipeline.3.windowed-vamp.overlap=0.2"],
    "beat-driven": ["analysis.beat_tracker=simple"],
    "sweep": ["pipeline.0.sweep.grid={mask.any-of.0.periodic.period: [7, 13]}"],
}


@pytest.mark.parametrize("name", shipped_recipes())
def test_shipped_recipe_runs_end_to_end(name, tiny_weights, groove, tmp_path, monkeypatch):
    monkeypatch.setenv("VAMPKIT_CACHE", str(tmp_path / "cache"))
    recipe = load_recipe(name, FAST + PER_RECIPE.get(name, []))
    result = run_recipe(recipe, [str(groove)], tmp_path / "out", weights=tiny_weights, variations=2, device="cpu")
    assert result.ok, result.failures
    assert result.outputs and all(p.exists() and soundfile.info(str(p)).frames > 0 for p in result.outputs)
    manifest = json.loads(result.manifest_path.read_text())
    assert set(manifest["checkpoints"]) == {"coarse", "c2f", "codec"}
    assert all(len(c["sha256"]) == 64 for c in manifest["checkpoints"].values())
    assert manifest["bundle"]["name"] == "vampnet" and manifest["bundle"]["license"]  # local files run as vampnet
    assert manifest["inputs"][0]["kept_fraction"] is not None


def test_prompt_tokens_survive_into_the_output_codes(tiny_engine, groove, tmp_path):
    from vampkit.pipeline.stages import Encode, Load, MaskStage, Vamp
    from vampkit.pipeline.state import Env, State

    env = Env(out_dir=tmp_path, engine_factory=lambda: tiny_engine)
    for seed, overrides in enumerate([[], ["mask.any-of.0.periodic.period=3"], ["mask.any-of.1.codebooks.keep=1"]]):
        recipe = load_recipe("compress", FAST + overrides)
        states = [State(input=groove, recipe=recipe, seed=seed)]
        for stage in (Load(), Encode(), MaskStage(), Vamp()):
            states = stage(states, env)
        (state,) = states
        kept = ~state.mask.tensor
        assert torch.equal(state.out_codes[0][kept], state.codes[0][kept])
        assert state.out_codes.shape == state.codes.shape


def test_variations_sampled_together_equal_each_sampled_alone(tiny_engine, groove, tmp_path):
    from vampkit.pipeline.stages import Encode, Load, MaskStage, Vamp
    from vampkit.pipeline.state import Env, State

    env = Env(out_dir=tmp_path, engine_factory=lambda: tiny_engine)
    recipe = load_recipe("loop-variation", FAST)

    def vamped(states):
        for stage in (Load(), Encode(), MaskStage(), Vamp()):
            states = stage(states, env)
        return states

    together = vamped([State(input=groove, recipe=recipe, seed=3, variation=v) for v in range(3)])
    for v in range(3):
        (alone,) = vamped([State(input=groove, recipe=recipe, seed=3, variation=v)])
        assert torch.equal(together[v].mask.tensor, alone.mask.tensor)
        assert torch.equal(together[v].out_codes, alone.out_codes)
    assert not torch.equal(together[0].out_codes, together[1].out_codes)  # variations do differ


def test_step_progress_declares_the_steps_it_then_takes(tiny_weights, tmp_path):
    """loop-variation on a grid longer than the c2f model's context: the c2f model runs once per
    chunk, and each bar's declared total counts every chunk's steps."""
    from vampkit.examples import write_groove

    groove = write_groove(tmp_path / "long.wav", seconds=6.5, bpm=120)
    bars: list[dict] = []

    def progress(label, total):
        bars.append({"label": label, "total": total, "done": 0})
        return lambda n=1: bars[-1].__setitem__("done", bars[-1]["done"] + n)

    recipe = load_recipe("loop-variation", ["sampling.steps=2", "c2f.steps=1"])
    result = run_recipe(recipe, [str(groove)], tmp_path / "out", weights=tiny_weights, variations=1,
                        device="cpu", progress=progress)
    assert result.ok, result.failures
    assert bars and all(bar["total"] == bar["done"] for bar in bars), bars
    assert all(bar["total"] > recipe.sampling.steps + recipe.c2f.steps for bar in bars)  # several c2f chunks
