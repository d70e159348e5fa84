"""MaskContext: grid size and units, a seeded generator, lazy audio and analyses."""

import pytest
import torch

import vampkit
from vampkit import MaskContext


def test_seconds_to_frames_rounds_up_like_upstream_s2t():
    ctx = MaskContext(n_codebooks=14, n_frames=600, sample_rate=44100, hop_length=768)
    expected = {0.02: 2, 0.0375: 3, 0.05: 3, 0.08: 5, 0.5: 29, 1.0: 58, 3.0: 173, 10.0: 575}
    assert {s: ctx.seconds_to_frames(s) for s in expected} == expected
    assert ctx.frames_to_seconds(575) == pytest.approx(10.0136, abs=1e-4)
    assert ctx.frame_rate == pytest.approx(57.421875)


def test_one_seed_gives_one_random_stream():
    a = MaskContext(n_codebooks=1, n_frames=4, seed=3)
    b = MaskContext(n_codebooks=1, n_frames=4, seed=3)
    assert torch.equal(torch.rand(5, generator=a.generator), torch.rand(5, generator=b.generator))


def test_analyses_are_computed_once_on_first_use():
    calls = []

    def beats():
        calls.append(1)
        return [0.5, 1.0]

    ctx = MaskContext(n_codebooks=1, n_frames=4, analyses={"beats": beats})
    assert calls == []
    assert ctx.beats == [0.5, 1.0] and ctx.analysis("beats") == [0.5, 1.0]
    assert calls == [1]


def test_a_missing_analysis_is_a_clear_error():
    ctx = MaskContext(n_codebooks=1, n_frames=4)
    with pytest.raises(vampkit.AnalysisError, match="no 'onsets' analysis"):
        ctx.onsets  # noqa: B018 - reading it raises


def test_audio_is_loaded_lazily():
    ctx = MaskContext(n_codebooks=1, n_frames=4, audio_loader=lambda: torch.zeros(1, 10))
    assert ctx.audio.shape == (1, 10)


def test_an_empty_grid_is_refused():
    with pytest.raises(vampkit.ParameterError, match="at least one"):
        MaskContext(n_codebooks=4, n_frames=0)


def test_units_can_be_given_as_a_frame_rate():
    ctx = MaskContext(n_codebooks=14, n_frames=600, frame_rate=44100 / 768)
    assert ctx.hop_length == 768 and ctx.frame_rate == 44100 / 768
    assert ctx.seconds_to_frames(10.0) == 575
    dac = MaskContext(n_codebooks=9, n_frames=100, sample_rate=44100, frame_rate=86.13)
    assert dac.hop_length == 512


def test_a_frame_rate_that_contradicts_the_hop_is_refused():
    with pytest.raises(vampkit.ParameterError, match="frame_rate 50.0 does not match"):
        MaskContext(n_codebooks=1, n_frames=4, sample_rate=44100, hop_length=768, frame_rate=50.0)
