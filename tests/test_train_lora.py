"""LoRA fine-tuning: only the factors move; the LoRA file on the base gives the fine-tuned model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from _train_helpers import (
    TINY_MODEL,
    VOCAB,
    random_tokens,
    recipe_text,
    tiny_codec,
    weights_of,
)

from vampkit import CheckpointError, VampNet
from helpers_models import UPSTREAM_MAIN_KWARGS
from vampkit.codecs import load_codec
from vampkit.models.lora_file import apply_lora, load_with_lora, read_lora
from vampkit.training import loads_train_recipe, train


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
    root = tmp_path_factory.mktemp("lora")
    codec, info = tiny_codec(root)
    tokens = random_tokens(root, info, {"a": 40, "b": 33})
    base = VampNet.from_kwargs(dict(TINY_MODEL, vocab_size=VOCAB))
    with torch.no_grad():  # a base with non-zero factors, as published checkpoints have
        for name, param in base.named_parameters():
            if name.endswith("lora_B"):
                param.normal_(0, 0.05, generator=torch.Generator().manual_seed(1))
    base.save(root / "base.pth")
    text = recipe_text(codec, tokens, model={"kwargs": None, "checkpoint": str(root / "base.pth")}, lora=True,
                       steps=3, optimizer={"schedule": "constant", "lr": 0.01, "warmup": 0})
    result = train(loads_train_recipe(text), root / "run", progress=False)
    return {"root": root, "codec": codec, "base": root / "base.pth", "result": result}


def test_lora_defaults_are_upstreams(finetuned):
    recipe = loads_train_recipe(recipe_text(finetuned["codec"], "t", lora=True))
    assert (recipe.lr, recipe.warmup, recipe.optimizer.schedule) == (1e-4, 500, "noam")
    full = loads_train_recipe(recipe_text(finetuned["codec"], "t"))
    assert (full.warmup, full.optimizer.factor, full.optimizer.grad_clip, full.optimizer.label_smoothing) == \
        (10000, 2.0, 5.0, 0.1)


def test_only_lora_tensors_change(finetuned):
    before = weights_of(finetuned["base"])
    after = weights_of(finetuned["result"].checkpoint / "vampnet" / "weights.pth")
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.endswith((".lora_A", ".lora_B")) for k in changed)


def test_lora_file_on_the_base_reproduces_the_finetuned_logits(finetuned):
    tables = load_codec(str(finetuned["codec"])).codebook_tables()
    full = VampNet.load(finetuned["result"].checkpoint / "vampnet" / "weights.pth", tables)
    lora_path = finetuned["result"].lora
    assert set(read_lora(lora_path)) == {k for k in full.state_dict() if k.endswith((".lora_A", ".lora_B"))}
    on_base = load_with_lora(finetuned["base"], lora_path, tables)
    codes = torch.randint(0, VOCAB + 1, (2, 4, 20), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(full.logits(codes), on_base.logits(codes), atol=1e-6, rtol=0)
        assert not torch.allclose(full.logits(codes), VampNet.load(finetuned["base"], tables).logits(codes), atol=1e-4)


def test_saved_full_checkpoint_has_upstreams_layout(finetuned):
    payload = torch.load(finetuned["result"].checkpoint / "vampnet" / "weights.pth", weights_only=True)
    assert set(payload) == {"state_dict", "metadata"}
    assert set(payload["metadata"]) == {"kwargs"} and set(payload["metadata"]["kwargs"]) == UPSTREAM_MAIN_KWARGS
    assert payload["metadata"]["kwargs"]["flash_attn"] is False
    assert len(payload["state_dict"]) == 1 * 18 + 1 + 7


def test_lora_file_that_does_not_fit_names_keys_and_shapes(finetuned, tmp_path):
    factors = read_lora(finetuned["result"].lora)
    key = next(iter(factors))
    bad = dict(factors, **{key: torch.zeros(3, 3)})
    model = VampNet.load(finetuned["base"])
    with pytest.raises(CheckpointError, match=r"wrong shapes .*file \(3, 3\) vs model"):
        apply_lora(model, bad, source="bad.pth")
    broken = dict(factors, **{key: torch.full_like(factors[key], float("nan"))})
    with pytest.raises(CheckpointError, match=rf"NaN or infinite values in \['{key}'\]"):
        apply_lora(model, broken, source="broken.pth")
    torch.save({"transformer.norm.weight": torch.ones(16)}, tmp_path / "not-lora.pth")
    with pytest.raises(CheckpointError, match="no '\\*.lora_A'"):
        read_lora(tmp_path / "not-lora.pth")


def test_incompatible_base_checkpoint_names_the_keys(finetuned, tmp_path):
    other = VampNet.from_kwargs(dict(TINY_MODEL, vocab_size=VOCAB, embedding_dim=32))
    other.save(tmp_path / "wide.pth")
    with pytest.raises(CheckpointError, match="wrong shapes"):
        load_with_lora(tmp_path / "wide.pth", finetuned["result"].lora)


def test_recipe_weights_entry_vamps_with_a_lora_file(tmp_path, monkeypatch):
    """End to end: fine-tune a coarse model with LoRA, then vamp through a recipe `weights:` entry."""
    import json

    from helpers_models import write_tiny_set

    from vampkit.examples import write_groove
    from vampkit.pipeline import run_recipe
    from vampkit.pipeline.engine import VampNetEngine
    from vampkit.recipes import loads_recipe
    from vampkit.training.tokens import CodecInfo, write_tokens
    from vampkit.weights import resolve_weights

    monkeypatch.setenv("VAMPKIT_CACHE", str(tmp_path / "cache"))
    paths = write_tiny_set(tmp_path)
    codec = load_codec(paths["codec"])
    info = CodecInfo.of(codec)
    write_tokens(tmp_path / "tok", info, {"x": torch.randint(0, 128, (14, 40), generator=torch.Generator().manual_seed(0))})
    text = recipe_text(Path(paths["codec"]), tmp_path / "tok", model={"kwargs": None, "checkpoint": paths["coarse"]},
                       lora=True, steps=2, optimizer={"schedule": "constant", "lr": 0.01, "warmup": 0})
    result = train(loads_train_recipe(text), tmp_path / "run", progress=False)
    recipe = loads_recipe(
        f"weights: {{coarse: {paths['coarse']}, c2f: {paths['c2f']}, codec: {paths['codec']}, "
        f"coarse_lora: {result.lora}}}\nmask: {{periodic: {{period: 3}}}}\nsampling: {{steps: 2}}\nc2f: {{steps: 1}}\n")
    assert recipe.weights.lora == {"coarse": str(result.lora)}
    engine = VampNetEngine(resolve_weights(f"{paths['coarse']},{paths['c2f']},{paths['codec']}"), "cpu",
                           recipe.weights.lora)
    tuned = VampNet.load(result.checkpoint / "vampnet" / "weights.pth", codec.codebook_tables())
    codes = torch.randint(0, 129, (1, 4, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(engine.coarse.logits(codes), tuned.logits(codes), atol=1e-6, rtol=0)
    groove = write_groove(tmp_path / "groove.wav", seconds=1.0, bpm=120)
    run = run_recipe(recipe, [str(groove)], tmp_path / "out", device="cpu")
    assert run.ok, run.failures
    assert "coarse_lora" in json.loads(run.manifest_path.read_text())["checkpoints"]
    # the same LoRA given as an option (vampkit run --lora coarse=PATH) makes the same file
    plain = loads_recipe("mask: {periodic: {period: 3}}\nsampling: {steps: 2}\nc2f: {steps: 1}\n")
    again = run_recipe(plain, [str(groove)], tmp_path / "again", device="cpu", lora={"coarse": str(result.lora)},
                       weights={k: paths[k] for k in ("coarse", "c2f", "codec")})
    assert again.ok and again.outputs[0].read_bytes() == run.outputs[0].read_bytes()


def test_weights_entry_takes_a_preset_with_lora_files():
    from vampkit.recipes import loads_recipe

    recipe = loads_recipe("weights: {preset: vampnet, c2f_lora: /x/lora.pth}\nmask: {periodic: {period: 3}}\n")
    assert recipe.weights.preset == "vampnet" and recipe.weights.lora == {"c2f": "/x/lora.pth"}
    # --set on a preset given by name adds the LoRA to that preset
    recipe = loads_recipe("weights: vampnet\nmask: {periodic: {period: 3}}\n", overrides=["weights.coarse_lora=/x/lora.pth"])
    assert recipe.weights.preset == "vampnet" and recipe.weights.lora == {"coarse": "/x/lora.pth"}


def test_the_lora_option_takes_a_model_and_a_path():
    from vampkit import cli

    for bad in ("fine=/x.pth", "coarse", "coarse="):
        with pytest.raises(SystemExit) as info:
            cli.main(["run", "compress", "-i", "x.wav", "--dry-run", "--lora", bad])
        assert info.value.code == 2, bad


def test_c2f_lora_from_a_weights_folder(tmp_path):
    """`model: {weights: FOLDER, which: c2f}`: the set's c2f model and codec, LoRA factors only."""
    from helpers_models import write_tiny_set

    from vampkit.training.tokens import CodecInfo, write_tokens

    paths = write_tiny_set(tmp_path)
    info = CodecInfo.of(load_codec(paths["codec"]))
    write_tokens(tmp_path / "tok", info, {"x": torch.randint(0, 128, (14, 30), generator=torch.Generator().manual_seed(0))})
    text = recipe_text(Path(paths["codec"]), tmp_path / "tok", lora=True, steps=2,
                       model={"kwargs": None, "codec": None, "weights": str(tmp_path), "which": "c2f"},
                       optimizer={"schedule": "constant", "lr": 0.01, "warmup": 0})
    result = train(loads_train_recipe(text), tmp_path / "run", progress=False)
    before, after = weights_of(Path(paths["c2f"])), weights_of(result.checkpoint / "vampnet" / "weights.pth")
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.endswith((".lora_A", ".lora_B")) for k in changed)
    assert torch.load(result.lora, weights_only=True).keys() == {k for k in after if k.endswith(("lora_A", "lora_B"))}
    # and vamp with it: the recipe's c2f_lora puts the trained factors on the set's c2f model
    from vampkit.examples import write_groove
    from vampkit.pipeline import run_recipe
    from vampkit.recipes import loads_recipe

    weights = f"weights: {{coarse: {paths['coarse']}, c2f: {paths['c2f']}, codec: {paths['codec']}"
    body = "mask: {periodic: {period: 3}}\nsampling: {steps: 2}\nc2f: {steps: 1}\nseed: 4\n"
    groove = write_groove(tmp_path / "groove.wav", seconds=1.0, bpm=120)
    tuned = run_recipe(loads_recipe(f"{weights}, c2f_lora: {result.lora}}}\n{body}"), [str(groove)],
                       tmp_path / "tuned", device="cpu")
    base = run_recipe(loads_recipe(f"{weights}}}\n{body}"), [str(groove)], tmp_path / "base", device="cpu")
    assert tuned.ok and base.ok, (tuned.failures, base.failures)
    assert tuned.outputs[0].read_bytes() != base.outputs[0].read_bytes()  # the fine-tuned c2f was used
