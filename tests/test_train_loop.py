"""The training loop on tiny models: it learns, resumes exactly, stops on NaN, writes safely."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import attrs

import pytest
import torch
import yaml

from _train_helpers import random_tokens, recipe_text, tiny_codec, weights_of

from vampkit import VampNet
from vampkit.codecs import load_codec
from vampkit.errors import RecipeError, TrainingError
from vampkit.training import (
    checkpoints,
    loads_train_recipe,
    train,
)
from vampkit.training.tokens import DatasetError, write_tokens


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    codec, info = tiny_codec(root)
    tokens = random_tokens(root, info, {"a": 40, "b": 57, "c": 23})
    return {"root": root, "codec": codec, "info": info, "tokens": tokens}


def run(setup, out: Path, resume: bool = False, **settings):
    text = recipe_text(setup["codec"], setup["tokens"], **settings)
    return train(loads_train_recipe(text), out, resume=resume, progress=False)


def test_tiny_model_overfits_one_clip_and_fills_a_periodic_prompt(setup, tmp_path):
    info = setup["info"]
    clip = torch.randint(0, info.codebook_size, (4, 16), generator=torch.Generator().manual_seed(3))
    write_tokens(tmp_path / "clip", info, {"clip": clip})
    prompt = {"periodic": {"period": 3}}
    result = train(loads_train_recipe(recipe_text(
        setup["codec"], tmp_path / "clip", model={"kwargs": {"n_heads": 2, "n_layers": 2, "n_codebooks": 4,
                                                            "embedding_dim": 32}},
        masks=[{"mask": prompt}], steps=150, batch_size=2, log_every=10,
        optimizer={"schedule": "constant", "lr": 0.01, "warmup": 0, "label_smoothing": 0.0})),
        tmp_path / "run", progress=False)
    with (tmp_path / "run" / "train.csv").open() as handle:
        losses = [float(row["loss"]) for row in csv.DictReader(handle)]
    assert losses[-1] < losses[0] / 10
    model = VampNet.load(result.checkpoint / "vampnet" / "weights.pth", load_codec(str(setup["codec"])).codebook_tables())
    mask = torch.ones(16, dtype=torch.bool)
    mask[::3] = False
    with torch.no_grad():
        guess = model.logits(clip.masked_fill(mask, model.mask_token)[None]).argmax(-1)[0]
    accuracy = (guess[:, mask] == clip[:, mask]).float().mean()
    assert accuracy >= 0.9


def test_resume_continues_exactly(setup, tmp_path):
    settings = {"steps": 6, "checkpoint_every": 3, "model": {"dropout": 0.1},
                "masks": [{"mask": "random"}, {"mask": {"periodic": {"period": [2, 6]}}}], "grad_accumulation": 2}
    straight = run(setup, tmp_path / "straight", **settings)
    first = run(setup, tmp_path / "resumed", **dict(settings, steps=3))
    assert first.step == 3
    resumed = run(setup, tmp_path / "resumed", resume=True, **settings)
    assert resumed.step == 6
    a, b = weights_of(straight.checkpoint / "vampnet/weights.pth"), weights_of(resumed.checkpoint / "vampnet/weights.pth")
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6, rtol=0), key
    with (tmp_path / "resumed" / "train.csv").open() as handle:
        steps = [int(row["step"]) for row in csv.DictReader(handle)]
    assert steps == sorted(set(steps))


def test_checkpoint_is_upstreams_format_and_loads_in_vampkit(setup, tmp_path):
    result = run(setup, tmp_path / "run", steps=1)
    payload = torch.load(result.checkpoint / "vampnet" / "weights.pth", weights_only=True)
    assert set(payload) == {"state_dict", "metadata"} and set(payload["metadata"]) == {"kwargs"}
    assert payload["metadata"]["kwargs"]["n_codebooks"] == 4
    VampNet.load(result.checkpoint / "vampnet" / "weights.pth", load_codec(str(setup["codec"])).codebook_tables())


def test_nan_loss_stops_with_the_step_and_keeps_the_last_checkpoint(setup, tmp_path, monkeypatch):
    run(setup, tmp_path / "run", steps=2, checkpoint_every=2)
    saved = weights_of(tmp_path / "run" / "latest" / "vampnet" / "weights.pth")
    from vampkit.training import loop

    real = loop.loss_sum
    monkeypatch.setattr(loop, "loss_sum", lambda *a, **k: real(*a, **k) * float("nan"))
    with pytest.raises(TrainingError, match=r"step 3: the loss is nan.*latest.*\(step 2\)"):
        run(setup, tmp_path / "run", resume=True, steps=4)
    again = weights_of(tmp_path / "run" / "latest" / "vampnet" / "weights.pth")
    assert all(torch.equal(saved[k], again[k]) for k in saved)


def test_failed_checkpoint_write_leaves_the_previous_one(setup, tmp_path, monkeypatch):
    run(setup, tmp_path / "run", steps=1)
    before = weights_of(tmp_path / "run" / "latest" / "vampnet" / "weights.pth")

    def disk_full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoints, "save_state", disk_full)
    with pytest.raises(OSError, match="No space"):
        run(setup, tmp_path / "run", resume=True, steps=2)
    after = weights_of(tmp_path / "run" / "latest" / "vampnet" / "weights.pth")
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert checkpoints.load_state(tmp_path / "run" / "latest")["step"] == 1
    assert not list((tmp_path / "run").glob(".*partial*"))


def test_validation_reports_each_family(setup, tmp_path):
    result = run(setup, tmp_path / "run", steps=2, validate_every=1, validation_items=3,
                 data={"validation": str(setup["tokens"])},
                 masks=[{"mask": "random"}, {"mask": {"periodic": {"period": 4}}, "name": "p4"}])
    assert set(result.validation) == {"random", "p4"}
    for values in result.validation.values():
        assert values["masked_tokens"] > 0 and 0 <= values["top1"] <= values["top25"] <= 1
    with (tmp_path / "run" / "validation.csv").open() as handle:
        assert [(r["step"], r["family"]) for r in csv.DictReader(handle)] == [
            ("1", "random"), ("1", "p4"), ("2", "random"), ("2", "p4")]
    assert (tmp_path / "run" / "best" / "vampnet" / "weights.pth").is_file()


def test_a_folder_the_run_did_not_make_is_refused(setup, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(TrainingError, match="not empty"):
        run(setup, tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_finished_run_is_not_overwritten_without_resume(setup, tmp_path):
    run(setup, tmp_path / "run", steps=1)
    with pytest.raises(TrainingError, match="--resume"):
        run(setup, tmp_path / "run", steps=1)


@pytest.mark.parametrize(("change", "match"), [
    ({"vocab": 64}, r"codebook_size 64, .* has 32"),
    ({"n_codebooks": 2}, r"has 2 codebooks, .* needs 4"),
    ({"hop_length": 512}, r"hop_length 512, .* has 768"),
    ({"seed": 1}, r"encoded by a codec with tables"),
])
def test_tokens_of_another_codec_are_refused_naming_both_values(setup, tmp_path, change, match):
    hop = change.pop("hop_length", None)
    _, info = tiny_codec(tmp_path, **change)
    if hop is not None:  # the same tables at another frame rate
        info = attrs.evolve(setup["info"], hop_length=hop)
    tokens = random_tokens(tmp_path, info, {"x": 40})
    text = recipe_text(setup["codec"], tokens)
    with pytest.raises(DatasetError, match=match):
        train(loads_train_recipe(text), tmp_path / "run", progress=False)


def test_checkpoint_folders_get_the_users_umask(setup, tmp_path):
    from vampkit import atomic

    old = os.umask(0o027)
    atomic.process_umask.cache_clear()
    try:
        result = run(setup, tmp_path / "run", steps=1)
    finally:
        os.umask(old)
        atomic.process_umask.cache_clear()
    assert result.checkpoint.stat().st_mode & 0o777 == 0o750  # not mkdtemp's 0700


def test_batch_must_split_over_accumulation(setup):
    with pytest.raises(RecipeError, match="grad_accumulation"):
        loads_train_recipe(recipe_text(setup["codec"], setup["tokens"], batch_size=3, grad_accumulation=2))


def test_recipe_errors_point_at_the_line(setup):
    text = recipe_text(setup["codec"], setup["tokens"]) + "precision: fp8\n"
    with pytest.raises(RecipeError, match=r"<train recipe>:\d+:\d+: precision: expected fp32 or bf16"):
        loads_train_recipe(text)
    data = yaml.safe_load(recipe_text(setup["codec"], setup["tokens"]))
    data["masks"] = [{"weight": 1, "mask": {"periodic": {"perod": 3}}}]
    with pytest.raises(RecipeError, match=r"masks\.0\.mask\.periodic\.perod"):
        loads_train_recipe(yaml.safe_dump(data))


def test_docs_recipe_trains_with_a_plugin_mask_in_the_mixture(setup, tmp_path):
    """docs/training.md's recipe (model and data swapped for tiny ones) with an in-process plugin."""
    import re
    import types

    import attrs

    import vampkit
    from vampkit import plugins

    @attrs.frozen
    class Mine:
        """Keep the lowest `depth` codebooks of every fourth frame."""

        name = "my-plugin-mask"
        depth: int = vampkit.param(1, doc="codebooks kept")

        def __call__(self, ctx):
            mask = ctx.full()
            mask[: self.depth, ::4] = False
            return vampkit.Mask(mask)

    module = types.ModuleType("train_notebook")
    module.register_masks = vampkit.hookimpl(lambda register: register(Mine))
    name = plugins.register_plugin(module, name="train-notebook")
    try:
        doc = (Path(__file__).parent.parent / "docs" / "training.md").read_text()
        data = yaml.safe_load(re.search(r"```yaml\n(name: lora-coarse.*?)```", doc, re.S).group(1))
        assert [e.get("name") for e in data["masks"]] == [None, None, "mine"]
        tiny = yaml.safe_load(recipe_text(setup["codec"], setup["tokens"]))
        data.update(model=tiny["model"], data={"train": str(setup["tokens"]), "validation_split": 0.4},
                    lora=False, steps=2, validate_every=2, checkpoint_every=2, validation_items=2,
                    tensorboard=False, batch_size=4)
        result = train(loads_train_recipe(yaml.safe_dump(data)), tmp_path / "run", progress=False)
    finally:
        plugins.unregister_plugin(name)
    assert set(result.validation) == {"random", "periodic", "mine"}
    assert result.validation["mine"]["masked_tokens"] > 0


