"""madmom through vampkit: the compatibility layer, and beat/downbeat/meter accuracy on
synthesised click tracks and drum grooves (kick, snare, hats, a bass note per bar)."""

import numpy as np
import pytest

from vampkit import ParameterError, build_mask_generator
from vampkit.beats import Beats
from vampkit.beats._madmom_compat import patch_source
from vampkit.beats.base import bar_positions
from vampkit.beats.madmom import MadmomTracker, snap
from vampkit.params import build

SR = 44100


# -- signals -----------------------------------------------------------------------------
def _place(out, sound, at):
    i = int(round(at * SR))
    n = min(len(sound), len(out) - i)
    if n > 0:
        out[i:i + n] += sound[:n]


def _decay(seconds, tau):
    t = np.arange(int(seconds * SR)) / SR
    return t, np.exp(-t / tau)


def click_track(bpm, meter=4, seconds=10.0, start=0.25):
    """Clicks on every beat (higher on the first of each bar); returns audio, beats, downbeats."""
    beats = np.arange(start, seconds - 0.05, 60.0 / bpm)
    out = np.zeros(int(seconds * SR))
    t, env = _decay(0.03, 0.005)
    for k, at in enumerate(beats):
        _place(out, np.sin(2 * np.pi * (1500 if k % meter == 0 else 1000) * t) * env, at)
    return (0.5 * out).astype(np.float32), beats, beats[::meter]


