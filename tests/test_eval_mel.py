"""vampkit's mel distance equals audiotools' MelSpectrogramLoss() defaults (upstream's eval)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from signals import click_track

from vampkit.eval.mel import mel_distance


@pytest.fixture(scope="module")
def audiotools_loss():
    from vampkit.codecs._torchaudio_compat import import_torchaudio

    import_torchaudio()
    from audiotools import AudioSignal
    from audiotools.metrics.spectral import MelSpectrogramLoss

    loss = MelSpectrogramLoss()
    return lambda x, y, sr: float(loss(AudioSignal(x.clone(), sr), AudioSignal(y.clone(), sr)))


def _pairs():
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(1, 22050, generator=g) * 0.3
    yield "noise", noise, noise + 0.05 * torch.randn(1, 22050, generator=g), 44100
    clicks, _ = click_track(bpm=100, seconds=1.0)
    shifted, _ = click_track(bpm=130, seconds=1.0)
    yield "clicks", torch.from_numpy(clicks)[None], torch.from_numpy(shifted)[None], 44100
    t = torch.arange(16000) / 16000
    yield "tones-16k", torch.sin(2 * np.pi * 440 * t)[None] * 0.5, torch.sin(2 * np.pi * 445 * t)[None] * 0.4, 16000


@pytest.mark.parametrize("name,x,y,sr", list(_pairs()), ids=lambda v: v if isinstance(v, str) else "")
def test_mel_distance_equals_audiotools_within_1e_4(name, x, y, sr, audiotools_loss):
    ours = mel_distance(x, y, sr)
    assert ours == pytest.approx(audiotools_loss(x, y, sr), rel=1e-4)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), seconds=st.floats(0.3, 1.2), sr=st.sampled_from([16000, 22050, 44100]),
       level=st.floats(0.01, 1.0), mix=st.floats(0.0, 1.0))
def test_mel_distance_equals_audiotools_on_random_signals(seed, seconds, sr, level, mix, audiotools_loss):
    g = torch.Generator().manual_seed(seed)
    n = int(seconds * sr)
    x = level * torch.randn(1, n, generator=g)
    y = (1 - mix) * x + mix * level * torch.randn(1, n, generator=g)  # from the same signal to another
    assert mel_distance(x, y, sr) == pytest.approx(audiotools_loss(x, y, sr), rel=1e-4, abs=1e-6)


def test_mel_distance_of_a_signal_to_itself_is_zero():
    x = torch.randn(1, 8000, generator=torch.Generator().manual_seed(1))
    assert mel_distance(x, x, 44100) == 0.0


def test_mel_distance_does_not_import_audiotools():
    import subprocess

    code = ("import sys, torch; from vampkit.eval.mel import mel_distance; "
            "mel_distance(torch.ones(1, 4000), torch.zeros(1, 4000), 44100); "
            "assert 'audiotools' not in sys.modules and 'librosa' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
