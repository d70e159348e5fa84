"""The stage plugin example of docs/plugin-tutorial.md runs as written: registered in-process,
used from a recipe, with the pipeline test double in place of the models."""

from __future__ import annotations

import re
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile

import vampkit
from _pipeline_doubles import TINY, FillEngine
from vampkit import plugins
from vampkit.recipes import loads_recipe

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "plugin-tutorial.md"
RECIPE = """name: quieter
mask: {periodic: {period: 3}}
pipeline: [load, encode, mask, vamp, decode, {gain: {db: -6}}, write]
"""


def example_source() -> str:
    found = re.search(r"^```python stage-example\n(.*?)^```", TUTORIAL.read_text(), re.MULTILINE | re.DOTALL)
    assert found, "the tutorial lost its stage example"
    return found.group(1)


@pytest.fixture
def gain_plugin():
    module = types.ModuleType("tutorial_gain_stage")
    exec(compile(example_source(), f"{TUTORIAL.name}:stage-example", "exec"), module.__dict__)  # noqa: S102 - our own docs
    name = plugins.register_plugin(module, name="tutorial-gain")
    yield module
    plugins.unregister_plugin(name)


@pytest.fixture
def wav(tmp_path):
    path = tmp_path / "song.wav"
    t = np.arange(TINY.sample_rate) / TINY.sample_rate
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype("float32"), TINY.sample_rate)
    return path


def test_the_example_stage_is_a_stage_registered_under_its_name(gain_plugin):
    assert isinstance(gain_plugin.Gain(db=-6), vampkit.Stage)
    assert plugins.registered("stages")["gain"].plugin == "tutorial-gain"


def test_the_example_stage_scales_the_outputs_of_a_run(gain_plugin, wav, tmp_path):
    plain = vampkit.run_recipe(loads_recipe(RECIPE.replace(", {gain: {db: -6}}", "")), [str(wav)],
                               tmp_path / "plain", engine=FillEngine())
    quieter = vampkit.run_recipe(loads_recipe(RECIPE), [str(wav)], tmp_path / "quieter", engine=FillEngine())
    assert plain.ok and quieter.ok, (plain.failures, quieter.failures)
    before, _ = soundfile.read(plain.outputs[0])
    after, _ = soundfile.read(quieter.outputs[0])
    assert np.abs(before).max() > 0
    np.testing.assert_allclose(after, before * 10 ** (-6 / 20), rtol=1e-5, atol=1e-7)
    assert quieter.manifest["inputs"][0]["details"]["gain_db"] == -6


def test_the_example_stage_runs_in_a_dry_run(gain_plugin, wav, tmp_path):
    result = vampkit.run_recipe(loads_recipe(RECIPE), [str(wav)], tmp_path / "dry", dry_run=True,
                                engine=FillEngine())
    assert result.ok and not result.outputs


def test_a_recipe_gets_the_stages_parameter_errors(gain_plugin):
    with pytest.raises(vampkit.RecipeError, match=r"gain"):
        loads_recipe(RECIPE.replace("db: -6", "db: loud"))
