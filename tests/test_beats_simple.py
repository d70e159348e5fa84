"""The ``simple`` fallback tracker (numpy only, less precise): a looser accuracy test on clicks."""

import numpy as np
import pytest
import torch

from vampkit import AnalysisError, AudioError, ParameterError, plugins
from vampkit.beats.base import mono
from vampkit.beats.simple import SimpleTracker
from vampkit.params import build
from signals import SR, click_track



@pytest.mark.parametrize("bpm", [90, 97, 120, 140])
def test_simple_tracker_finds_click_beats_within_70_ms(bpm):
    audio, times = click_track(bpm)
    found = np.asarray(SimpleTracker().track(audio, SR).times)
    errors = np.abs(found[:, None] - times[None, :]).min(axis=0)
    assert (errors <= 0.07).mean() >= 0.9
    assert abs(len(found) - len(times)) <= 1


def test_simple_tracker_reports_tempo_but_no_downbeats_or_meter():
    audio, _ = click_track(120)
    beats = SimpleTracker().track(torch.from_numpy(audio).expand(2, -1), SR)  # stereo tensor
    assert abs(beats.tempo - 120) < 2.4
    assert beats.downbeats == () and beats.meter is None and beats.tracker == "simple"


def test_simple_tracker_works_at_other_sample_rates():
    audio, times = click_track(120)
    resampled = audio[::2]  # crude 22.05 kHz copy; clicks keep their times
    found = np.asarray(SimpleTracker().track(resampled, SR // 2).times)
    assert (np.abs(found[:, None] - times[None, :]).min(axis=0) <= 0.07).mean() >= 0.9


def test_silence_has_no_beats():
    assert SimpleTracker().track(np.zeros(SR * 3, dtype=np.float32), SR).times == ()


def test_too_short_audio_is_an_analysis_error():
    audio = np.random.default_rng(0).standard_normal(int(0.25 * SR)).astype(np.float32)
    with pytest.raises(AnalysisError, match="too short"):
        SimpleTracker().track(audio, SR)


def test_bad_audio_is_an_audio_error():
    with pytest.raises(AudioError, match="NaN"):
        mono(np.array([0.0, np.nan]))
    with pytest.raises(AudioError, match="shape"):
        mono(np.zeros((1, 2, 3, 4)))


@pytest.mark.parametrize("params, bad", [({"min_bpm": -1.0}, "min_bpm"), ({"max_bpm": 50.0}, "max_bpm"),
                                         ({"tightness": -1.0}, "tightness")])
def test_bad_simple_parameters_are_named(params, bad):
    with pytest.raises(ParameterError, match=f"simple: .*{bad}"):
        build(SimpleTracker, params)


def test_both_trackers_are_registered():
    trackers = plugins.registered("beat_trackers")
    assert {"madmom", "simple"} <= set(trackers)
    assert trackers["simple"].plugin == "vampkit.beats.builtin"
