"""LAC (VampNet's codec): architecture keys, strict safe loading, encode/decode, chunking."""

from __future__ import annotations

import math
import zipfile

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from vampkit import CheckpointError, WeightsUnavailableError
from vampkit.codecs import load_codec, read_checkpoint
from vampkit.codecs.family import build_on_meta
from vampkit.codecs.fixtures import TINY_LAC_KWARGS, make_dac_checkpoint, make_lac_checkpoint
from vampkit.codecs.lac import LACCodec, LACNetwork

VAMPNET = dict(encoder_dim=64, encoder_rates=[2, 6, 8, 8], decoder_rates=[6, 4, 4, 2, 2, 2])


@pytest.fixture(scope="module")
def lac_path(tmp_path_factory):
    return make_lac_checkpoint(tmp_path_factory.mktemp("lac") / "codec.pth")


@pytest.fixture(scope="module")
def lac(lac_path):
    return load_codec(lac_path)


@pytest.fixture(scope="module")
def audio():
    return 0.3 * torch.randn(2, 1, 44100, generator=torch.Generator().manual_seed(1))


def _network(decoder_dim):
    args = (VAMPNET["encoder_dim"], VAMPNET["encoder_rates"], decoder_dim, VAMPNET["decoder_rates"], 14, 1024, [8] * 14)
    return build_on_meta(LACNetwork, *args)


@pytest.mark.parametrize(("decoder_dim", "params"), [(1536, 150_182_426), (512, 39_431_498)])
def test_vampnet_config_has_lacs_680_keys_and_parameter_count(decoder_dim, params):
    state = _network(decoder_dim).state_dict()
    assert len(state) == 680
    assert sum(k.startswith("encoder.") for k in state) == 119
    assert sum(k.startswith("quantizer.") for k in state) == 98
    assert sum(k.startswith("decoder.") for k in state) == 463
    assert sum(v.numel() for v in state.values()) == params


def test_vampnet_config_key_shapes_match_lac():
    state = _network(1536).state_dict()
    expected = {
        "encoder.block.0.weight_v": [64, 1, 7],
        "encoder.block.6.weight_v": [1024, 1024, 3],
        "quantizer.quantizers.13.codebook.weight": [1024, 8],
        "decoder.model.0.weight_v": [1536, 1024, 7],
        "decoder.model.1.block.1.weight_g": [1536, 1, 1],
        "decoder.model.1.block.1.weight_v": [1536, 768, 12],
        "decoder.model.5.block.2.mrf_blocks.2.block.2.layer.3.weight_v": [48, 48, 11],
        "decoder.model.6.block.1.weight_v": [48, 24, 4],
        "decoder.model.6.block.2.mrf_blocks.0.block.1.layer.1.weight_v": [24, 24, 3],
        "decoder.model.7.alpha": [1, 24, 1],
        "decoder.model.8.weight_v": [1, 24, 7],
    }
    assert {k: list(state[k].shape) for k in expected} == expected


def test_loads_tiny_checkpoint_with_its_kwargs(lac, lac_path):
    assert isinstance(lac, LACCodec)
    assert (lac.sample_rate, lac.hop_length, lac.n_codebooks, lac.codebook_size) == (44100, 768, 4, 64)
    assert lac.frame_rate == pytest.approx(44100 / 768)
    tables = lac.codebook_tables()
    state = torch.load(lac_path, weights_only=True)["state_dict"]
    assert tables.shape == (4, 64, 8)
    assert torch.equal(tables[2], state["quantizer.quantizers.2.codebook.weight"])


@pytest.mark.parametrize(("length", "frames"), [(500, 1), (7680, 10), (44100, 58)])
def test_encode_gives_ceil_length_over_hop_frames(lac, audio, length, frames):
    codes = lac.encode(audio[..., :length], 44100)
    assert codes.shape == (2, 4, frames) and codes.dtype == torch.long
    assert int(codes.min()) >= 0 and int(codes.max()) < 64


def test_decode_gives_frames_times_hop_samples_in_tanh_range(lac, audio):
    codes = lac.encode(audio[..., :7680], 44100)
    out = lac.decode(codes)
    assert out.shape == (2, 1, 7680) and out.dtype == torch.float32
    assert float(out.abs().max()) < 1.0


def test_batch_items_are_independent(lac, audio):
    both = lac.encode(audio[..., :7680], 44100)
    assert torch.equal(both[1:], lac.encode(audio[1:, :, :7680], 44100))


def test_decode_accepts_leading_codebooks_only(lac, audio):
    codes = lac.encode(audio[..., :3840], 44100)
    assert lac.decode(codes[:, :2]).shape == (2, 1, 3840)


def _wn(prefix, state):
    g, v = state[prefix + ".weight_g"], state[prefix + ".weight_v"]
    return g * v / v.flatten(1).norm(dim=1).view(-1, *[1] * (v.ndim - 1)), state[prefix + ".bias"]


def _snake(x, alpha):
    return x + torch.sin(alpha * x) ** 2 / (alpha + 1e-9)


