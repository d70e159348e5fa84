"""The ``onset`` mask keeps ``[i - width, i + width)`` around each onset frame; onsets come from
the ``onsets`` analysis (madmom at its true 100 fps, or the simple fallback)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vampkit import AnalysisError, MaskContext, ParameterError, UnknownNameError, build_mask_generator
from vampkit.beats.analyses import OnsetsAnalysis
from vampkit.masks.beat import Onset
from signals import SR, click_track

PROPS = settings(max_examples=60, deadline=None)


def kept(mask):
    assert bool((mask.tensor == mask.tensor[0]).all())
    return [not v for v in mask.tensor[0].tolist()]


@PROPS
@given(st.integers(1, 150), st.sampled_from([(44100, 768), (16000, 320)]),
       st.lists(st.floats(0.0, 4.0, allow_nan=False), max_size=20), st.integers(0, 8))
def test_onset_mask_keeps_upstreams_frames_around_every_onset(n_frames, rate, onsets, width):
    sr, hop = rate
    ctx = MaskContext(n_codebooks=2, n_frames=n_frames, sample_rate=sr, hop_length=hop,
                      analyses={"onsets": lambda: tuple(onsets)})
    expected = [False] * n_frames
    for t in onsets:  # librosa time_to_frames, then Python slicing, as upstream
        i = int(t * sr) // hop
        expected[i - width:i + width] = [True] * len(expected[i - width:i + width])
    assert kept(Onset(width=width)(ctx)) == expected


def test_onset_mask_with_clamped_edges_keeps_the_start_of_an_early_onset():
    ctx = MaskContext(n_codebooks=1, n_frames=40, analyses={"onsets": lambda: (0.0,)})
    assert not any(kept(Onset(width=3)(ctx)))
    assert [i for i, k in enumerate(kept(Onset(width=3, edges="clamp")(ctx))) if k] == [0, 1, 2]


def test_no_onsets_generates_everything():
    ctx = MaskContext(n_codebooks=2, n_frames=30, analyses={"onsets": lambda: ()})
    assert Onset()(ctx).tensor.all()


def test_onset_mask_without_an_onsets_analysis_is_an_analysis_error():
    with pytest.raises(AnalysisError, match="onsets"):
        Onset()(MaskContext(n_codebooks=1, n_frames=10))


@pytest.mark.parametrize("params, bad", [({"width": -1}, "width"), ({"width": 1.5}, "width"),
                                         ({"edges": "nope"}, "edges")])
def test_bad_onset_parameters_name_the_generator_and_parameter(params, bad):
    with pytest.raises(ParameterError, match=f"onset: {bad}"):
        build_mask_generator({"onset": params})


def test_simple_onsets_find_the_clicks(tmp_path):
    audio, times = click_track(seconds=6.0)
    found = np.asarray(OnsetsAnalysis()(audio, SR, detector="simple", cache_dir=tmp_path))
    assert len(found) == len(times)
    assert np.abs(found - times).max() < 0.03


def test_unknown_onset_detector_is_named():
    with pytest.raises(UnknownNameError, match="madmon.*did you mean 'madmom'"):
        OnsetsAnalysis()(np.zeros(100, dtype=np.float32), SR, detector="madmon", cache=False)


@pytest.mark.madmom
@pytest.mark.slow
def test_madmom_onsets_are_in_seconds_at_the_true_frame_rate(tmp_path):
    """Upstream gave the peak picker the token rate (57.4 fps) instead of 100 fps, which
    stretched onset times by 100/57.4; here they land on the clicks."""
    audio, times = click_track(seconds=6.0)
    found = np.asarray(OnsetsAnalysis()(audio, SR, cache_dir=tmp_path))
    assert len(found) == len(times)
    assert np.abs(found - times).max() < 0.02


@pytest.mark.madmom
@pytest.mark.slow
def test_onset_mask_from_madmom_keeps_the_frames_around_the_clicks(tmp_path):
    from vampkit.analysis import analyses_for

    audio, times = click_track(bpm=100.0, seconds=4.0)
    ctx = MaskContext(n_codebooks=4, n_frames=230, analyses=analyses_for(audio, SR, cache_dir=tmp_path))
    frames = [int(t * SR) // 768 for t in times]
    expected = [any(i - 2 <= j < i + 2 for i in frames) for j in range(230)]
    assert kept(Onset(width=2)(ctx)) == expected