def test_c2f_model_trains_and_saves_in_upstreams_layout(tmp_path):
    codec, info = tiny_codec(tmp_path, n_codebooks=6)
    tokens = random_tokens(tmp_path, info, {"a": 30})
    text = recipe_text(codec, tokens, steps=1, model={"kwargs": {"n_heads": 2, "n_layers": 1, "n_codebooks": 6,
                                                                 "n_conditioning_codebooks": 2, "embedding_dim": 16}})
    result = train(loads_train_recipe(text), tmp_path / "run", progress=False)
    payload = torch.load(result.checkpoint / "vampnet" / "weights.pth", weights_only=True)
    assert payload["metadata"]["kwargs"]["n_conditioning_codebooks"] == 2
    assert payload["state_dict"]["classifier.layers.0.bias"].shape == (4 * 32,)


def test_training_dropout_reaches_the_attention_probabilities_in_train_mode_only():
    from vampkit.models.layers import RelativeSelfAttention
    from vampkit.training.model import add_dropout

    torch.manual_seed(0)
    model = VampNet(n_codebooks=2, n_conditioning_codebooks=0, latent_dim=4, embedding_dim=16, n_layers=2, n_heads=2,
                    vocab_size=8)
    handles = add_dropout(model, 0.5)
    attention = [m for m in model.modules() if isinstance(m, RelativeSelfAttention)]
    assert len(attention) == 2 and all(m.attention_dropout == 0.5 for m in attention)
    for handle in handles:
        handle.remove()
    assert all(m.attention_dropout == 0.0 for m in attention)

    layer = RelativeSelfAttention(16, 2, has_bias_table=True)  # no hooks: only the probabilities can drop
    x, bias = torch.randn(1, 10, 16), layer.position_bias(10)
    plain = layer(x, bias)
    layer.attention_dropout = 0.5
    assert not torch.allclose(layer(x, bias), plain)
    layer.eval()
    assert torch.equal(layer(x, bias), plain)