def _reference_decoder(z, state, rates):
    """The spec's decoder pseudo-code, written with plain functional ops."""
    w, b = _wn("decoder.model.0", state)
    x = F.conv1d(z, w, b, padding=3)
    for i, r in enumerate(rates, start=1):
        p = f"decoder.model.{i}.block"
        x = _snake(x, state[f"{p}.0.alpha"])
        w, b = _wn(f"{p}.1", state)
        x = F.conv_transpose1d(x, w, b, stride=r, padding=r // 2)
        branches = []
        for m, k in enumerate((3, 7, 11)):
            y = x
            for n, d in enumerate((1, 3, 5)):
                q = f"{p}.2.mrf_blocks.{m}.block.{n}.layer"
                h = _snake(y, state[f"{q}.0.alpha"])
                w, b = _wn(f"{q}.1", state)
                h = F.conv1d(h, w, b, dilation=d, padding=(k - 1) * d // 2)
                h = _snake(h, state[f"{q}.2.alpha"])
                w, b = _wn(f"{q}.3", state)
                y = y + F.conv1d(h, w, b, padding=(k - 1) // 2)
            branches.append(y)
        x = sum(branches) / 3
    n = len(rates) + 1
    x = _snake(x, state[f"decoder.model.{n}.alpha"])
    w, b = _wn(f"decoder.model.{n + 1}", state)
    return torch.tanh(F.conv1d(x, w, b, padding=3))


def test_mrf_decoder_matches_the_spec_pseudo_code(lac, lac_path):
    state = torch.load(lac_path, weights_only=True)["state_dict"]
    z = torch.randn(1, 64, 5, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        ours = lac.network.decoder(z)
    ref = _reference_decoder(z, state, TINY_LAC_KWARGS["decoder_rates"])
    assert ours.shape == ref.shape == (1, 1, 5 * 768)
    assert torch.allclose(ours, ref, atol=1e-6)


def test_quantizer_codes_are_the_cosine_nearest_rows(lac, audio):
    latent = lac.network.encoder(audio[:1, :, :3840])
    codes = lac.encode(audio[:1, :, :3840], 44100)
    q = lac.network.quantizer.quantizers[0]
    e = F.normalize(q.in_proj(latent), dim=1)[0].T  # [T, 8]
    table = F.normalize(q.codebook.weight, dim=1)
    assert torch.equal(codes[0, 0], (e @ table.T).argmax(dim=1))


@settings(max_examples=4, deadline=None)
@given(chunk_frames=st.integers(min_value=1, max_value=24))
def test_chunked_codes_equal_whole_and_audio_agrees(lac, audio, chunk_frames):
    chunk_seconds = chunk_frames * 768 / 44100
    audio = audio[..., : 24 * 768]  # 24 frames: several chunks for every drawn chunk size
    whole = lac.encode(audio, 44100, chunk_seconds=math.inf)
    assert torch.equal(lac.encode(audio, 44100, chunk_seconds=chunk_seconds), whole)
    ref = lac.decode(whole[..., :20], chunk_seconds=math.inf)
    chunked = lac.decode(whole[..., :20], chunk_seconds=chunk_seconds)
    assert torch.allclose(chunked, ref, atol=1e-5)


def test_margins_cover_the_measured_receptive_field(lac):
    hop, frames = lac.hop_length, 60
    x = torch.zeros(1, 1, frames * hop, requires_grad=True)
    latent = lac.network.encoder(x)
    latent[0, :, frames // 2].sum().backward()
    touched = torch.nonzero(x.grad[0, 0]).flatten()
    reach = max(frames // 2 * hop - int(touched.min()), int(touched.max()) - (frames // 2 + 1) * hop)
    assert reach <= lac.encode_margin * hop
    z = torch.zeros(1, 64, frames, requires_grad=True)
    lac.network.decoder(z)[0, 0, frames // 2 * hop].backward()
    used = torch.nonzero(z.grad[0].abs().sum(0)).flatten()
    assert max(frames // 2 - int(used.min()), int(used.max()) - frames // 2) <= lac.decode_margin


# -- bad checkpoints ------------------------------------------------------------------------


def _save(path, state, kwargs):
    torch.save({"state_dict": state, "metadata": {"kwargs": kwargs}}, path)
    return path


@pytest.fixture
def lac_data(lac_path):
    data = torch.load(lac_path, weights_only=True)
    return data["state_dict"], data["metadata"]["kwargs"]


def test_missing_key_is_named(tmp_path, lac_data):
    state, kwargs = lac_data
    key = "decoder.model.3.block.2.mrf_blocks.1.block.2.layer.3.bias"
    del state[key]
    with pytest.raises(CheckpointError, match=r"missing keys: .*mrf_blocks\.1\.block\.2\.layer\.3\.bias"):
        load_codec(_save(tmp_path / "c.pth", state, kwargs))


def test_unexpected_key_is_named(tmp_path, lac_data):
    state, kwargs = lac_data
    state["decoder.model.99.alpha"] = torch.ones(1, 4, 1)
    with pytest.raises(CheckpointError, match=r"unexpected keys: decoder\.model\.99\.alpha"):
        load_codec(_save(tmp_path / "c.pth", state, kwargs))


def test_wrong_shape_is_named_with_both_shapes(tmp_path, lac_data):
    state, kwargs = lac_data
    state["encoder.block.0.weight_v"] = torch.ones(4, 1, 5)
    with pytest.raises(CheckpointError, match=r"encoder\.block\.0\.weight_v \(file \[4, 1, 5\], expected \[4, 1, 7\]\)"):
        load_codec(_save(tmp_path / "c.pth", state, kwargs))


def test_kwargs_that_disagree_with_the_tensors_are_refused(tmp_path, lac_data):
    state, kwargs = lac_data
    with pytest.raises(CheckpointError, match=r"codec\.pth.*wrong shapes: decoder\.model\.0\.bias"):
        load_codec(_save(tmp_path / "codec.pth", state, {**kwargs, "decoder_dim": 128}))


def test_rates_with_different_products_are_refused(tmp_path, lac_data):
    state, kwargs = lac_data
    with pytest.raises(CheckpointError, match="decoder_rates .* upsample by 384"):
        load_codec(_save(tmp_path / "c.pth", state, {**kwargs, "decoder_rates": [6, 4, 4, 2, 2]}))


def test_odd_strides_are_refused(tmp_path, lac_data):
    state, kwargs = lac_data
    with pytest.raises(CheckpointError, match="odd strides"):
        LACCodec.from_checkpoint(read_checkpoint(_save(tmp_path / "c.pth", state, {**kwargs, "encoder_rates": [2, 3, 8, 16]})))


def test_bad_kwarg_value_is_named(tmp_path, lac_data):
    state, kwargs = lac_data
    with pytest.raises(CheckpointError, match="kwarg 'n_codebooks' must be a positive int"):
        load_codec(_save(tmp_path / "c.pth", state, {**kwargs, "n_codebooks": "four"}))


def test_non_finite_weights_are_refused(tmp_path, lac_data):
    state, kwargs = lac_data
    state["decoder.model.0.bias"][0] = float("nan")
    with pytest.raises(CheckpointError, match="decoder.model.0.bias.*NaN"):
        load_codec(_save(tmp_path / "c.pth", state, kwargs))


def test_dac_file_offered_as_lac_names_missing_mrf_keys(tmp_path):
    path = make_dac_checkpoint(tmp_path / "weights.pth", **{"encoder_rates": [2, 4, 8], "decoder_rates": [8, 4, 2]})
    with pytest.raises(CheckpointError, match="mrf_blocks"):
        LACCodec.from_checkpoint(read_checkpoint(path))


def test_truncated_file_is_refused(tmp_path, lac_path):
    data = lac_path.read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.pth.*(truncated|corrupt)"):
        load_codec(cut)


def test_torch_package_archive_is_refused_without_running_it(tmp_path):
    from torch.package import PackageExporter

    path = tmp_path / "package.pth"
    with PackageExporter(str(path)) as exporter:
        exporter.save_pickle("LAC", "LAC.pth", {"not": "loaded"})
    with pytest.raises(CheckpointError, match="torch.package archive"):
        load_codec(path)


class _Evil:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {}, "metadata": {"kwargs": {}}, "x": _Evil()}, path)
    with pytest.raises(CheckpointError, match="weights-only"):
        load_codec(path)


def test_empty_and_missing_and_non_torch_files(tmp_path):
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_codec(empty)
    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        load_codec(tmp_path / "absent.pth")
    text = tmp_path / "notes.pth"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match=r"notes\.pth: not a readable torch checkpoint"):
        load_codec(text)
    other_zip = tmp_path / "other.pth"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "hi")
    with pytest.raises(CheckpointError, match="without data.pkl"):
        load_codec(other_zip)


def test_dict_without_state_dict_or_kwargs_is_refused(tmp_path):
    torch.save({"weights": {}}, tmp_path / "a.pth")
    with pytest.raises(CheckpointError, match="no 'state_dict'"):
        load_codec(tmp_path / "a.pth")
    torch.save({"state_dict": {"x": torch.ones(1)}}, tmp_path / "b.pth")
    with pytest.raises(CheckpointError, match=r"metadata\['kwargs'\]"):
        load_codec(tmp_path / "b.pth")


def test_latents_are_what_the_codes_quantize_to(lac, audio):
    """``latents`` (what a codec-latent FAD embeds) is the sum of the chosen codewords."""
    codes = lac.encode(audio, lac.sample_rate)
    z = lac.latents(audio, lac.sample_rate)
    assert lac.has_latents and z.shape[0] == audio.shape[0] and z.shape[-1] == codes.shape[-1]
    with torch.inference_mode():
        from_codes = lac.network.quantizer.from_codes(codes)[0]
    assert torch.allclose(z, from_codes, atol=1e-4, rtol=1e-4)
