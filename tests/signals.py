"""Test signals synthesised with numpy (no third-party audio)."""

from __future__ import annotations

import numpy as np

SR = 44100


def click_track(bpm: float = 120.0, seconds: float = 10.0, start: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """A 1 kHz click (5 ms decay) on every beat; returns mono float32 audio and the beat times."""
    times = np.arange(start, seconds - 0.05, 60.0 / bpm)
    out = np.zeros(int(seconds * SR), dtype=np.float32)
    t = np.arange(int(0.03 * SR)) / SR
    click = (np.sin(2 * np.pi * 1000 * t) * np.exp(-t / 0.005)).astype(np.float32)
    for at in times:
        i = int(round(at * SR))
        out[i:i + len(click)] += click[:len(out) - i]
    return 0.5 * out, times
