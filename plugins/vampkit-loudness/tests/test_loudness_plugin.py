"""vampkit-loudness: the conformance kit, and what `loudness` keeps on hand-built inputs."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import vampkit
from vampkit.testing import check_mask_generator, noise_audio
from vampkit_loudness import Loudness, frame_levels_db

HOP = 768


def ctx_with(audio, n_frames, n_codebooks=3, hop=HOP):
    return vampkit.MaskContext(n_codebooks=n_codebooks, n_frames=n_frames, sample_rate=44100, hop_length=hop,
                               audio_loader=lambda: audio)


def blocks(amplitudes, hop=HOP, channels=1):
    """Constant-level audio: one block of `hop` samples per amplitude (DC, so RMS == amplitude)."""
    return torch.tensor(amplitudes, dtype=torch.float32).repeat_interleave(hop).expand(channels, -1).clone()


def kept_frames(mask):
    assert bool((mask.tensor == mask.tensor[0]).all()), "loudness keeps whole frames"
    return "".join("0" if generated else "1" for generated in mask.tensor[0].tolist())


def test_passes_the_conformance_kit():
    check_mask_generator(Loudness, audio=noise_audio, max_examples=20,
                         invalid=[{"threshold_db": 3.0}, {"threshold_db": float("nan")}, {"quantile": 1.5},
                                  {"quantile": -0.1}, {"keep": "medium"}])


def test_quantile_form_passes_the_conformance_kit():
    check_mask_generator(Loudness, params={"quantile": 0.6, "keep": "quiet"}, audio=noise_audio, max_examples=10)


def test_is_listed_by_the_plugin_that_installed_it():
    assert vampkit.plugins.registered("masks")["loudness"].plugin == "loudness"


def test_frame_levels_are_rms_in_db():
    levels = frame_levels_db(blocks([1.0, 0.1, 0.01, 0.0]), 4, HOP)
    assert levels[:3].tolist() == pytest.approx([0.0, -20.0, -40.0], abs=1e-6)
    assert levels[3] == pytest.approx(-200.0)  # silence floors at 1e-10


def test_sine_level_is_minus_three_db():
    t = torch.arange(HOP * 8, dtype=torch.float64)
    sine = torch.sin(2 * math.pi * t / 96).unsqueeze(0)  # 96-sample period: 8 whole periods per frame
    assert frame_levels_db(sine, 8, HOP).tolist() == pytest.approx([20 * math.log10(math.sqrt(0.5))] * 8, abs=1e-3)


def test_keeps_frames_at_or_above_the_threshold():
    audio = blocks([0.5, 0.001, 0.05, 0.0316228, 0.0, 1.0])  # -6, -60, -26, -30, silence, 0 dB
    mask = Loudness(threshold_db=-30.0)(ctx_with(audio, 6))
    assert kept_frames(mask) == "101101"


def test_quiet_keeps_the_complement():
    audio = blocks([0.5, 0.001, 0.05, 0.02, 0.0, 1.0])
    loud = Loudness(threshold_db=-30.0)(ctx_with(audio, 6))
    quiet = Loudness(threshold_db=-30.0, keep="quiet")(ctx_with(audio, 6))
    assert quiet.equals(~loud)


def test_channels_are_averaged():
    audio = torch.stack([blocks([0.2, 0.2])[0], blocks([0.2, -0.2])[0]])  # cancels in frame 1
    assert kept_frames(Loudness(threshold_db=-40.0)(ctx_with(audio, 2))) == "10"


def test_audio_shorter_than_the_grid_reads_as_silence():
    assert kept_frames(Loudness(threshold_db=-60.0)(ctx_with(blocks([0.5, 0.5]), 4))) == "1100"


def test_audio_longer_than_the_grid_is_cut():
    assert kept_frames(Loudness(threshold_db=-60.0)(ctx_with(blocks([0.5, 0.0, 0.5]), 2))) == "10"


@settings(max_examples=30, deadline=None)
@given(levels=st.lists(st.floats(-90, 0), min_size=1, max_size=60, unique=True), q=st.floats(0, 1))
def test_quantile_keeps_the_loudest_share(levels, q):
    audio = blocks([10 ** (db / 20) for db in levels])
    mask = Loudness(quantile=q)(ctx_with(audio, len(levels)))
    kept = mask.kept[0]
    measured = frame_levels_db(audio, len(levels), HOP)
    assert bool((measured[kept].min() if kept.any() else 0) >= (measured[~kept].max() if (~kept).any() else -1e9))
    assert kept.sum() >= max(1, math.floor((1 - q) * len(levels)))  # the loudest frame is always kept


def test_without_audio_the_error_says_so():
    ctx = vampkit.MaskContext(n_codebooks=2, n_frames=4)
    with pytest.raises(vampkit.AnalysisError, match="audio"):
        Loudness()(ctx)


def test_bad_audio_shape_is_an_audio_error():
    with pytest.raises(vampkit.AudioError, match="loudness"):
        Loudness()(ctx_with(torch.zeros(1, 2, 3 * HOP), 3))


@pytest.mark.parametrize("params, key", [({"threshold_db": 6.0}, "threshold_db"), ({"quantile": 2.0}, "quantile")])
def test_invalid_parameters_name_the_parameter(params, key):
    with pytest.raises(vampkit.ParameterError, match=key) as info:
        vampkit.build_mask_generator({"loudness": params})
    assert info.value.path[-1] == key


def test_composes_with_builtins_from_plain_data():
    audio = blocks([0.5, 0.0, 0.5, 0.5, 0.0, 0.5, 0.5])
    gen = vampkit.build_mask_generator({"any-of": [{"loudness": {"threshold_db": -20.0}}, {"periodic": {"period": 3}}]})
    # loudness keeps 1011011, periodic(3) keeps 1001001: any-of keeps only what both keep
    assert kept_frames(gen(ctx_with(audio, 7))) == "1001001"
