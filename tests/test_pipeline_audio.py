"""Audio through the pipeline: outputs at the input's rate and length, one silent-input policy
(refused, as encode_audio refuses it; the batch goes on), a warning for cancelling stereo."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from _pipeline_doubles import FillEngine
from vampkit.audio import MonoMixWarning
from vampkit.pipeline import run_recipe
from vampkit.recipes import loads_recipe

RECIPE = "name: plain\nmask: {periodic: {period: 3}}\n"


def _write(path, channels, rate=22050, seconds=0.5):
    t = np.arange(int(rate * seconds)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 220 * t)
    soundfile.write(path, np.stack([c * tone for c in channels], axis=1).astype("float32"), rate)
    return path


def test_outputs_keep_the_inputs_rate_and_length(tmp_path):
    song = _write(tmp_path / "song.wav", [1.0, 0.5], rate=22050, seconds=0.5)
    result = run_recipe(loads_recipe(RECIPE), [str(song)], tmp_path / "out", engine=FillEngine())
    assert result.ok, result.failures
    info = soundfile.info(str(result.outputs[0]))
    assert (info.samplerate, info.frames) == (22050, 11025)


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_silent_input_fails_clearly_and_the_batch_goes_on(tmp_path, dry_run):
    silent = _write(tmp_path / "silent.wav", [0.0, 0.0])
    song = _write(tmp_path / "song.wav", [1.0])
    result = run_recipe(loads_recipe(RECIPE), [str(silent), str(song)], tmp_path / "out", dry_run=dry_run,
                        engine=FillEngine())
    (failure,) = result.failures
    assert failure.input == str(silent) and "silent.wav' is silent" in failure.error
    assert [r["status"] for r in result.manifest["inputs"]] == ["failed", "ok"]


def test_stereo_whose_channels_cancel_warns_in_a_dry_run_too(tmp_path):
    song = _write(tmp_path / "phase.wav", [1.0, -0.999])
    with pytest.warns(MonoMixWarning, match=r"phase\.wav'.*cancel in the mono mix"):
        result = run_recipe(loads_recipe(RECIPE), [str(song)], tmp_path / "out", dry_run=True, engine=FillEngine())
    assert result.ok
