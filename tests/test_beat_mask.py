"""The ``beat`` mask keeps exactly upstream VampNet's frames around each beat (make_beat_mask)."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import frame_grids

from vampkit import AnalysisError, MaskContext, ParameterError, build_mask_generator
from vampkit.beats import Beats
from vampkit.masks.beat import Beat, span_frames

PROPS = settings(max_examples=60, deadline=None)


def ctx_with(beats, n_frames=200, sample_rate=44100, hop_length=768, n_codebooks=3):
    return MaskContext(n_codebooks=n_codebooks, n_frames=n_frames, sample_rate=sample_rate,
                       hop_length=hop_length, analyses={"beats": lambda: beats})


def kept(mask):
    """Kept frames of a whole-frame mask (all codebooks agree), as a list of bools."""
    assert bool((mask.tensor == mask.tensor[0]).all()), "a beat mask keeps whole frames"
    return [not v for v in mask.tensor[0].tolist()]


def upstream_kept(times, downbeats, before, after, sr, hop, n_frames, *, upbeats=True, clamp=False):
    """Upstream make_beat_mask (invert=True, no dropout) with real Python list slicing."""
    s2t = lambda s: math.ceil(s * sr / hop)  # noqa: E731
    beats_z = [math.ceil(t * sr / hop) for t in times]
    downbeats_z = [math.ceil(t * sr / hop) for t in downbeats]
    upbeats_z = [i for i in beats_z if i not in downbeats_z]
    b, a = s2t(before), s2t(after)
    m = [0] * n_frames
    for i in (upbeats_z if upbeats else []) + downbeats_z:
        start = max(int(i - b), 0) if clamp else int(i - b)
        m[start:int(i + a)] = [1] * len(m[start:int(i + a)])
    return [bool(v) for v in m]


widths = st.floats(0.0, 0.25, allow_nan=False)


@st.composite
def beat_lists(draw):
    n_frames, (sr, hop) = draw(frame_grids())
    duration = n_frames * hop / sr
    times = draw(st.lists(st.floats(0.0, duration * 1.2, allow_nan=False), max_size=30))
    downbeats = draw(st.lists(st.sampled_from(times), max_size=8)) if times else []
    extra = draw(st.lists(st.floats(0.0, duration * 1.2, allow_nan=False), max_size=3))
    return n_frames, sr, hop, times, downbeats + extra


@PROPS
@given(beat_lists(), widths, widths)
def test_beat_mask_keeps_upstreams_frames_around_every_beat(case, before, after):
    n_frames, sr, hop, times, downbeats = case
    ctx = ctx_with(Beats(times=times, downbeats=downbeats), n_frames, sr, hop)
    mask = Beat(before=before, after=after)(ctx)
    assert mask.shape == (3, n_frames)
    assert kept(mask) == upstream_kept(sorted(times), sorted(downbeats), before, after, sr, hop, n_frames)


@PROPS
@given(beat_lists(), widths, widths)
def test_downbeats_only_keeps_upstreams_frames_around_downbeats(case, before, after):
    n_frames, sr, hop, times, downbeats = case
    ctx = ctx_with(Beats(times=times, downbeats=downbeats, meter=4), n_frames, sr, hop)
    mask = Beat(before=before, after=after, downbeats_only=True)(ctx)
    assert kept(mask) == upstream_kept(times, downbeats, before, after, sr, hop, n_frames, upbeats=False)


@PROPS
@given(beat_lists(), widths, widths)
def test_clamped_edges_start_windows_at_frame_zero(case, before, after):
    n_frames, sr, hop, times, downbeats = case
    ctx = ctx_with(Beats(times=times, downbeats=downbeats), n_frames, sr, hop)
    mask = Beat(before=before, after=after, edges="clamp")(ctx)
    assert kept(mask) == upstream_kept(times, downbeats, before, after, sr, hop, n_frames, clamp=True)


@PROPS
@given(beat_lists(), st.integers(1, 5), st.integers(0, 4), st.integers(0, 4))
def test_every_nth_beat_keeps_windows_of_every_nth_distinct_beat_frame(case, every, b, a):
    n_frames, sr, hop, times, downbeats = case
    ctx = ctx_with(Beats(times=times, downbeats=downbeats), n_frames, sr, hop)
    frame = hop / sr
    mask = Beat(before=b * frame - 1e-9 if b else 0.0, after=a * frame - 1e-9 if a else 0.0, every=every)(ctx)
    frames = sorted({math.ceil(t * sr / hop) for t in list(times) + list(downbeats)})[::every]
    expected = [False] * n_frames
    for i in frames:  # Python slices, as upstream
        expected[i - b:i + a] = [True] * len(expected[i - b:i + a])
    assert kept(mask) == expected


def test_paper_defaults_keep_three_frames_before_and_the_beat_plus_two_after():
    ctx = ctx_with(Beats(times=[1.0]), n_frames=120)
    assert (Beat().before, Beat().after) == (0.0375, 0.0375)
    assert ctx.seconds_to_frames(0.0375) == 3
    beat = math.ceil(1.0 * 44100 / 768)  # 58
    assert [i for i, k in enumerate(kept(Beat()(ctx))) if k] == list(range(beat - 3, beat + 3))


def test_a_beat_at_time_zero_keeps_nothing_upstream_but_its_start_when_clamped():
    ctx = ctx_with(Beats(times=[0.0]), n_frames=50)
    assert not any(kept(Beat()(ctx)))
    assert [i for i, k in enumerate(kept(Beat(edges="clamp")(ctx))) if k] == [0, 1, 2]


def test_beats_past_the_end_of_the_grid_are_ignored():
    ctx = ctx_with(Beats(times=[100.0]), n_frames=50)
    assert not any(kept(Beat()(ctx)))


def test_no_beats_generates_everything():
    assert Beat()(ctx_with(Beats(times=[]), n_frames=30)).tensor.all()


def test_downbeats_only_without_downbeats_names_the_tracker():
    ctx = ctx_with(Beats(times=[0.5, 1.0], tracker="simple"))
    with pytest.raises(AnalysisError, match="downbeats_only.*simple"):
        Beat(downbeats_only=True)(ctx)


def test_beat_mask_without_a_beats_analysis_is_an_analysis_error():
    ctx = MaskContext(n_codebooks=2, n_frames=20)
    with pytest.raises(AnalysisError, match="beats"):
        Beat()(ctx)


def test_beats_analysis_of_the_wrong_type_is_an_analysis_error():
    ctx = MaskContext(n_codebooks=2, n_frames=20, analyses={"beats": lambda: [0.5, 1.0]})
    with pytest.raises(AnalysisError, match="beat.*list"):
        Beat()(ctx)


@pytest.mark.parametrize("params, bad", [
    ({"before": -0.01}, "before"), ({"after": -1}, "after"), ({"every": 0}, "every"),
    ({"edges": "wrap"}, "edges"), ({"downbeats_only": "yes"}, "downbeats_only"),
])
def test_bad_parameters_name_the_generator_and_parameter(params, bad):
    with pytest.raises(ParameterError, match=f"beat: {bad}"):
        build_mask_generator({"beat": params})


def test_beat_is_registered_and_builds_from_plain_data():
    generator = build_mask_generator({"beat": {"after": 0.05, "before": 0, "downbeats_only": True}})
    assert generator == Beat(before=0.0, after=0.05, downbeats_only=True)


def test_the_analysis_runs_once_per_context_however_many_masks_read_it():
    calls = []

    def beats():
        calls.append(1)
        return Beats(times=[0.5, 1.0], downbeats=[0.5], meter=4)

    ctx = MaskContext(n_codebooks=2, n_frames=100, analyses={"beats": beats})
    Beat()(ctx), Beat(downbeats_only=True)(ctx), ctx.beats
    assert len(calls) == 1


@PROPS
@given(st.integers(1, 60), st.lists(st.tuples(st.integers(-80, 80), st.integers(0, 80)), max_size=12),
       st.sampled_from(["upstream", "clamp"]))
def test_span_frames_is_the_union_of_python_slices(n_frames, spans, edges):
    starts = torch.tensor([s for s, _ in spans], dtype=torch.int64)
    stops = torch.tensor([s + w for s, w in spans], dtype=torch.int64)
    expected = [False] * n_frames
    for s, w in spans:
        if edges == "upstream":  # Python slice semantics, negative bounds included
            expected[s:s + w] = [True] * len(expected[s:s + w])
        else:  # absolute frames, clipped to the grid
            for j in range(max(s, 0), min(s + w, n_frames)):
                expected[j] = True
    assert span_frames(n_frames, starts, stops, edges).tolist() == expected


@PROPS
@given(beat_lists(), st.floats(0.0, 1.0), st.integers(0, 2**31 - 1))
def test_dropout_only_thins_the_beat_windows_and_is_seeded(case, p, seed):
    n_frames, sr, hop, times, downbeats = case
    beats = Beats(times=times, downbeats=downbeats)

    def ctx():
        return MaskContext(n_codebooks=3, n_frames=n_frames, sample_rate=sr, hop_length=hop, seed=seed,
                           analyses={"beats": lambda: beats})

    full = kept(Beat()(ctx()))
    thinned = kept(Beat(dropout=p)(ctx()))
    assert all(f or not t for f, t in zip(full, thinned))  # nothing kept outside the windows
    assert thinned == kept(Beat(dropout=p)(ctx()))
    if p == 1.0:
        assert not any(thinned)
    if p == 0.0:
        assert thinned == full
