"""Experiment files: conditions, sweeps, baselines, metrics; errors at file:line:col before any model."""

from __future__ import annotations

import pytest

from vampkit.errors import RecipeError
from vampkit.eval import load_experiment, loads_experiment

HEAD = "name: t\ndata: {excerpt: 1.0}\n"


def test_a_sweep_expands_to_one_labelled_condition_per_point():
    exp = loads_experiment(HEAD + """
conditions:
  - label: "P=16, {steps} steps"
    mask: {periodic: {period: 16}}
    sweep: {sampling.steps: [1, 4, 12]}
""")
    assert [c.label for c in exp.conditions] == ["P=16, 1 steps", "P=16, 4 steps", "P=16, 12 steps"]
    assert [c.steps for c in exp.conditions] == [1, 4, 12]
    assert {c.family for c in exp.conditions} == {"P=16, {steps} steps"}  # one line in the plots


def test_a_list_of_points_sweeps_keys_together():
    exp = loads_experiment(HEAD + """
conditions:
  - label: compress
    mask: {any-of: [{periodic: {period: 1}}, {codebooks: {keep: 1}}]}
    sweep:
      - {mask.any-of.0.periodic.period: 4, mask.any-of.1.codebooks.keep: 4}
      - {mask.any-of.0.periodic.period: 16, mask.any-of.1.codebooks.keep: 4}
""")
    assert [c.label for c in exp.conditions] == ["compress period=4 keep=4", "compress period=16 keep=4"]
    assert [c.recipe.mask.masks[0].period for c in exp.conditions] == [4, 16]


def test_a_condition_can_start_from_a_shipped_recipe_with_sampling_overrides():
    exp = loads_experiment(HEAD + """
conditions:
  - {label: shipped, recipe: compress, sampling: {temperature: 0.5}}
""")
    (cond,) = exp.conditions
    assert cond.recipe.sampling.steps == 36 and cond.recipe.sampling.temperature == 0.5
    assert cond.recipe.mask.masks[0].period == 8


def test_baselines_need_no_mask():
    exp = loads_experiment(HEAD + "conditions: [{baseline: original}, {baseline: reconstructed}, {baseline: coarse2fine}]\n")
    assert [(c.label, c.needs_model) for c in exp.conditions] == [
        ("original", False), ("reconstructed", False), ("coarse2fine", True)]


@pytest.mark.parametrize("body,where,words", [
    ("conditions:\n  - label: x\n    mask: {periodic: {period: -1}}\n", "e.yaml:5:31", "period"),
    ("conditions:\n  - label: x\n    mask: {periodik: {period: 2}}\n", "e.yaml:5:", "periodik"),
    ("conditions:\n  - label: x\n    mask: {periodic: {}}\n    sweep: {sampling.steps: [1, 0]}\n", "e.yaml:6:", "steps"),
    ("conditions:\n  - label: x\n    mask: {periodic: {}}\n    sampling: {temperature: hot}\n", "e.yaml:6:", "temperature"),
    ("conditions:\n  - {label: x, mask: {periodic: {}}}\n  - {label: x, mask: {prefix: {}}}\n", "e.yaml:5:", "two conditions"),
    ("conditions:\n  - baseline: nope\n", "e.yaml:4:", "unknown baseline"),
    ("metrics: [mel, nope]\nconditions: [{baseline: original}]\n", "e.yaml:3:", "unknown metric"),
])
def test_an_invalid_condition_fails_with_file_line_col(body, where, words):
    with pytest.raises(RecipeError) as info:
        loads_experiment(HEAD + body, file="e.yaml")
    assert str(info.value).startswith(where) and words in str(info.value)


def test_an_invalid_condition_fails_before_any_model_loads(tmp_path, monkeypatch):
    import vampkit.eval.engine as models
    from vampkit.eval import evaluate

    monkeypatch.setattr(models, "load_engine", lambda *a, **k: pytest.fail("a model was loaded"))
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD + "conditions:\n  - label: x\n    mask: {periodic: {period: -1}}\n")
    with pytest.raises(RecipeError, match=r"bad.yaml:5:\d+: mask.periodic.period"):
        evaluate(path, tmp_path, out=tmp_path / "out")


@pytest.mark.parametrize("name", ["compression", "sampling-steps", "musical"])
def test_the_paper_grids_validate(name):
    exp = load_experiment(name)
    assert {"original", "reconstructed"} <= {c.label for c in exp.conditions}
    assert exp.metric_labels == ("mel", "fad")


def test_the_grids_hold_the_paper_conditions():
    steps = [c.steps for c in load_experiment("sampling-steps").conditions if c.steps]
    assert steps == [1, 4, 12, 36, 64, 72]
    compression = {c.label for c in load_experiment("compression").conditions}
    assert {"1 codebooks, period 1", "4 codebooks, period 4", "4 codebooks, period 16", "4 codebooks, period 32",
            "token noise 0.25", "token noise 0.5", "token noise 0.75", "coarse2fine"} <= compression
    trims = {c.label: c.trim for c in load_experiment("musical").conditions}
    assert trims["inpainting 0.5 s context"] == 0.5 and trims["inpainting 1.0 s context"] == 1.0


@pytest.mark.parametrize("name", ["a" * 5000, "no/such/dir/x.yaml", "bad\udcffname"])
def test_an_impossible_experiment_name_is_one_short_error(name):
    with pytest.raises(RecipeError, match="no such experiment file") as info:
        load_experiment(name)
    assert len(str(info.value)) < 400


def test_a_folder_or_an_oversized_file_is_refused_cleanly(tmp_path):
    with pytest.raises(RecipeError, match="cannot read the experiment"):
        load_experiment(tmp_path)
    huge = tmp_path / "huge.yaml"
    huge.write_text("conditions:\n" + "  - {baseline: original}\n" * 20000)
    with pytest.raises(RecipeError, match="longer than"):
        load_experiment(huge)
