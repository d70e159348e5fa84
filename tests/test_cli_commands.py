"""The command line's own behaviour: a light import, ``python -m vampkit``, ``recipes``, YAML
spellings in ``masks``, ``run --json`` and per-point dry runs, ``preview``'s output folder.

Commands run in-process through click's runner where a subprocess adds nothing; the import
and ``-m`` checks need a fresh interpreter and use one."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import vampkit
from vampkit.cli import cli
from vampkit.plaindata import jsonable, yaml_text

PNG = b"\x89PNG\r\n\x1a\n"


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    return set(out.split())


def test_importing_the_cli_does_not_import_torch():
    loaded = modules_after("import vampkit.cli")
    assert "vampkit.cli" in loaded
    assert not {"torch", "scipy", "numpy"} & loaded


def test_importing_vampkit_does_not_import_torch_until_a_name_needs_it():
    assert "torch" not in modules_after("import vampkit; vampkit.__version__; vampkit.RecipeError")
    assert "torch" in modules_after("import vampkit; vampkit.Mask")


def test_from_import_and_dir_see_every_public_name():
    from vampkit import Mask, run_recipe  # noqa: F401 - the import is the test

    assert set(vampkit.__all__) <= set(dir(vampkit))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        vampkit.nope  # noqa: B018 - reading it raises


def test_python_dash_m_runs_the_command_line():
    proc = subprocess.run([sys.executable, "-m", "vampkit", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert all(name in proc.stdout for name in ("run", "validate", "recipes", "masks", "preview"))


# -- recipes ------------------------------------------------------------------------------
def test_recipes_lists_shipped_recipes_with_their_descriptions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("recipes")
    assert result.exit_code == 0
    assert "shipped:" in result.output and "local:" not in result.output
    assert re.search(r"^  loop-variation +periodic prompt P=7 on 4 codebooks, 4 variations joined end to end$",
                     result.output, re.M)


def test_recipes_lists_local_recipe_files_and_the_error_of_a_broken_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yaml").write_text("name: mine\ndescription: my own prompt\nmask: periodic\n")
    (tmp_path / "broken.yml").write_text("mask: {nope: 1}\n")
    (tmp_path / "compose.yaml").write_text("services: {web: {image: x}}\n")  # not a recipe: not listed
    (tmp_path / "grid.yaml").write_text("name: grid\nconditions: [{baseline: original}]\n")  # an experiment
    (tmp_path / "tune.yaml").write_text("name: tune\nmodel: {weights: vampnet}\ndata: t\n")  # a training recipe
    rows = {row["name"]: row for row in json.loads(invoke("recipes", "--json").output)}
    assert "grid.yaml" not in rows and "tune.yaml" not in rows
    assert rows["mine.yaml"] == {"kind": "local", "name": "mine.yaml", "path": "mine.yaml",
                                 "description": "my own prompt", "error": None}
    assert rows["broken.yml"]["kind"] == "local" and "unknown mask generator 'nope'" in rows["broken.yml"]["error"]
    assert "compose.yaml" not in rows
    assert rows["compress"]["kind"] == "shipped" and rows["compress"]["error"] is None


def test_recipes_reads_the_folders_it_is_given(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "x.yaml").write_text("description: in a folder\nmask: periodic\n")
    result = invoke("recipes", tmp_path / "r")
    assert "local:" in result.output and "in a folder" in result.output


def test_every_shipped_recipe_is_package_data_found_by_name():
    from vampkit.recipes.loader import SHIPPED_DIR, resolve_recipe_path, shipped_recipes

    assert SHIPPED_DIR == Path(vampkit.__file__).parent / "recipes" / "shipped"
    assert len(shipped_recipes()) >= 10
    assert all(resolve_recipe_path(name).parent == SHIPPED_DIR for name in shipped_recipes())


def test_the_checkouts_recipes_folder_links_every_shipped_recipe():
    """README and docs run ``recipes/<name>.yaml`` from a checkout: each is the package's file."""
    from vampkit.recipes.loader import SHIPPED_DIR, shipped_recipes

    root = Path(__file__).resolve().parents[1]
    for name in shipped_recipes():
        assert (root / "recipes" / f"{name}.yaml").resolve() == (SHIPPED_DIR / f"{name}.yaml").resolve()


# -- masks: YAML spellings ----------------------------------------------------------------
def test_masks_prints_defaults_as_a_recipe_spells_them():
    out = invoke("masks").output
    assert "(default false)" in out and "(default null)" in out
    assert not any(f"(default {word})" in out for word in ("False", "True", "None"))


def test_masks_json_defaults_are_json_values():
    rows = json.loads(invoke("masks", "--json").output)
    periodic = {p["name"]: p for p in next(r for r in rows if r["name"] == "periodic")["parameters"]}
    assert periodic["random_offset"]["default"] is False


JSON_LIKE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@given(JSON_LIKE)
def test_yaml_text_reads_back_as_the_same_value(value):
    assert yaml.safe_load(yaml_text(value)) == value


@given(JSON_LIKE)
def test_jsonable_values_survive_a_json_round_trip(value):
    assert json.loads(json.dumps(jsonable(value))) == value


def test_jsonable_turns_tuples_paths_and_non_finite_numbers_into_strict_json():
    value = jsonable({"a": (1, Path("x/y")), 2: math.inf, "none": math.nan})
    assert value == {"a": [1, "x/y"], "2": "inf", "none": None}
    json.dumps(value, allow_nan=False)  # what strict readers (browsers, jq) accept


