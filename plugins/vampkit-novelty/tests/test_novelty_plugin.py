"""vampkit-novelty: both hooks register, the analysis finds onsets, the mask passes the kit."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import vampkit
from vampkit.testing import Grid, check_mask_generator, noise_audio
from vampkit_novelty import Novelty, NoveltyPeaks, SpectralNovelty, spectral_novelty
from vampkit_novelty.mask import frames_around

SR, HOP = 44100, 768


def synthetic_novelty(grid: Grid) -> Novelty:
    """A random novelty curve at 100 frames/s covering the grid (test factory for the kit)."""
    generator = torch.Generator().manual_seed(grid.seed)
    return Novelty(torch.rand(int(grid.duration * 100) + 1, generator=generator, dtype=torch.float64), 100.0)


def clicks(times, seconds, sample_rate=SR):
    """Silence with short noise bursts starting at `times` (seconds)."""
    audio = torch.zeros(1, int(seconds * sample_rate))
    generator = torch.Generator().manual_seed(0)
    for t in times:
        start = int(t * sample_rate)
        audio[0, start:start + 2000] = torch.rand(2000, generator=generator) * 2 - 1
    return audio


def test_mask_passes_the_kit_reading_the_analysis():
    check_mask_generator(NoveltyPeaks, analyses={"novelty": synthetic_novelty}, max_examples=15,
                         invalid=[{"threshold": 1.5}, {"width": -1}])


def test_mask_passes_the_kit_computing_from_audio():
    check_mask_generator(NoveltyPeaks, params={"threshold": 0.5, "width": 4}, audio=noise_audio, max_examples=8)


def test_both_hooks_register():
    registry = vampkit.plugins.registered
    assert registry("masks")["novelty"].obj is NoveltyPeaks
    analysis = registry("analyses")["novelty"]
    assert analysis.plugin == "novelty" and isinstance(analysis.obj, SpectralNovelty)


def test_analysis_peaks_at_each_click():
    times = [0.5, 1.25, 2.0]
    novelty = SpectralNovelty()(clicks(times, 3.0), SR)
    assert novelty.frame_rate == SR / 512 and float(novelty.curve.max()) == pytest.approx(1.0)
    peaks = novelty.peak_times(0.5)
    assert len(peaks) == 3
    assert peaks.tolist() == pytest.approx(times, abs=2 * 512 / SR)


def test_silence_has_no_peaks():
    novelty = spectral_novelty(torch.zeros(2, SR), SR)
    assert float(novelty.curve.abs().max()) == 0.0 and novelty.peak_times(0.0).numel() == 0


def test_peak_times_are_local_maxima_above_threshold():
    novelty = Novelty([0.0, 0.2, 1.0, 0.4, 0.4, 0.9, 0.9, 0.1], frame_rate=10.0)
    assert novelty.peak_times(0.3).tolist() == pytest.approx([0.2, 0.5])
    assert novelty.peak_times(0.95).tolist() == pytest.approx([0.2])


def test_mask_keeps_width_frames_around_peaks_from_the_analysis():
    curve = torch.zeros(200)
    curve[[50, 120]] = 1.0  # 100 frames/s: peaks at 0.5 s and 1.2 s
    ctx = vampkit.MaskContext(n_codebooks=2, n_frames=120, sample_rate=SR, hop_length=HOP,
                              analyses={"novelty": lambda: Novelty(curve, 100.0)})
    mask = NoveltyPeaks(threshold=0.5, width=1)(ctx)
    kept = torch.nonzero(mask.kept[0]).reshape(-1).tolist()
    frame = int(0.5 * SR / HOP)  # 28; the grid covers about 2.09 s, so both peaks are on it
    other = int(1.2 * SR / HOP)
    assert kept == [frame - 1, frame, frame + 1, other - 1, other, other + 1]
    assert bool((mask.tensor[0] == mask.tensor[1]).all())


def test_mask_computes_the_curve_from_audio_without_an_analysis():
    audio = clicks([0.5, 1.5], 2.5)
    n_frames = audio.shape[-1] // HOP
    ctx = vampkit.MaskContext(n_codebooks=1, n_frames=n_frames, sample_rate=SR, hop_length=HOP,
                              audio_loader=lambda: audio)
    kept = torch.nonzero(NoveltyPeaks(threshold=0.5, width=0)(ctx).kept[0]).reshape(-1)
    assert kept.tolist() == pytest.approx([0.5 * SR / HOP, 1.5 * SR / HOP], abs=1.5)


def test_a_wrong_analysis_value_is_an_analysis_error():
    ctx = vampkit.MaskContext(n_codebooks=1, n_frames=10, analyses={"novelty": lambda: [0.1, 0.2]})
    with pytest.raises(vampkit.AnalysisError, match="expected a Novelty"):
        NoveltyPeaks()(ctx)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 80), centres=st.lists(st.integers(-5, 90), max_size=8), width=st.integers(0, 6))
def test_frames_around_is_the_union_of_windows(n, centres, width):
    kept = frames_around(n, torch.tensor(centres, dtype=torch.int64), width)
    expected = [any(abs(i - c) <= width for c in centres if 0 <= c < n) for i in range(n)]
    assert kept.tolist() == expected


def test_invalid_analysis_parameters():
    with pytest.raises(vampkit.ParameterError, match="hop"):
        SpectralNovelty(hop=0)


def test_vampkits_analysis_provider_runs_the_registered_analysis():
    audio = clicks([0.5, 1.5], 2.5)
    analyses = vampkit.analyses_for(audio, SR)
    n_frames = audio.shape[-1] // HOP
    ctx = vampkit.MaskContext(n_codebooks=2, n_frames=n_frames, sample_rate=SR, hop_length=HOP, analyses=analyses)
    novelty = ctx.analysis("novelty")
    assert isinstance(novelty, Novelty) and novelty.peak_times(0.5).tolist() == pytest.approx([0.5, 1.5], abs=0.03)
    from_provider = NoveltyPeaks(threshold=0.5)(ctx)
    from_audio = NoveltyPeaks(threshold=0.5)(vampkit.MaskContext(n_codebooks=2, n_frames=n_frames, sample_rate=SR,
                                                                 hop_length=HOP, audio_loader=lambda: audio))
    assert from_provider.equals(from_audio)
