"""DAC through vampkit: the package's own model, strict loading, published names, registry."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from vampkit import CheckpointError, CodecError, ParameterError, UnknownNameError, WeightsUnavailableError, plugins
from vampkit.codecs import load_codec, read_checkpoint
from vampkit.codecs.dac import DACCodec, dac_url
from vampkit.codecs.fixtures import make_dac_checkpoint, make_lac_checkpoint


@pytest.fixture(scope="module")
def dac_path(tmp_path_factory):
    return make_dac_checkpoint(tmp_path_factory.mktemp("dac") / "weights.pth")


@pytest.fixture(scope="module")
def dac(dac_path):
    return load_codec(dac_path)


@pytest.fixture(scope="module")
def audio():
    return 0.3 * torch.randn(2, 1, 16000, generator=torch.Generator().manual_seed(2))


def test_builtin_codecs_are_registered():
    assert {"dac", "lac"} <= set(plugins.registered("codecs"))


def test_loads_the_packages_own_checkpoint_format(dac):
    assert isinstance(dac, DACCodec)
    assert (dac.sample_rate, dac.hop_length, dac.n_codebooks, dac.codebook_size) == (16000, 320, 3, 64)
    assert dac.frame_rate == 50.0
    assert dac.codebook_tables().shape == (3, 64, 8)


def test_encode_matches_the_packages_own_encode(dac, dac_path, audio):
    from vampkit.codecs._torchaudio_compat import import_dac

    model = import_dac().model.DAC.load(str(dac_path)).eval()
    with torch.inference_mode():
        _, theirs, *_ = model.encode(model.preprocess(audio[..., :7000], 16000))
    assert torch.equal(dac.encode(audio[..., :7000], 16000), theirs)


def test_round_trip_lengths_with_odd_strides(dac, audio):
    codes = dac.encode(audio[..., :1000], 16000)
    assert codes.shape == (2, 3, 4)
    out = dac.decode(codes)
    assert out.shape == (2, 1, 4 * 320)


def test_encode_resamples_other_rates_first(dac, audio):
    codes = dac.encode(audio[..., :11025], 44100)  # 0.25 s -> 4000 samples at 16 kHz
    assert codes.shape[-1] == math.ceil(4000 / 320)


def test_chunked_equals_whole(dac, audio):
    whole = dac.encode(audio, 16000, chunk_seconds=math.inf)
    assert torch.equal(dac.encode(audio, 16000, chunk_seconds=0.1), whole)
    ref = dac.decode(whole, chunk_seconds=math.inf)
    assert torch.allclose(dac.decode(whole, chunk_seconds=0.1), ref, atol=1e-5)


def test_bad_inputs_to_encode_and_decode(dac, audio):
    with pytest.raises(CodecError, match=r"\[batch, 1, samples\]"):
        dac.encode(audio[:, 0], 16000)
    with pytest.raises(CodecError, match="NaN"):
        dac.encode(torch.full((1, 1, 400), float("nan")), 16000)
    with pytest.raises(CodecError, match="outside 0..63"):
        dac.decode(torch.full((1, 3, 4), 64))
    with pytest.raises(CodecError, match="1..3"):
        dac.decode(torch.zeros(1, 4, 4, dtype=torch.long))
    with pytest.raises(CodecError, match="integer codes"):
        dac.decode(torch.zeros(1, 3, 4))
    with pytest.raises(ParameterError, match="chunk_seconds"):
        dac.encode(audio, 16000, chunk_seconds=0)


def test_lac_file_offered_as_dac_is_refused(tmp_path):
    path = make_lac_checkpoint(tmp_path / "codec.pth")
    with pytest.raises(CheckpointError, match="LAC codec"):
        DACCodec.from_checkpoint(read_checkpoint(path))


def test_missing_decoder_key_is_named(tmp_path, dac_path):
    data = torch.load(dac_path, weights_only=True)
    del data["state_dict"]["decoder.model.1.block.3.block.1.weight_v"]
    torch.save(data, tmp_path / "w.pth")
    with pytest.raises(CheckpointError, match=r"missing keys: decoder\.model\.1\.block\.3\.block\.1\.weight_v"):
        load_codec(tmp_path / "w.pth")


def test_published_names_use_the_packages_urls():
    url, name = dac_url("44khz")
    assert url == "https://github.com/descriptinc/descript-audio-codec/releases/download/0.0.1/weights.pth"
    assert name == "weights_44khz_8kbps_0.0.1.pth"
    with pytest.raises(UnknownNameError, match="dac:16khz"):
        dac_url("8khz")


def test_published_model_in_vampkits_cache_loads_without_network(tmp_path, monkeypatch):
    monkeypatch.setenv("VAMPKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VAMPKIT_OFFLINE", "1")
    target = tmp_path / "cache" / "codecs" / "dac"
    target.mkdir(parents=True)
    make_dac_checkpoint(target / "weights_16khz_8kbps_0.0.5.pth")
    codec = load_codec("dac:16khz")
    assert codec.sample_rate == 16000


def test_published_model_offline_names_url_and_destination(tmp_path, monkeypatch):
    monkeypatch.setenv("VAMPKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VAMPKIT_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError) as info:
        load_codec("dac:24khz")
    message = str(info.value)
    assert "0.0.4/weights_24khz.pth" in message and "weights_24khz_8kbps_0.0.4.pth" in message
    assert "place it at" in message


def test_unknown_codec_name_suggests():
    with pytest.raises(UnknownNameError, match="did you mean|known"):
        load_codec("dak:44khz")


def test_torchaudio_fallback_only_when_its_extension_fails(tmp_path):
    fake = tmp_path / "broken" / "torchaudio"
    (fake / "_extension").mkdir(parents=True)
    (fake / "__init__.py").write_text("from . import _extension\nEXT = _extension._IS_TORCHAUDIO_EXT_AVAILABLE\n")
    (fake / "_extension" / "__init__.py").write_text(
        "raise OSError('Could not load this library: /x/torchaudio/lib/_torchaudio.so')\n"
    )
    other = tmp_path / "other" / "torchaudio"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("raise OSError('disk on fire')\n")
    working = tmp_path / "working" / "torchaudio"
    working.mkdir(parents=True)
    (working / "__init__.py").write_text("EXT = True\n")
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from vampkit.codecs import _torchaudio_compat as c\n"
        "try:\n    m = c.import_torchaudio(); print(m.EXT, c.fallback_reason is not None)\n"
        "except OSError as e:\n    print('OSError', e)\n"
    )
    results = [
        subprocess.run([sys.executable, "-c", script, str(tmp_path / d)], capture_output=True, text=True, check=True).stdout.strip()
        for d in ("broken", "other", "working")
    ]
    assert results == ["False True", "OSError disk on fire", "True False"]


def test_import_dac_works_in_the_set_up_environment():
    # a fresh interpreter: the torch/torchaudio pair of requirements/lock.txt must let dac import
    script = ("from vampkit.codecs._torchaudio_compat import import_dac\n"
              "dac = import_dac(); print(dac.model.DAC.__name__)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "DAC"
