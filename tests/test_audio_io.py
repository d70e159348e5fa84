"""Audio files: reading the formats, atomic writing, never over an input, every bad file."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from vampkit import AudioError
from vampkit.audio import Audio, load_audio, save_audio


def _noise(channels, n, seed=0):
    return (0.2 * torch.randn(channels, n, generator=torch.Generator().manual_seed(seed))).clamp(-1, 1)


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
@pytest.mark.parametrize("channels", [1, 2])
def test_round_trip_through_each_format(tmp_path, ext, channels):
    if ext == "mp3" and "MP3" not in soundfile.available_formats():
        pytest.skip("this libsndfile has no MP3 support")
    samples = _noise(channels, 8000)
    path = save_audio(tmp_path / f"x.{ext}", samples, 16000)
    audio = load_audio(path)
    assert isinstance(audio, Audio) and audio.path == path
    assert audio.sample_rate == 16000 and audio.channels == channels
    assert audio.samples.dtype == torch.float32
    if ext in ("wav", "flac"):
        assert audio.length == 8000
        assert torch.allclose(audio.samples, samples, atol=1 / 2**14)
    else:  # lossy codecs may add priming samples
        assert abs(audio.length - 8000) < 3000


def test_write_is_atomic_and_leaves_no_temp_file(tmp_path):
    out = tmp_path / "out.wav"
    out.write_bytes(b"old")
    save_audio(out, _noise(2, 100), 44100)
    assert load_audio(out).length == 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path):
    out = tmp_path / "out.wav"
    save_audio(out, _noise(1, 100), 44100)
    with pytest.raises(AudioError, match="NaN"):
        save_audio(out, torch.full((1, 10), float("nan")), 44100)
    assert load_audio(out).length == 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]


def test_refuses_to_overwrite_an_input(tmp_path):
    src = save_audio(tmp_path / "in.wav", _noise(1, 100), 44100)
    with pytest.raises(AudioError, match=r"refusing to write .*in\.wav.*input"):
        save_audio(tmp_path / "sub" / ".." / "in.wav", _noise(1, 100), 44100, protect=[src])
    assert load_audio(src).length == 100


def test_pcm_output_is_clipped_not_wrapped(tmp_path):
    path = save_audio(tmp_path / "loud.wav", torch.tensor([[2.0, -3.0, 0.5]]), 8000)
    assert torch.allclose(load_audio(path).samples, torch.tensor([[1.0, -1.0, 0.5]]), atol=1e-4)


def test_unsupported_output_format_and_missing_folder(tmp_path):
    with pytest.raises(AudioError, match="unsupported output format '.xyz'"):
        save_audio(tmp_path / "a.xyz", _noise(1, 10), 8000)
    with pytest.raises(AudioError, match="does not exist"):
        save_audio(tmp_path / "nope" / "a.wav", _noise(1, 10), 8000)


# -- bad input files: each names the file and the problem ----------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match=r"absent\.wav' does not exist"):
        load_audio(tmp_path / "absent.wav")


def test_empty_file(tmp_path):
    (tmp_path / "e.wav").write_bytes(b"")
    with pytest.raises(AudioError, match=r"e\.wav' is empty"):
        load_audio(tmp_path / "e.wav")


def test_truncated_wav(tmp_path):
    data = save_audio(tmp_path / "full.wav", _noise(2, 4000), 16000).read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match=r"cut\.wav' is truncated: .*4000 frames"):
        load_audio(tmp_path / "cut.wav")


def test_truncated_flac(tmp_path):
    data = save_audio(tmp_path / "full.flac", _noise(2, 4000), 16000).read_bytes()
    (tmp_path / "cut.flac").write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match=r"cut\.flac.*(truncated|corrupt)"):
        load_audio(tmp_path / "cut.flac")


def test_corrupt_and_unsupported_files(tmp_path):
    (tmp_path / "noise.wav").write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(AudioError, match=r"noise\.wav' cannot be read"):
        load_audio(tmp_path / "noise.wav")
    (tmp_path / "notes.txt").write_text("not audio at all\n" * 20)
    with pytest.raises(AudioError, match=r"notes\.txt' cannot be read: not an audio format"):
        load_audio(tmp_path / "notes.txt")


def test_file_without_samples(tmp_path):
    soundfile.write(tmp_path / "none.wav", np.zeros((0, 1), dtype=np.float32), 16000)
    with pytest.raises(AudioError, match=r"none\.wav' contains no samples"):
        load_audio(tmp_path / "none.wav")


def test_nan_and_infinite_samples(tmp_path):
    data = np.zeros((100, 1), dtype=np.float32)
    data[5] = np.nan
    data[7] = np.inf
    soundfile.write(tmp_path / "nan.wav", data, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav' contains NaN or infinite samples"):
        load_audio(tmp_path / "nan.wav")


def test_impossible_sample_rate(tmp_path):
    soundfile.write(tmp_path / "slow.wav", np.zeros((100, 1), dtype=np.float32), 100)
    with pytest.raises(AudioError, match=r"slow\.wav': sample rate 100 Hz is impossible"):
        load_audio(tmp_path / "slow.wav")


def test_a_name_no_file_can_have_is_one_short_audio_error():
    with pytest.raises(AudioError, match=r"not a usable path \(File name too long\)") as info:
        load_audio("a" * 5000)
    assert len(str(info.value)) < 250
