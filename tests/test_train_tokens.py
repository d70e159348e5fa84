"""Token data sets: audio folders to memory-mapped codec tokens, resumable, with excerpt loudness."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from _train_helpers import tiny_codec

from vampkit.cli import cli
from vampkit.codecs import load_codec
from vampkit.training.tokens import (
    DatasetError,
    ExcerptSampler,
    TokenDataset,
    encode_dataset,
    write_tokens,
)

SR = 22050


def tone(seconds: float, amplitude: float = 0.3, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("audio")
    soundfile.write(root / "a.wav", np.stack([tone(1.0), tone(1.0, 0.1)], 1), SR)
    (root / "sub").mkdir()
    soundfile.write(root / "sub" / "b.flac", tone(0.5, freq=440.0), SR)
    (root / "broken.wav").write_bytes(b"RIFF\x00\x00 not audio")
    codec, _ = tiny_codec(root)
    return {"root": root, "codec": load_codec(str(codec)), "codec_path": codec}


def test_encodes_every_readable_file_and_lists_the_rest(folder, tmp_path):
    report = encode_dataset(folder["root"], tmp_path / "tok", folder["codec"])
    assert sorted(report.encoded) == ["a.wav", "sub/b.flac"]
    assert [name for name, _ in report.skipped] == ["broken.wav"]
    manifest = json.loads((tmp_path / "tok" / "manifest.json").read_text())
    assert manifest["skipped"][0]["source"] == "broken.wav"
    assert manifest["codec"]["n_codebooks"] == 4 and manifest["codec"]["hop_length"] == 768
    data = TokenDataset.open(tmp_path / "tok")
    lengths = {f.source: f.n_frames for f in data.files}
    assert lengths == {"a.wav": -(-44100 // 768), "sub/b.flac": -(-22050 // 768)}
    assert isinstance(data.files[0].codes, np.memmap)


def test_tokens_equal_encode_audio_of_the_mono_mix(folder, tmp_path):
    from vampkit.audio import encode_audio, load_audio

    encode_dataset(folder["root"] / "a.wav", tmp_path / "tok", folder["codec"])
    audio = load_audio(folder["root"] / "a.wav")
    expected = encode_audio(folder["codec"], audio, mono=True).codes[0]
    stored = TokenDataset.open(tmp_path / "tok").files[0].codes
    assert np.array_equal(np.asarray(stored), expected.numpy())


def test_rerun_skips_finished_files(folder, tmp_path):
    encode_dataset(folder["root"], tmp_path / "tok", folder["codec"])
    again = encode_dataset(folder["root"], tmp_path / "tok", folder["codec"])
    assert again.encoded == () and sorted(again.reused) == ["a.wav", "sub/b.flac"]


def test_a_folder_of_other_files_is_not_written_into(folder, tmp_path):
    (tmp_path / "mine.txt").write_text("x")
    with pytest.raises(DatasetError, match="not a token folder"):
        encode_dataset(folder["root"], tmp_path, folder["codec"])


def test_another_codec_cannot_add_to_a_token_folder(folder, tmp_path):
    encode_dataset(folder["root"] / "a.wav", tmp_path / "tok", folder["codec"])
    other, _ = tiny_codec(tmp_path, vocab=64)
    with pytest.raises(DatasetError, match="codebook_size 32, this codec has 64"):
        encode_dataset(folder["root"], tmp_path / "tok", load_codec(str(other)))


def test_unfinished_folder_says_how_to_finish(tmp_path):
    (tmp_path / "shards").mkdir()
    with pytest.raises(DatasetError, match="encode-dataset` again"):
        TokenDataset.open(tmp_path)


def test_excerpts_skip_quiet_stretches_like_upstreams_cutoff(folder, tmp_path):
    from vampkit.training.tokens import CodecInfo

    info = CodecInfo.of(folder["codec"])
    write_tokens(tmp_path / "tok", info, {"x": torch.zeros(4, 400, dtype=torch.long)})
    energies = np.full(70, 1e-9, dtype=np.float32)  # -90 LUFS ...
    energies[40:] = 1e-2  # ... except from 4 s on: -20.7 LUFS
    np.save(next((tmp_path / "tok" / "shards").glob("*.loud.npy")), energies)
    sampler = ExcerptSampler(TokenDataset.open(tmp_path / "tok"), 57, 4, loudness_cutoff=-30.0, num_tries=50)
    starts = [sampler.draw(torch.Generator().manual_seed(s))[1] for s in range(30)]
    # gated loudness: an excerpt passes once a whole 400 ms block of it lies in the loud part
    assert all(start / info.frame_rate + 57 / info.frame_rate >= 4.4 - 1e-6 for start in starts)
    assert sampler.excerpt_loudness(sampler.dataset.files[0], 0) == -70.0


def test_cli_encodes_a_folder(folder, tmp_path):
    result = CliRunner().invoke(cli, ["encode-dataset", str(folder["root"]), "--out", str(tmp_path / "tok"),
                                      "--codec", str(folder["codec_path"]), "-q"])
    assert result.exit_code == 0, result.output
    assert "2 encoded, 0 already done, 1 skipped" in result.output


@settings(max_examples=30, deadline=None)
@given(lengths=st.lists(st.integers(1, 90), min_size=1, max_size=4), n_frames=st.integers(1, 60),
       seed=st.integers(0, 2**31))
def test_excerpts_lie_inside_files_long_enough(tmp_path_factory, lengths, n_frames, seed):
    from vampkit.training.tokens import CodecInfo

    info = CodecInfo("lac", 44100, 768, 2, 16, "0" * 64)
    root = tmp_path_factory.mktemp("tok")
    write_tokens(root / "t", info, {f"f{i}": torch.randint(0, 16, (2, n)) for i, n in enumerate(lengths)})
    data = TokenDataset.open(root / "t")
    if max(lengths) < n_frames:
        with pytest.raises(DatasetError, match="no file is as long"):
            ExcerptSampler(data, n_frames, 2)
        return
    sampler = ExcerptSampler(data, n_frames, 2, loudness_cutoff=-30.0)
    g = torch.Generator().manual_seed(seed)
    picks = [sampler.draw(g) for _ in range(5)]
    for index, start in picks:
        assert data.files[index].n_frames >= n_frames and 0 <= start <= data.files[index].n_frames - n_frames
    assert sampler.codes(picks).shape == (5, 2, n_frames)


def test_default_loudness_cutoff_is_upstreams_per_model_kind():
    from vampkit.training.tokens import default_loudness_cutoff

    assert default_loudness_cutoff(0) == -30.0  # coarse: no conditioning codebooks
    assert default_loudness_cutoff(4) == -40.0  # coarse-to-fine
