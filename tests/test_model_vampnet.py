"""VampNet: the upstream checkpoint format, safe loading, and logits that follow the spec."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from helpers_models import C2F, COARSE, UPSTREAM_MAIN_KWARGS, perturbed_state, reference_logits, tables, write_tiny
from vampkit import CheckpointError, Mask, ParameterError, TokenModel, VampNet, WeightsUnavailableError, plugins
from vampkit.bundles import VAMPNET
from vampkit.models import relative_position_buckets


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    return {"coarse": write_tiny(root / "coarse.pth", COARSE, seed=1), "c2f": write_tiny(root / "c2f.pth", C2F, seed=2)}


def test_saved_file_has_upstream_layout(ckpts):
    payload = torch.load(ckpts["coarse"], weights_only=True)
    assert set(payload) == {"state_dict", "metadata"}
    assert set(payload["metadata"]) == {"kwargs"} and set(payload["metadata"]["kwargs"]) == UPSTREAM_MAIN_KWARGS
    assert payload["metadata"]["kwargs"]["flash_attn"] is False
    state = payload["state_dict"]
    assert len(state) == 44  # 2 layers: 2 * 18 + 1 + 7
    assert state["transformer.layers.0.self_attn.w_qs.lora_A"].shape == (8, 64)
    assert state["transformer.layers.0.feed_forward.w_2.lora_B"].shape == (64, 8)
    assert state["classifier.layers.0.weight_v"].shape == (128 * 4, 64, 1)
    assert "transformer.layers.1.self_attn.relative_attention_bias.weight" not in state


@pytest.mark.parametrize("which,config,batch", [("coarse", COARSE, 2), ("c2f", C2F, 1)])
def test_load_then_logits_match_the_spec_maths(ckpts, which, config, batch):
    table = tables()
    model = VampNet.load(ckpts[which], table)
    codes = torch.randint(0, 129, (batch, config["n_codebooks"], 40), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        logits = model.logits(codes)
        state = torch.load(ckpts[which], weights_only=True)["state_dict"]
        expected = reference_logits(state, config, table, codes)
        upstream_layout = model.upstream_logits(codes)
    p = config["n_codebooks"] - config["n_conditioning_codebooks"]
    assert logits.shape == (batch, p, 40, 128)
    mine = logits.permute(0, 3, 2, 1).reshape(batch, 128, 40 * p)  # upstream layout, position t * P + c
    assert torch.allclose(mine, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))
    assert torch.equal(upstream_layout, mine)


def test_lora_factors_are_applied_exactly_once(ckpts):
    table = tables()
    model = VampNet.load(ckpts["coarse"], table)
    state = torch.load(ckpts["coarse"], weights_only=True)["state_dict"]
    layer = model.transformer.layers[0].self_attn.w_qs
    expected = state["transformer.layers.0.self_attn.w_qs.weight"] + (
        state["transformer.layers.0.self_attn.w_qs.lora_B"] @ state["transformer.layers.0.self_attn.w_qs.lora_A"]
    ) / 8
    assert torch.allclose(layer.effective_weight(), expected, atol=1e-6)
    assert torch.equal(layer.weight.detach(), state["transformer.layers.0.self_attn.w_qs.weight"])  # stored as is


def test_save_writes_back_what_was_loaded(ckpts, tmp_path):
    model = VampNet.load(ckpts["c2f"], tables())
    model.save(tmp_path / "again.pth")
    a = torch.load(ckpts["c2f"], weights_only=True)
    b = torch.load(tmp_path / "again.pth", weights_only=True)
    assert list(a["state_dict"]) == list(b["state_dict"]) and a["metadata"] == b["metadata"]
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])


def test_mask_argument_replaces_masked_positions_by_the_mask_token(ckpts):
    model = VampNet.load(ckpts["coarse"], tables())
    codes = torch.randint(0, 128, (1, 4, 20))
    mask = torch.zeros(4, 20, dtype=torch.bool)
    mask[:, 5:9] = True
    with torch.no_grad():
        assert torch.equal(model.logits(codes, Mask(mask)), model.logits(codes.masked_fill(mask, 128)))


def test_vampnet_is_a_token_model_with_the_bundles_context(ckpts):
    assert plugins.get("bundles", "vampnet") is VAMPNET
    model = VampNet.load(ckpts["c2f"], tables())
    assert isinstance(model, TokenModel)
    assert (model.n_predict_codebooks, model.mask_token, model.context_frames) == (10, 128, VAMPNET.c2f_context_frames)


def test_codec_tables_with_more_codebooks_are_cut_to_the_model(ckpts):
    model = VampNet.load(ckpts["coarse"], tables(14))
    assert model.codebook_tables.shape == (4, 128, 8)


@pytest.mark.parametrize("shape", [(3, 128, 8), (4, 64, 8), (4, 128, 4)])
def test_codec_tables_that_do_not_fit_are_refused(ckpts, shape):
    with pytest.raises(ParameterError, match="codebook_tables"):
        VampNet.load(ckpts["coarse"], torch.zeros(shape))


def test_relative_position_buckets_row_zero():
    buckets = relative_position_buckets(136, 136)
    row = buckets[0].tolist()
    assert row[:8] == [0, 17, 18, 19, 20, 21, 22, 23]
    assert row[8:12] == [24] * 4 and row[12:16] == [25] * 4
    assert buckets[0, 128].item() == 31 and buckets[128, 0].item() == 15
    assert buckets[5, 0].item() == 5 and buckets[0, 135].item() == 31


def test_full_size_configs_have_the_published_parameter_counts():
    with torch.device("meta"):
        coarse = VampNet(n_heads=20, n_layers=20, n_codebooks=4)
        c2f = VampNet(n_heads=20, n_layers=16, n_codebooks=14, n_conditioning_codebooks=4)
    assert (len(coarse.state_dict()), sum(p.numel() for p in coarse.parameters())) == (368, 335_893_664)
    assert (len(c2f.state_dict()), sum(p.numel() for p in c2f.parameters())) == (296, 277_753_072)


# -- refusals ------------------------------------------------------------------------------

def _edited(src: Path, dst: Path, edit) -> Path:
    payload = torch.load(src, weights_only=True)
    edit(payload)
    torch.save(payload, dst)
    return dst


def test_missing_key_is_named(ckpts, tmp_path):
    bad = _edited(ckpts["coarse"], tmp_path / "m.pth", lambda p: p["state_dict"].pop("transformer.norm.weight"))
    with pytest.raises(CheckpointError, match=r"m\.pth.*missing keys \[transformer\.norm\.weight\]"):
        VampNet.load(bad, tables())


def test_unexpected_key_is_named(ckpts, tmp_path):
    bad = _edited(ckpts["coarse"], tmp_path / "u.pth", lambda p: p["state_dict"].update(extra=torch.zeros(1)))
    with pytest.raises(CheckpointError, match=r"u\.pth.*unexpected keys \[extra\]"):
        VampNet.load(bad, tables())


def test_wrong_shape_is_named(ckpts, tmp_path):
    def edit(p):
        p["state_dict"]["embedding.out_proj.bias"] = torch.zeros(65)

    bad = _edited(ckpts["coarse"], tmp_path / "s.pth", edit)
    with pytest.raises(CheckpointError, match=r"s\.pth.*wrong shapes \[embedding\.out_proj\.bias: file \(65,\)"):
        VampNet.load(bad, tables())


def test_kwargs_that_do_not_match_the_weights_are_refused(ckpts, tmp_path):
    bad = _edited(ckpts["coarse"], tmp_path / "k.pth", lambda p: p["metadata"]["kwargs"].update(n_layers=3))
    with pytest.raises(CheckpointError, match="missing keys"):
        VampNet.load(bad, tables())


@pytest.mark.parametrize("payload,match", [
    ({"state_dict": {}}, "no 'metadata' key"),
    ({"metadata": {"kwargs": {}}}, "no 'state_dict' key"),
    ([1, 2, 3], "expected a dict"),
    ({"state_dict": {"a": 1}, "metadata": {"kwargs": {}}}, "must map parameter names to tensors"),
])
def test_files_without_the_upstream_structure_are_refused(tmp_path, payload, match):
    torch.save(payload, tmp_path / "x.pth")
    with pytest.raises(CheckpointError, match=match):
        VampNet.load(tmp_path / "x.pth", tables())


def test_truncated_file_is_refused(ckpts, tmp_path):
    data = Path(ckpts["coarse"]).read_bytes()
    (tmp_path / "t.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"t\.pth: not a readable torch checkpoint"):
        VampNet.load(tmp_path / "t.pth", tables())


def test_not_a_checkpoint_and_missing_file_are_refused(tmp_path):
    (tmp_path / "n.pth").write_text("hello, not a checkpoint")
    with pytest.raises(CheckpointError, match=r"n\.pth"):
        VampNet.load(tmp_path / "n.pth", tables())
    with pytest.raises(WeightsUnavailableError, match=r"absent\.pth: checkpoint file does not exist"):
        VampNet.load(tmp_path / "absent.pth", tables())


class _Payload:
    """Unpickling this would create a marker file: a stand-in for arbitrary code execution."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


@pytest.mark.parametrize("writer", ["torch_zip", "raw_pickle"])
def test_malicious_pickle_is_refused_and_not_run(tmp_path, writer):
    marker = tmp_path / "pwned"
    payload = {"state_dict": {}, "metadata": {"kwargs": {}}, "evil": _Payload(str(marker))}
    path = tmp_path / "evil.pth"
    if writer == "torch_zip":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(CheckpointError, match="refused"):
        VampNet.load(path, tables())
    assert not marker.exists()
    # the payload is real: an unsafe loader does run it
    if writer == "raw_pickle":
        pickle.loads(path.read_bytes())
    else:
        torch.load(path, weights_only=False)
    assert marker.exists()


def test_unsupported_upstream_options_are_refused(ckpts, tmp_path):
    bad = _edited(ckpts["coarse"], tmp_path / "c.pth", lambda p: p["metadata"]["kwargs"].update(ctrl_dims={"x": 2}))
    with pytest.raises(CheckpointError, match="ctrl_dims"):
        VampNet.load(bad, tables())


def test_perturbation_really_moves_every_parameter():
    model = VampNet.from_kwargs(COARSE)
    state = perturbed_state(model)
    assert all(not torch.equal(state[k], v) for k, v in model.state_dict().items())
