"""encode_audio/decode_audio: channels as a batch, loudness handled, rate and length restored."""

from __future__ import annotations

import math

import pytest
import torch

from vampkit import AudioError, CodecError
from vampkit.audio import (
    Audio,
    MonoMixWarning,
    decode_audio,
    encode_audio,
    integrated_loudness,
    load_audio,
    restore_loudness,
    save_audio,
)
from vampkit.codecs import load_codec
from vampkit.codecs.fixtures import make_dac_checkpoint, make_lac_checkpoint


@pytest.fixture(scope="module")
def lac(tmp_path_factory):
    return load_codec(make_lac_checkpoint(tmp_path_factory.mktemp("lac") / "codec.pth"))


@pytest.fixture(scope="module")
def dac(tmp_path_factory):
    return load_codec(make_dac_checkpoint(tmp_path_factory.mktemp("dac") / "weights.pth"))


def _music(channels, sr, seconds, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(sr * seconds)) / sr
    tone = torch.sin(2 * math.pi * 330 * t) * 0.3
    return (tone + 0.05 * torch.randn(channels, t.numel(), generator=g)) * torch.linspace(0.5, 1.0, channels)[:, None]


def test_stereo_file_round_trip_restores_rate_length_and_loudness(tmp_path, lac):
    path = save_audio(tmp_path / "in.wav", _music(2, 22050, 0.5), 22050)
    audio = load_audio(path)
    encoded = encode_audio(lac, audio)
    assert encoded.codes.shape == (2, 4, math.ceil(audio.length * 2 / 768))
    assert (encoded.sample_rate, encoded.length, encoded.channels) == (22050, audio.length, 2)
    assert encoded.loudness == pytest.approx(integrated_loudness(audio.samples, 22050), abs=0.05)
    out = decode_audio(lac, encoded)
    assert isinstance(out, Audio) and out.sample_rate == 22050
    assert out.samples.shape == audio.samples.shape
    assert integrated_loudness(out.samples, 22050) == pytest.approx(encoded.loudness, abs=0.05)
    save_audio(tmp_path / "out.wav", out.samples, out.sample_rate, protect=[path])


def test_mono_file_with_a_downsampling_codec(tmp_path, dac):
    audio = load_audio(save_audio(tmp_path / "in.flac", _music(1, 48000, 0.3), 48000))
    encoded = encode_audio(dac, audio)
    assert encoded.codes.shape == (1, 3, math.ceil(4800 / 320))
    out = decode_audio(dac, encoded)
    assert out.samples.shape == (1, audio.length)


def test_codes_are_those_of_the_loudness_normalised_signal(lac):
    x = _music(1, 44100, 0.3)
    quiet, loud = encode_audio(lac, Audio(x * 0.1, 44100)), encode_audio(lac, Audio(x, 44100))
    assert torch.equal(quiet.codes, loud.codes)
    assert loud.loudness - quiet.loudness == pytest.approx(20.0, abs=0.05)


def test_decoding_other_codes_of_another_length(lac):
    encoded = encode_audio(lac, Audio(_music(2, 44100, 0.2), 44100))
    longer = torch.cat([encoded.codes, encoded.codes], dim=-1)
    assert decode_audio(lac, encoded, longer).samples.shape == (2, longer.shape[-1] * 768)


def test_chunked_encode_audio_equals_whole(lac):
    audio = Audio(_music(2, 44100, 1.0), 44100)
    assert torch.equal(
        encode_audio(lac, audio, chunk_seconds=0.2).codes, encode_audio(lac, audio, chunk_seconds=math.inf).codes
    )


def test_codes_from_another_codec_are_refused(lac, dac):
    encoded = encode_audio(dac, Audio(_music(1, 16000, 0.2), 16000))
    with pytest.raises(CodecError, match="16000 Hz codec"):
        decode_audio(lac, encoded)


def test_silent_audio_is_refused(tmp_path, lac):
    audio = load_audio(save_audio(tmp_path / "silence.wav", torch.zeros(2, 4000), 44100))
    with pytest.raises(AudioError, match=r"silence\.wav' is silent"):
        encode_audio(lac, audio)


def test_audio_shorter_than_one_hop_is_refused(tmp_path, lac):
    audio = load_audio(save_audio(tmp_path / "blip.wav", _music(1, 44100, 0.01), 44100))
    with pytest.raises(AudioError, match=r"blip\.wav' is shorter than one codec frame: 441 samples"):
        encode_audio(lac, audio)


def test_nan_in_memory_audio_is_refused(lac):
    x = _music(1, 44100, 0.1)
    x[0, 10] = float("nan")
    with pytest.raises(AudioError, match="NaN"):
        encode_audio(lac, Audio(x, 44100))


def test_impossible_rate_of_in_memory_audio_is_refused(lac):
    with pytest.raises(AudioError, match="5 Hz is impossible"):
        encode_audio(lac, Audio(_music(1, 44100, 0.1), 5))


def test_loudness_is_restored_by_measuring_the_decoded_audio(lac):
    # upstream's restore: whatever gain the codec applied, the output is re-measured and
    # normalised to the input's loudness (not the inverse of the encoding gain)
    audio = Audio(_music(1, 44100, 0.5) * 0.05, 44100)
    encoded = encode_audio(lac, audio)
    out = decode_audio(lac, encoded, encoded.codes.flip(-1))
    assert integrated_loudness(out.samples, 44100) == pytest.approx(encoded.loudness, abs=0.05)


def test_restore_leaves_audio_below_the_gate_unchanged():
    quiet = torch.full((1, 44100), 1e-6)
    assert torch.equal(restore_loudness(quiet, 44100, -20.0), quiet)


def test_mono_encoding_mixes_channels_into_one_row(lac):
    encoded = encode_audio(lac, Audio(_music(2, 44100, 0.3), 44100), mono=True)
    assert encoded.codes.shape[0] == encoded.channels == 1
    assert decode_audio(lac, encoded).samples.shape == (1, int(44100 * 0.3))


def test_stereo_whose_channels_cancel_in_the_mono_mix_warns(lac):
    left = _music(1, 44100, 0.3)
    with pytest.warns(MonoMixWarning, match="cancel in the mono mix"):
        encode_audio(lac, Audio(torch.cat([left, -left + 1e-4 * left]), 44100), mono=True)


def test_ordinary_stereo_mixes_without_a_warning(lac, recwarn):
    encode_audio(lac, Audio(_music(2, 44100, 0.3), 44100), mono=True)
    assert not [w for w in recwarn if issubclass(w.category, MonoMixWarning)]


def test_channels_that_cancel_exactly_are_refused_as_silent(lac):
    left = _music(1, 44100, 0.3)
    with pytest.warns(MonoMixWarning), pytest.raises(AudioError, match="is silent"):
        encode_audio(lac, Audio(torch.cat([left, -left]), 44100), mono=True)