def drum_groove(bpm, meter=4, seconds=11.0, start=0.25, seed=0):
    """Kick on 1 (and 3 in 4/4), snare on the other beats, hats on eighths, a bass note per bar."""
    rng = np.random.default_rng(seed)
    period = 60.0 / bpm
    beats = np.arange(start, seconds - 0.05, period)
    out = np.zeros(int(seconds * SR))
    t, env = _decay(0.35, 0.07)
    kick = np.sin(2 * np.pi * (45 * t + 2.4 * (1 - np.exp(-t / 0.04)))) * env
    t, env = _decay(0.2, 0.04)
    snare = (0.6 * rng.standard_normal(len(t)) + 0.5 * np.sin(2 * np.pi * 190 * t)) * env
    t, env = _decay(0.05, 0.008)
    hat = np.diff(rng.standard_normal(len(t) + 1)) * env * 0.25
    roots = (55.0, 43.65, 65.41, 49.0)
    for k, at in enumerate(beats):
        position = k % meter
        _place(out, kick if position == 0 or (meter == 4 and position == 2) else snare, at)
        _place(out, hat, at)
        _place(out, 0.6 * hat, at + period / 2)
        if position == 0:
            tb = np.arange(int(min(meter * period, seconds - at) * SR)) / SR
            f = roots[(k // meter) % len(roots)]
            _place(out, 0.4 * (np.sin(2 * np.pi * f * tb) + 0.5 * np.sin(4 * np.pi * f * tb)) * np.exp(-tb / 1.2), at)
    out /= np.abs(out).max() * 1.25
    return out.astype(np.float32), beats, beats[::meter]


SIGNALS = {
    "clicks-120-4/4": (click_track, 120, 4, 10.0),
    "groove-90-4/4": (drum_groove, 90, 4, 12.0),
    "groove-97-4/4": (drum_groove, 97, 4, 11.0),
    "groove-140-3/4": (drum_groove, 140, 3, 10.0),
}
GROOVES = [name for name in SIGNALS if name.startswith("groove")]


def recall(found, truth, tolerance=0.05):
    """Fraction of true times with a found time within ``tolerance`` seconds."""
    found = np.asarray(found)
    if not len(found):
        return 0.0
    return float((np.abs(found[:, None] - truth[None, :]).min(axis=0) <= tolerance).mean())


@pytest.fixture(scope="module")
def tracked():
    """Each signal tracked once per session: name -> (beats, downbeats, meter, Beats)."""
    results = {}
    for name, (make, bpm, meter, seconds) in SIGNALS.items():
        audio, beats, downbeats = make(bpm, meter, seconds)
        results[name] = (beats, downbeats, meter, MadmomTracker().track(audio, SR))
    return results


# -- accuracy (the bundled RNNs; ~3-6 s per signal) ------------------------------------------
@pytest.mark.madmom
@pytest.mark.slow
@pytest.mark.parametrize("name", list(SIGNALS))
def test_madmom_finds_95_percent_of_beats_within_50_ms(tracked, name):
    beats, _, _, found = tracked[name]
    assert recall(found.times, beats) >= 0.95
    assert recall(beats, np.asarray(found.times)) >= 0.95  # and few spurious ones


@pytest.mark.madmom
@pytest.mark.slow
@pytest.mark.parametrize("name", GROOVES)
def test_madmom_finds_the_downbeats_and_the_meter_of_grooves(tracked, name):
    _, downbeats, meter, found = tracked[name]
    assert found.meter == meter
    assert recall(found.downbeats, downbeats) >= 0.95
    assert recall(downbeats, np.asarray(found.downbeats)) >= 0.95


@pytest.mark.madmom
@pytest.mark.slow
@pytest.mark.parametrize("name", GROOVES)
def test_bar_positions_count_beats_from_each_downbeat(tracked, name):
    _, _, meter, found = tracked[name]
    positions = np.asarray(found.bar_positions)
    assert len(positions) == len(found.times) and found.tracker == "madmom"
    on_downbeat = np.isin(found.times, found.downbeats)
    assert (positions[on_downbeat] == 1).all() and (positions[~on_downbeat] != 1).all()
    assert set(positions.tolist()) == set(range(1, meter + 1))


@pytest.mark.madmom
@pytest.mark.slow
def test_beat_mask_on_a_tracked_groove_keeps_frames_at_its_downbeats(tracked):
    from vampkit import MaskContext

    _, downbeats, _, found = tracked["groove-97-4/4"]
    ctx = MaskContext(n_codebooks=4, n_frames=int(np.ceil(11.0 * SR / 768)), analyses={"beats": lambda: found})
    mask = build_mask_generator({"beat": {"downbeats_only": True, "before": 0.0, "after": 0.05}})(ctx)
    kept = ~mask.tensor[0].numpy()
    run_starts = np.flatnonzero(kept & ~np.r_[False, kept[:-1]])
    assert len(run_starts) == len(downbeats)
    assert np.abs(run_starts - np.ceil(downbeats * SR / 768)).max() <= 1
    assert kept.sum() == 3 * len(downbeats)  # after=0.05 s -> ceil(2.87) = 3 frames each


# -- tracker parameters and helpers ---------------------------------------------------------
@pytest.mark.parametrize("params, bad", [({"min_bpm": 0}, "min_bpm"), ({"beats_per_bar": [1]}, "beats_per_bar"),
                                         ({"threshold": -0.1}, "threshold"), ({"max_bpm": 40.0}, "max_bpm")])
def test_bad_madmom_parameters_are_named(params, bad):
    with pytest.raises(ParameterError, match=bad):
        build(MadmomTracker, params)


def test_downbeats_snap_onto_nearby_beats_only():
    beats = np.array([0.5, 1.0, 1.5, 2.0])
    assert snap(np.array([0.49, 1.53, 3.0]), beats).tolist() == [0.5, 1.5, 3.0]


def test_bar_positions_count_back_before_the_first_downbeat():
    times = np.arange(8) * 0.5
    assert bar_positions(times, times[[2, 5]], 3).tolist() == [2, 3, 1, 2, 3, 1, 2, 3]
    assert bar_positions(times, [], None).tolist() == []


def test_beats_refuse_negative_times_and_mismatched_positions():
    with pytest.raises(ParameterError, match="beat times"):
        Beats(times=[-0.5])
    with pytest.raises(ParameterError, match="bar positions"):
        Beats(times=[0.5, 1.0], bar_positions=[1])
    beats = Beats(times=[1.0, 0.5], downbeats=[0.5], bar_positions=[1, 2], meter=4, tracker="x")
    assert beats.times == (0.5, 1.0) and Beats.from_dict(beats.to_dict()) == beats and beats.tempo == 120.0


# -- the compatibility layer ----------------------------------------------------------------
def test_patch_replaces_removed_numpy_aliases_but_not_sized_types():
    source = "a = np.float; b = np.int(3); c = np.zeros(2, dtype=np.float32); d = np.int_; e = np.integer\n"
    assert patch_source("madmom.x", source) == (
        "a = float; b = int(3); c = np.zeros(2, dtype=np.float32); d = np.int_; e = np.integer\n")


def test_patch_fixes_collections_in1d_ragged_results_and_pkg_resources():
    assert "collections.abc import MutableSequence" in patch_source(
        "madmom.processors", "from collections import MutableSequence\n")
    assert patch_source("madmom.x", "np.in1d(a, b)") == "np.isin(a, b)"
    fixed = patch_source("madmom.features.downbeats", "best = np.argmax(np.asarray(results)[:, 1])")
    assert fixed == "best = np.argmax(np.asarray([_vk_r[1] for _vk_r in results]))"
    assert "pkg_resources" not in patch_source(
        "madmom", 'import pkg_resources\nv = pkg_resources.get_distribution("madmom").version\n'
        "del pkg_resources, doctest\n")


@pytest.mark.madmom
def test_madmom_imports_through_the_compatibility_layer():
    from vampkit.beats._madmom_compat import import_madmom, madmom_available

    madmom = import_madmom()
    assert madmom_available() and madmom.__version__
    import madmom.features.downbeats as downbeats

    assert downbeats.DBNDownBeatTrackingProcessor
    numpy_version = tuple(int(p) for p in np.__version__.split(".")[:2])
    if numpy_version >= (1, 24):  # the aliases are patched into madmom only, not into numpy
        assert not hasattr(np, "float") and not hasattr(np, "int")
    import collections

    assert not hasattr(collections, "MutableSequence")  # nor into collections


@pytest.mark.madmom
@pytest.mark.slow
def test_a_second_analysis_of_the_same_file_does_not_run_the_rnns_again(tmp_path, monkeypatch):
    from vampkit.analysis import analyses_for

    calls = []
    original = MadmomTracker.activations

    def counting(self, audio, sample_rate):
        calls.append(sample_rate)
        return original(self, audio, sample_rate)

    monkeypatch.setattr(MadmomTracker, "activations", counting)
    audio, beats, _ = click_track(120, seconds=4.0)
    first = analyses_for(audio, SR, cache_dir=tmp_path)["beats"]()
    second = analyses_for(audio.copy(), SR, cache_dir=tmp_path)["beats"]()
    assert calls == [SR] and first == second and first.tracker == "madmom"
    assert recall(second.times, beats) >= 0.95
