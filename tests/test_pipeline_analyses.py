"""Analyses run once per input, whatever the number of variations and sweep points (the states
of one input share them); each input gets its own."""

from __future__ import annotations

import types
from typing import ClassVar

import attrs
import numpy as np
import pytest
import soundfile
import torch

import vampkit
from _pipeline_doubles import TINY, FillEngine
from vampkit import plugins
from vampkit.recipes import loads_recipe


@attrs.frozen
class Counted:
    """An analysis that counts its calls (and sees the mono mix at the codec's rate)."""

    name: ClassVar[str] = "counted"
    calls: ClassVar[list] = []

    def __call__(self, audio, sample_rate, **options):
        self.calls.append((tuple(np.shape(audio)), sample_rate))
        return 1


@attrs.frozen
class ReadsCounted:
    """Keep every `period`-th frame, after reading the counted analysis."""

    name = "reads-counted"
    period: int = vampkit.param(2, doc="frames between kept ones")

    def __call__(self, ctx):
        ctx.analysis("counted")
        return vampkit.Mask(ctx.frames_mask(torch.arange(ctx.n_frames) % self.period == 0))


@pytest.fixture
def counting_plugin():
    Counted.calls.clear()
    module = types.SimpleNamespace(
        register_analyses=vampkit.hookimpl(lambda register: register(Counted())),
        register_masks=vampkit.hookimpl(lambda register: register(ReadsCounted)))
    name = plugins.register_plugin(module, name="counting")
    yield Counted.calls
    plugins.unregister_plugin(name)


def _wav(path, seconds=1.0, rate=22050):
    t = np.arange(int(rate * seconds)) / rate
    soundfile.write(path, np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2, axis=1).astype("float32"), rate)
    return path


RECIPE = """name: counted
pipeline:
  - sweep: {grid: {mask.reads-counted.period: [2, 3]}}
  - load
  - encode
  - mask
  - vamp
  - decode
  - write
mask: {reads-counted: {period: 2}}
"""


def test_an_analysis_runs_once_per_input_for_all_variations_and_sweep_points(counting_plugin, tmp_path):
    inputs = [str(_wav(tmp_path / "a.wav")), str(_wav(tmp_path / "b.wav"))]
    result = vampkit.run_recipe(loads_recipe(RECIPE), inputs, tmp_path / "out", variations=3, engine=FillEngine())
    assert result.ok, result.failures
    assert len(result.outputs) == 2 * 3 * 2
    assert len(counting_plugin) == 2  # one per input, not one per output


def test_masks_see_the_mono_mix_at_the_codec_rate(counting_plugin, tmp_path):
    vampkit.run_recipe(loads_recipe(RECIPE), [str(_wav(tmp_path / "a.wav", rate=22050))], tmp_path / "out",
                       dry_run=True, engine=FillEngine())
    ((shape, rate),) = counting_plugin
    assert rate == TINY.sample_rate and shape == (TINY.sample_rate,)
