"""Fuzzing audio files (every command reads them): a WAV, FLAC or OGG with bytes changed,
cut or inserted loads as finite float samples or fails with one AudioError, never another
exception, a hang or a huge allocation from a lying header."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import soundfile
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from vampkit import AudioError
from vampkit.audio import load_audio


def _encoded(fmt: str, subtype: str, channels: int) -> bytes:
    t = np.arange(4000) / 8000
    data = np.stack([0.3 * np.sin(2 * np.pi * 220 * (c + 1) * t) for c in range(channels)], 1)
    buffer = io.BytesIO()
    soundfile.write(buffer, data, 8000, format=fmt, subtype=subtype)
    return buffer.getvalue()


ORIGINALS = {"wav16": _encoded("WAV", "PCM_16", 1), "wavfloat": _encoded("WAV", "FLOAT", 2),
             "flac": _encoded("FLAC", "PCM_16", 2), "ogg": _encoded("OGG", "VORBIS", 1)}


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(ORIGINALS)))
    data = bytearray(ORIGINALS[name])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "header", "cut", "insert"]))
        if kind == "flip" and data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        elif kind == "header" and len(data) > 8:  # the fields that sizes and rates live in
            i = draw(st.integers(0, min(63, len(data) - 4)))
            data[i:i + 4] = draw(st.sampled_from([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\xff\xff\xff\x7f",
                                                  b"\x01\x00\x00\x00"]))
        elif kind == "cut":
            data = data[:draw(st.integers(0, len(data)))]
        else:
            i = draw(st.integers(0, len(data)))
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
    return name, bytes(data)


@settings(max_examples=200 * (20 if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz-long" else 1), deadline=None,
          derandomize=os.environ.get("HYPOTHESIS_PROFILE") != "fuzz-long",
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=damaged())
def test_a_damaged_audio_file_loads_or_fails_with_one_audio_error(tmp_path_factory, case):
    name, data = case
    path = tmp_path_factory.mktemp("audio") / f"x.{'ogg' if name == 'ogg' else 'flac' if name == 'flac' else 'wav'}"
    path.write_bytes(data)
    try:
        audio = load_audio(path)
    except AudioError as exc:
        assert str(exc).startswith("audio file") and "\n" not in str(exc).strip()
        event(f"{name}: refused")
        return
    event(f"{name}: loaded")
    samples = audio.samples.numpy()
    assert samples.ndim == 2 and samples.shape[1] > 0 and np.isfinite(samples).all()
    assert audio.sample_rate > 0


@pytest.mark.parametrize("name", sorted(ORIGINALS))
def test_the_undamaged_files_load(tmp_path, name):
    path = tmp_path / f"x.{'ogg' if name == 'ogg' else 'flac' if name == 'flac' else 'wav'}"
    path.write_bytes(ORIGINALS[name])
    assert load_audio(path).samples.shape[1] == 4000
