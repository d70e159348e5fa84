"""Training recipes: the shipped examples validate; defaults are upstream's; errors name the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from vampkit import RecipeError
from vampkit.training import load_train_recipe, loads_train_recipe

SHIPPED = sorted((Path(__file__).parent.parent / "recipes" / "train").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_training_recipe_validates(path):
    recipe = load_train_recipe(path)
    assert recipe.name == path.stem and recipe.steps > 0 and recipe.masks.entries


def test_upstream_defaults():
    recipe = loads_train_recipe("model: {kwargs: {n_codebooks: 4}, codec: c.pth}\ndata: tokens\n")
    opt = recipe.optimizer
    assert (opt.schedule, opt.factor, recipe.warmup, opt.grad_clip, opt.label_smoothing) == ("noam", 2.0, 10000, 5.0, 0.1)
    assert (recipe.batch_size, recipe.precision, recipe.lora, recipe.model.dropout) == (8, "fp32", False, 0.1)
    assert recipe.masks.labels == ("random",) and recipe.masks.entries[0].is_upstream_random


@pytest.mark.parametrize(("text", "match"), [
    ("data: t\n", r"<train recipe>:1:1: missing key 'model'"),
    ("model: {kwargs: {}}\ndata: t\n", r"1:8: model: missing key 'codec'"),
    ("model: {weights: vampnet, checkpoint: x.pth}\ndata: t\n", "exactly one of weights, checkpoint or kwargs"),
    ("model: {weights: vampnet}\ndata: t\nstep: 3\n", r"3:1: step: unknown key 'step' \(did you mean 'steps'"),
    ("model: {weights: vampnet}\ndata: t\noptimizer: {warmup: -1}\n", r"3:21: optimizer\.warmup: must be >= 0"),
    ("model: {weights: vampnet}\ndata: t\nbatch_size: 0\n", r"3:13: batch_size: must be >= 1"),
    ("model: {weights: vampnet}\ndata: t\nmasks:\n  - {weight: 1, mask: {periodic: {period: [9, 2]}}}\n",
     r"4:43: masks\.0\.mask\.periodic\.period: .*high < low"),
    ("model: {weights: vampnet, which: middle}\ndata: t\n", r"model\.which: expected one of"),
    ("model: {kwargs: {n_layers: 1000000000}, codec: c.pth}\ndata: t\n",
     r"1:17: model\.kwargs: VampNet: n_layers must be at most 512"),
    ("model: {kwargs: {embedding_dim: 65536, n_heads: 1}, codec: c.pth}\ndata: t\n",
     r"model\.kwargs: VampNet: these sizes make a model of about .* parameters"),
    ("model: {kwargs: {n_heads: 3}, codec: c.pth}\ndata: t\n", r"model\.kwargs: .*not divisible by n_heads 3"),
])
def test_bad_recipes_name_file_line_and_key(text, match):
    with pytest.raises(RecipeError, match=match):
        loads_train_recipe(text)


def test_overrides_apply_like_run_recipes():
    recipe = loads_train_recipe("model: {weights: vampnet}\ndata: t\n", overrides=["steps=7", "optimizer.warmup=5"])
    assert (recipe.steps, recipe.warmup) == (7, 5)


BASE = "model: {weights: vampnet}\ndata: t\n"


@pytest.mark.parametrize(("line", "match"), [
    ("name: ../../x\n", r"3:7: name: must not contain a path separator"),
    ("name: ..\n", r"3:7: name: must not be '\.' or contain '\.\.'"),
    ("output: ../elsewhere\n", r"3:9: output: output name '\.\./elsewhere' refused"),
    ("output: /tmp/anywhere\n", r"3:9: output: output name '/tmp/anywhere' refused"),
])
def test_a_recipe_file_cannot_send_training_outputs_outside_its_folder(tmp_path, line, match):
    path = tmp_path / "shared.yaml"
    path.write_text(BASE + line)
    with pytest.raises(RecipeError, match=match):
        load_train_recipe(path)


def test_a_recipe_output_below_its_folder_and_a_command_line_output_anywhere_are_kept(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(BASE + "output: runs/first\n")
    assert load_train_recipe(path).output == str(tmp_path.resolve() / "runs" / "first")
    elsewhere = str(tmp_path.parent / "elsewhere")  # the user's own choice, not the file's
    assert load_train_recipe(path, overrides=[f"output={elsewhere}"]).output == elsewhere
