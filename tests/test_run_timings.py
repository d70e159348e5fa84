"""A run's stage timings (manifest and ``vampkit run -v``) and its precision / compile settings."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from helpers_models import write_tiny_set

from vampkit.cli import cli
from vampkit.errors import RecipeError
from vampkit.examples import write_groove
from vampkit.recipes import load_recipe
from vampkit.timing import STAGES, format_stage_table, recording, stage_table, timed

FAST = ["sampling.steps=2", "c2f.steps=1", "variations=1"]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return write_tiny_set(tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="module")
def groove(tmp_path_factory):
    return write_groove(tmp_path_factory.mktemp("in") / "groove.wav", seconds=1.0, bpm=120)


def test_run_v_prints_every_stage_and_the_manifest_records_them(weights, groove, tmp_path):
    paths = ",".join(weights[k] for k in ("coarse", "c2f", "codec"))
    args = ["run", "loop-variation", "-i", str(groove), "-o", str(tmp_path), "--weights", paths,
            "--device", "cpu", "-q", "-v", "--precision", "fp32"] + [a for s in FAST for a in ("--set", s)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    for stage in (*STAGES, "total"):
        assert f"\n{stage} " in "\n" + result.output
    manifest = json.loads(next(tmp_path.glob("*.manifest.json")).read_text())
    stages = manifest["stages"]
    assert set(STAGES) <= set(stages) and stages["coarse"] > 0 and stages["c2f"] > 0 and stages["load"] > 0
    assert sum(v for k, v in stages.items() if k != "total") == pytest.approx(stages["total"], abs=1e-3)
    assert manifest["recipe"]["precision"] == "fp32" and manifest["recipe"]["compile"] is False


def test_precision_and_compile_are_recipe_keys():
    recipe = load_recipe("loop-variation", ["precision=bf16", "compile=true"])
    assert recipe.precision == "bf16" and recipe.compile is True
    assert load_recipe("loop-variation").precision == "fp32"


@pytest.mark.parametrize("assignment,message", [("precision=fp8", "precision: expected one of fp32, bf16"),
                                                ("compile=3", "compile: expected true or false")])
def test_bad_precision_or_compile_names_the_key(assignment, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe("loop-variation", [assignment])


def test_timed_adds_to_the_active_recording_only():
    with timed("coarse"):
        pass  # no recording: nothing to add to, no error
    with recording({}) as timings:
        with timed("coarse"):
            pass
        with timed("coarse"):
            pass
    assert set(timings) == {"coarse"} and timings["coarse"] >= 0


def test_stage_table_maps_the_runner_labels_and_keeps_analyses_out_of_mask():
    rows = stage_table({"load models": 2.0, "resolve weights": 0.5, "stage mask": 3.0, "analyse": 2.0,
                        "coarse": 4.0, "total": 12.0})
    assert rows["load"] == 2.5 and rows["mask"] == 1.0 and rows["analyse"] == 2.0
    assert rows["other"] == pytest.approx(12.0 - 2.5 - 1.0 - 2.0 - 4.0)
    assert "coarse" in format_stage_table(rows)