# -- run ------------------------------------------------------------------------------------
def test_run_json_dry_run_reports_inputs_and_no_outputs(groove, tmp_path):
    result = invoke("run", "compress", "-i", groove, "--dry-run", "--json", "--out", tmp_path / "o")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["ok"] is True and summary["dry_run"] is True
    assert summary["outputs"] == [] and summary["failures"] == [] and summary["manifest"] is None
    assert summary["inputs"][0]["input"] == str(groove) and summary["inputs"][0]["kept_fraction"] > 0


def test_run_json_lists_failures_and_exits_1(groove, tmp_path):
    missing = tmp_path / "missing.wav"
    result = invoke("run", "compress", "-i", groove, "-i", missing, "--dry-run", "--json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["ok"] is False and summary["failures"] == [{"input": str(missing),
                                                               "error": f"{missing}: no such file"}]


def test_an_empty_or_impossible_input_path_fails_alone_and_never_means_this_folder(groove, tmp_path, monkeypatch):
    monkeypatch.chdir(groove.parent)  # a folder with audio in it: "" must not run it
    result = invoke("run", "compress", "-i", "", "-i", "a" * 5000, "-i", groove, "--dry-run", "--json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert [i["input"] for i in summary["inputs"] if i.get("status") != "failed"] == [str(groove)]
    assert summary["failures"][0] == {"input": "''", "error": "an empty input path"}
    assert summary["failures"][1]["error"] == "not a usable path (File name too long)"
    assert len(summary["failures"][1]["input"]) < 200


def test_a_sweep_dry_run_prints_one_line_per_point(groove):
    result = invoke("run", "sweep", "-i", groove, "--dry-run", "-n", "2")
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 8  # 4 points x 2 variations
    for period in (7, 13, 16, 32):
        assert sum(f"period={period}]" in line for line in lines) == 2
    assert all(line.startswith(f"{groove} [v") and "bit/s" in line for line in lines)


# -- validate: recipes, experiments, training recipes -----------------------------------------
def test_validate_tells_experiments_and_training_recipes_by_their_keys(tmp_path):
    experiment = tmp_path / "mine.yaml"
    experiment.write_text("conditions:\n  - baseline: reconstructed\n  - label: p\n    mask: {periodic: {period: -2}}\n")
    training = tmp_path / "tune.yaml"
    training.write_text("model: {weights: vampnet}\ndata: tokens\nsteps: -3\n")
    result = invoke("validate", experiment, training, "compression", "--json")
    assert result.exit_code == 2
    report = {Path(entry["recipe"]).name: entry for entry in json.loads(result.stdout)}
    assert [report[k]["kind"] for k in ("mine.yaml", "tune.yaml", "compression")] == ["experiment", "train", "experiment"]
    assert report["mine.yaml"]["errors"][0]["message"].startswith(f"{experiment}:4:")
    assert "period" in report["mine.yaml"]["errors"][0]["message"]
    assert report["tune.yaml"]["errors"][0]["message"].startswith(f"{training}:3:8: steps: must be >= 1")
    assert report["compression"]["valid"] and len(report["compression"]["conditions"]) == 10


def test_validate_kind_can_be_named(tmp_path):
    training = tmp_path / "tune.yaml"
    training.write_text("model: {weights: vampnet}\ndata: tokens\n")
    assert invoke("validate", training).output.startswith(f"{training}: ok (training recipe tune:")
    as_recipe = invoke("validate", training, "--kind", "recipe")
    assert as_recipe.exit_code == 2 and "unknown key 'model'" in as_recipe.output


# -- preview --------------------------------------------------------------------------------
def test_preview_writes_into_the_output_folder_like_run(groove, tmp_path):
    result = invoke("preview", "compress", "-i", groove, "-o", tmp_path / "previews", "--variation", "1")
    assert result.exit_code == 0
    assert (tmp_path / "previews" / "groove.compress.1.mask.png").read_bytes()[:8] == PNG


def test_preview_png_option_names_the_file(groove, tmp_path):
    invoke("preview", "compress", "-i", groove, "--png", tmp_path / "m.png")
    assert (tmp_path / "m.png").read_bytes()[:8] == PNG


def test_preview_replaces_an_existing_file_only_with_overwrite_and_never_the_input(groove, tmp_path, run_vampkit):
    mine = tmp_path / "mine.png"
    mine.write_bytes(b"not vampkit's")
    refused = run_vampkit("preview", "compress", "-i", groove, "--png", mine, cwd=tmp_path)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"refusing to write '{mine}': the file exists (use --overwrite" in refused.stderr
    assert mine.read_bytes() == b"not vampkit's"
    assert invoke("preview", "compress", "-i", groove, "--png", mine, "--overwrite").exit_code == 0
    assert mine.read_bytes()[:8] == PNG
    song = tmp_path / "song.wav"
    song.write_bytes(Path(groove).read_bytes())
    kept = run_vampkit("preview", "compress", "-i", song, "--png", song, "--overwrite", cwd=tmp_path)
    assert kept.returncode == 1 and "it is the input" in kept.stderr
    assert song.read_bytes() == Path(groove).read_bytes()


def test_preview_still_accepts_an_old_style_png_after_o_with_a_warning(groove, tmp_path):
    result = invoke("preview", "compress", "-i", groove, "-o", tmp_path / "old.png")
    assert result.exit_code == 0 and (tmp_path / "old.png").read_bytes()[:8] == PNG
    assert "-o is the output folder now" in result.stderr
