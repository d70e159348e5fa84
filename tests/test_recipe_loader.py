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
    assert message.startswith("--set sampling.temprature=1: sampling.temprature: unknown key")
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


# -- hostile files: every malformed recipe is a clean file:line:col error ----------------------
def laughs(levels: int) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_the_node_budget():
    with pytest.raises(vampkit.RecipeError, match=r"^x.yaml:\d+:\d+: .*more than 20000 values once aliases"):
        loads_recipe(laughs(12), file="x.yaml")


@pytest.mark.parametrize(("text", "problem"), [
    ("a: &a [*a]\n", "an alias refers to a value that contains it"),
    ("a: &a {b: *a}\n", "an alias refers to a value that contains it"),
    ("a: &a {<<: *a}\n", "an alias refers to a value that contains it"),
    ("a: " + "[" * 3000 + "]" * 3000 + "\n", "nested deeper than 64 levels"),
    ("".join("  " * i + f"k{i}:\n" for i in range(100)), "nested deeper than 64 levels"),
])
def test_self_references_and_deep_nesting_are_refused_without_recursion_error(text, problem):
    with pytest.raises(vampkit.RecipeError, match=r"^x.yaml:\d+:\d+: ") as info:
        loads_recipe(text, file="x.yaml")
    assert problem in str(info.value)


@pytest.mark.parametrize(("value", "problem"), [
    ("!!int abc", "seed: cannot read !!int 'abc'"),
    ("!!float x", "seed: cannot read !!float 'x'"),
    ("!!timestamp 2001-13-45", "seed: cannot read !!timestamp '2001-13-45'"),
    ("!!bool maybe", "seed: cannot read !!bool 'maybe': not a valid value"),
    ("!!int", "seed: the tag !!int needs a value"),
    ("!unknown 3", "seed: cannot read !unknown '3'"),
    ("!!python/object:os.system {}", "seed: the tag !!python/object:os.system is not supported"),
    ("!!set {a, b}", "seed: the tag !!set is not supported"),
])
def test_impossible_tagged_values_point_at_their_line(value, problem):
    with pytest.raises(vampkit.RecipeError) as info:
        loads_recipe(BASE + f"seed: {value}\n", file="x.yaml")
    assert str(info.value).startswith(f"x.yaml:8:7: {problem}")


@pytest.mark.parametrize(("text", "problem"), [
    ("output: {<<: 1}\n", "output: a merge key (<<) takes a mapping or a list of mappings"),
    ("? !!int abc\n: 1\n", "cannot read !!int 'abc'"),
    ("? [a, b]\n: 1\n", "keys must be plain scalars"),
    ("a: \x07\n", "invalid YAML: special characters are not allowed"),
])
def test_bad_keys_merges_and_characters_are_clean_errors(text, problem):
    with pytest.raises(vampkit.RecipeError, match=r"^x.yaml:\d+:\d+: ") as info:
        loads_recipe(BASE + text, file="x.yaml")
    assert problem in str(info.value)


def test_merge_keys_work_as_in_safe_load_with_own_keys_winning():
    text = "mask: {periodic: {period: 7}}\nsampling: &b {temperature: 0.5, steps: 3}\nc2f: {<<: *b, steps: 4}\n"
    recipe = loads_recipe(text)
    assert (recipe.c2f.temperature, recipe.c2f.steps) == (0.5, 4)


