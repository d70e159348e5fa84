"""Resampling (soxr) and loudness (BS.1770 as upstream measures it)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vampkit import AudioError
from vampkit.audio import integrated_loudness, limit_peak, normalize_loudness, resample


def _sine(freq, sr, seconds, channels=1):
    t = torch.arange(int(sr * seconds)) / sr
    return torch.sin(2 * math.pi * freq * t).repeat(channels, 1) * 0.5


def _peak_hz(x, sr):
    spectrum = torch.fft.rfft(x[0] * torch.hann_window(x.shape[-1], periodic=False)).abs()
    return float(spectrum.argmax()) * sr / x.shape[-1]


@pytest.mark.parametrize(("src", "dst"), [(22050, 44100), (48000, 16000), (44100, 24000)])
def test_resampling_both_ways_keeps_pitch_and_scales_length(src, dst):
    x = _sine(440.0, src, 1.0, channels=2)
    y = resample(x, src, dst)
    assert y.shape == (2, round(x.shape[-1] * dst / src)) and y.dtype == torch.float32
    assert _peak_hz(y, dst) == pytest.approx(440.0, abs=2.0)
    back = resample(y, dst, src)
    assert torch.allclose(back[:, 2000:-2000], x[:, 2000:-2000], atol=2e-3)


def test_resampling_to_the_same_rate_is_identity():
    x = torch.randn(3, 1, 100)
    assert torch.equal(resample(x, 16000, 16000), x)


def test_resampling_keeps_leading_dims():
    assert resample(torch.randn(2, 1, 441), 44100, 16000).shape == (2, 1, 160)


def test_impossible_rates_are_refused():
    with pytest.raises(AudioError, match="0 Hz is impossible"):
        resample(torch.zeros(1, 10), 0, 16000)
    with pytest.raises(AudioError, match="not a whole number"):
        resample(torch.zeros(1, 10), 16000, 22050.5)


#: audiotools 0.7.2 ``AudioSignal(x[None], sr).loudness()`` of the signals below (measured once;
#: importing audiotools costs ~13 s, too slow for every run)
AUDIOTOOLS_LOUDNESS = [(88323, 44100, 2, -18.23101043701172), (20000, 44100, 1, -21.719039916992188), (3000, 16000, 1, -25.62350082397461)]


def test_loudness_matches_upstream_audiotools():
    g = torch.Generator().manual_seed(0)
    for n, sr, ch, ref in AUDIOTOOLS_LOUDNESS:
        x = torch.randn(ch, n, generator=g) * 0.1 * torch.linspace(0.05, 1, n)
        assert integrated_loudness(x, sr) == pytest.approx(ref, abs=0.01)


def test_loudness_differs_from_pyloudnorm_only_by_its_last_block_rounding():
    import pyloudnorm

    x = torch.randn(2, 44100 * 2, generator=torch.Generator().manual_seed(5)) * 0.1
    ref = pyloudnorm.Meter(44100).integrated_loudness(x.T.double().numpy())  # whole blocks: same count
    assert integrated_loudness(x, 44100) == pytest.approx(ref, abs=1e-6)


def test_full_scale_sine_reads_about_minus_3_lufs():
    # BS.1770: a 997 Hz full-scale sine on one channel reads -3.01 LKFS
    x = _sine(997.0, 48000, 2.0) * 2
    assert integrated_loudness(x, 48000) == pytest.approx(-3.01, abs=0.05)


def test_silence_is_floored_at_minus_70():
    assert integrated_loudness(torch.zeros(2, 44100), 44100) == -70.0


@settings(max_examples=10, deadline=None)
@given(target=st.floats(-40, -10), level=st.floats(0.01, 0.9))
def test_normalising_reaches_the_target(target, level):
    x = _sine(220.0, 16000, 1.0, channels=2) * level
    y, before = normalize_loudness(x, 16000, target)
    assert before == pytest.approx(integrated_loudness(x, 16000))
    assert integrated_loudness(y, 16000) == pytest.approx(target, abs=0.01)


def test_peak_limit_is_per_channel():
    x = torch.tensor([[0.5, -2.0], [0.1, 0.2]])
    assert torch.allclose(limit_peak(x), torch.tensor([[0.25, -1.0], [0.1, 0.2]]))


@settings(max_examples=25, deadline=None)
@given(seconds=st.floats(0.5, 3.0), level=st.floats(0.001, 1.0), seed=st.integers(0, 2**16))
def test_the_training_sets_block_loudness_is_the_integrated_loudness(seconds, level, seed):
    """Token data sets store the blocks' energies and gate them per excerpt: over a whole mono
    file that gives exactly the file's integrated loudness (one BS.1770 implementation)."""
    from vampkit.audio.loudness import block_energies, gated_loudness

    g = torch.Generator().manual_seed(seed)
    x = level * torch.randn(1, int(seconds * 16000), generator=g) * torch.linspace(0, 1, int(seconds * 16000)) ** 3
    stored = block_energies(x, 16000)[0].astype("float32")  # as encode-dataset keeps them
    assert gated_loudness(stored) == pytest.approx(integrated_loudness(x, 16000), abs=1e-3)
