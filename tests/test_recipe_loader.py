"""Recipe files: validation errors carry file:line:col and the key; overrides; shipped recipes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vampkit
from vampkit.recipes import load_recipe, loads_recipe, override, shipped_recipes

BASE = """\
name: t
mask:
  all-of:
    - periodic: {period: 7}
    - codebooks: {keep: 3}
sampling:
  temperature: 0.9
"""


def write(tmp_path, text, name="x.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(tmp_path, text, overrides=()):
    path = write(tmp_path, text)
    with pytest.raises(vampkit.RecipeError) as info:
        load_recipe(path, overrides)
    return str(info.value), str(path)


def test_wrong_type_names_file_line_column_and_key(tmp_path):
    message, path = error_of(tmp_path, BASE.replace("0.9", "hot"))
    assert message == f"{path}:7:16: sampling.temperature: expected a number, got 'hot'"


def test_unknown_top_level_key_suggests_the_right_one(tmp_path):
    message, path = error_of(tmp_path, BASE + "sampeling: {}\n")
    assert message.startswith(f"{path}:8:1: sampeling: unknown key 'sampeling' (did you mean 'sampling'?)")


def test_unknown_mask_name_points_into_the_nested_spec(tmp_path):
    message, path = error_of(tmp_path, BASE.replace("codebooks: {keep: 3}", "codebook: {keep: 3}"))
    assert message.startswith(f"{path}:5:7: mask.all-of.1.codebook: unknown mask generator 'codebook'")
    assert "did you mean 'codebooks'" in message


def test_bad_mask_parameter_value_points_at_its_line(tmp_path):
    text = "mask:\n  periodic:\n    period: 7\n    width: -2\n"
    message, path = error_of(tmp_path, text)
    assert message.startswith(f"{path}:4:12: mask.periodic.width:")
    assert ">= 0" in message


def test_unknown_stage_suggests_a_name(tmp_path):
    message, path = error_of(tmp_path, BASE + "pipeline: [load, encode, mask, vampp]\n")
    assert message.startswith(f"{path}:8:")
    assert "pipeline.3: unknown stage 'vampp' (did you mean 'vamp'?)" in message


def test_missing_mask_is_an_error_when_a_stage_needs_it(tmp_path):
    message, path = error_of(tmp_path, "name: t\n")
    assert "mask: missing" in message and message.startswith(path)


def test_invalid_yaml_names_its_position(tmp_path):
    message, path = error_of(tmp_path, "mask: [periodic\n")
    assert message.startswith(f"{path}:2:1: invalid YAML")


def test_duplicate_keys_are_refused(tmp_path):
    message, _ = error_of(tmp_path, BASE + "seed: 1\nseed: 2\n")
    assert "seed: duplicate key" in message


def test_explicit_weights_need_all_three_paths(tmp_path):
    message, _ = error_of(tmp_path, BASE + "weights: {coarse: a.pth, c2f: b.pth}\n")
    assert "weights: missing key 'codec'" in message


def test_unknown_template_field_is_refused(tmp_path):
    message, _ = error_of(tmp_path, BASE + "output: {template: '{stem}.{seeed}.wav'}\n")
    assert "output.template: unknown field '{seeed}' (did you mean 'seed'?)" in message


def test_override_replaces_a_value(tmp_path):
    recipe = load_recipe(write(tmp_path, BASE), ["sampling.temperature=0.5", "mask.all-of.0.periodic.period=13"])
    assert recipe.sampling.temperature == 0.5
    assert recipe.mask.masks[0].period == 13


def test_bad_override_is_named_by_the_option(tmp_path):
    message, _ = error_of(tmp_path, BASE, ["sampling.temprature=1"])
    assert message.startswith("--set sampling.temprature=1: sampling.temprature: unknown parameter")
    assert "did you mean 'temperature'" in message


def test_override_without_equals_sign_is_an_error(tmp_path):
    message, _ = error_of(tmp_path, BASE, ["sampling.temperature"])
    assert "expected KEY=VALUE" in message


def test_c2f_defaults_to_two_steps_as_upstream():
    recipe = loads_recipe(BASE)
    assert recipe.c2f.steps == 2 and recipe.sampling.steps == 12


def test_sweep_points_are_validated_before_running(tmp_path):
    text = BASE + "pipeline:\n  - sweep:\n      grid:\n        mask.all-of.0.periodic.period: [7, -1]\n  - load\n"
    message, path = error_of(tmp_path, text)
    assert message.startswith(f"{path}:11:40: sweep point period=-1:")


@pytest.mark.parametrize("name", shipped_recipes())
def test_every_shipped_recipe_validates(name):
    recipe = load_recipe(name)
    assert recipe.name == name and recipe.pipeline


def test_shipped_recipes_cover_every_technique():
    assert {"loop-variation", "inpaint", "continue", "beat-driven", "compress", "long-audio", "sweep",
            "timbre-transfer", "small-variation", "medium-variation", "large-variation"} <= set(shipped_recipes())


@settings(max_examples=25, deadline=None)
@given(st.floats(min_value=0, max_value=50, allow_nan=False), st.integers(min_value=1, max_value=200))
def test_numeric_overrides_round_trip(temperature, steps):
    recipe = override(loads_recipe(BASE), [f"sampling.temperature={temperature!r}", f"sampling.steps={steps}"])
    assert recipe.sampling.temperature == pytest.approx(temperature) and recipe.sampling.steps == steps