@pytest.mark.parametrize(("line", "problem"), [
    ("sampling: {temperature: .nan}", "sampling.temperature: must be a finite number, got nan"),
    ("sampling: {temperature: " + "9" * 400 + "}", "sampling.temperature: must be a finite number"),
    ("sampling: {sample_cutoff: 2}", "sampling.sample_cutoff: must lie in [-1, 1], got 2.0"),
    ("c2f: {top_p: .inf}", "c2f.top_p: must be a finite number, got inf"),
    ("variations: 100000000", "variations: must lie in [1, 256], got 100000000"),
    ("seed: -1", "seed: must lie in [0, 9223372036854775807], got -1"),
    ("name: ../escape", "name: must not contain a path separator"),
    ("name: a..b", "name: must not be '.' or contain '..'"),
    ('name: "a\\ud800"', "name: must not contain a lone surrogate"),
    ('name: "a\\tb"', "name: must not contain control characters"),
    ("name: " + "n" * 101, "name: must be at most 100 characters"),
    ("output: {template: '{stem:>999999999}'}", "output.template: '{stem:>999999999}': the width must be at most 64"),
    ("output: {template: '{seed:.100f}'}", "output.template: '{seed:.100f}': the precision must be at most 64"),
    ("output: {template: '{stem.__class__}'}", "attribute and index access are not allowed"),
    ("output: {template: '{stem[0]}'}", "attribute and index access are not allowed"),
    ("output: {template: '{}.wav'}", "output.template: every field needs a name"),
    ("output: {template: '{stem!r}'}", "conversions are not allowed"),
    ("output: {template: '{seed:s}'}", "output.template: bad template"),
    ("pipeline: [{load: {duration: .nan}}, encode, mask, vamp, decode, write]",
     "pipeline.0.load.duration: must be a finite number"),
    ("pipeline: [{load: {duration: 0}}, encode, mask, vamp, decode, write]",
     "pipeline.0.load.duration: must be > 0"),
    ("analysis: {beat_tracker: madmon}", "analysis.beat_tracker: unknown beat tracker 'madmon' (did you mean"),
    ("analysis: {onset_detector: simpel}", "analysis.onset_detector: unknown onset detector 'simpel' (did you mean"),
    ("analysis: {options: {beat: {}}}", "analysis.options.beat: unknown analysis 'beat' (did you mean 'beats'?)"),
    ("analysis: {cache: 2001-01-01}", "analysis.cache: expected true or false"),
])
def test_values_are_range_checked_at_their_line(line, problem):
    with pytest.raises(vampkit.RecipeError) as info:
        loads_recipe("mask: {periodic: {period: 7}}\n" + line + "\n", file="x.yaml")
    assert str(info.value).startswith("x.yaml:2:"), str(info.value)
    assert problem in str(info.value)


def test_every_error_of_a_file_is_reported_once_in_line_order():
    text = ("mask: {periodic: {period: -1, width: -2}}\nsampling: {temperature: .nan, top_p: 3}\n"
            "seed: x\nsampeling: {}\n")
    with pytest.raises(vampkit.RecipeError) as info:
        loads_recipe(text, file="x.yaml")
    lines = [str(e) for e in info.value.each()]
    assert lines == [
        "x.yaml:1:27: mask.periodic.period: must be >= 0, got -1",
        "x.yaml:1:38: mask.periodic.width: must be >= 0, got -2",
        "x.yaml:2:25: sampling.temperature: must be a finite number, got nan",
        "x.yaml:2:38: sampling.top_p: must lie in (0, 1], got 3.0",
        "x.yaml:3:7: seed: expected an integer, got 'x'",
        ("x.yaml:4:1: sampeling: unknown key 'sampeling' (did you mean 'sampling'?) (known: name, description, "
         "weights, input, output, seed, variations, device, mask, sampling, c2f, analysis, pipeline)"),
    ]
    assert str(info.value) == "\n".join(lines)


def test_a_parameter_error_names_the_key_once():
    with pytest.raises(vampkit.RecipeError) as info:
        loads_recipe("mask: {periodic: {period: -1}}\n", file="x.yaml")
    assert str(info.value) == "x.yaml:1:27: mask.periodic.period: must be >= 0, got -1"


@pytest.mark.parametrize(("option", "problem"), [
    ("seed=!!int abc", "--set seed=!!int abc: cannot read !!int 'abc'"),
    ("sampling.temperature=.nan", "--set sampling.temperature=.nan: sampling.temperature: must be a finite number"),
    ("mask=&a [*a]", "--set mask=&a [*a]: an alias refers to a value that contains it"),
    ("mask=" + "[" * 100 + "]" * 100, "nested deeper than 64 levels"),
    ("a" + ".a" * 100 + "=1", "the key is nested deeper than 64 levels"),
    ("name=a/b", "--set name=a/b: name: must not contain a path separator"),
])
def test_overrides_go_through_the_same_checks_and_are_named_by_the_option(tmp_path, option, problem):
    message, _ = error_of(tmp_path, BASE, [option])
    assert message.startswith("--set ") and problem in message


def test_a_template_override_that_is_not_yaml_is_taken_as_text(tmp_path):
    recipe = load_recipe(write(tmp_path, BASE), ["output.template={stem}.x.wav"])
    assert recipe.output.template == "{stem}.x.wav"


@pytest.mark.parametrize("text", ["mask: " + "x" * 5000 + "\n", "x" * 5000 + ": 1\n",
                                  "mask: periodic\npipeline: [" + "y" * 5000 + "]\n"])
def test_messages_about_huge_names_stay_short(text):
    with pytest.raises(vampkit.RecipeError) as info:
        loads_recipe(text, file="x.yaml")
    assert len(str(info.value)) < 700 and "\n" not in str(info.value)
