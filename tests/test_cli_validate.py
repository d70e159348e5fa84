"""`vampkit validate`: every error of every file, once each, in line order; --json; exit code 2."""

from __future__ import annotations

import json

from click.testing import CliRunner

from vampkit.cli import cli

BAD = "mask: {periodic: {period: -1, width: -2}}\nsampling: {temperature: .nan}\nseed: x\n"


def validate(*args):
    return CliRunner().invoke(cli, ["validate", *map(str, args)])


def test_a_valid_recipe_exits_zero_with_its_stages():
    result = validate("inpaint")
    assert result.exit_code == 0
    assert result.stdout == "inpaint: ok (inpaint: load -> encode -> mask -> vamp -> decode -> write)\n"


def test_every_error_of_a_file_is_one_line_in_line_order_and_the_exit_code_is_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    result = validate(path, "inpaint")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"Error: {path}:1:27: mask.periodic.period: must be >= 0, got -1",
        f"Error: {path}:1:38: mask.periodic.width: must be >= 0, got -2",
        f"Error: {path}:2:25: sampling.temperature: must be a finite number, got nan",
        f"Error: {path}:3:7: seed: expected an integer, got 'x'",
    ]
    assert "inpaint: ok" in result.stdout


def test_json_lists_each_recipe_with_where_key_and_problem(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    result = validate(path, "inpaint", "--json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert [entry["valid"] for entry in report] == [False, True]
    assert report[0]["errors"][0] == {"where": f"{path}:1:27", "key": "mask.periodic.period",
                                      "problem": "must be >= 0, got -1",
                                      "message": f"{path}:1:27: mask.periodic.period: must be >= 0, got -1"}
    assert len(report[0]["errors"]) == 4
    assert report[1]["stages"] == ["load", "encode", "mask", "vamp", "decode", "write"]


def test_a_missing_file_is_an_error_entry_not_a_traceback(tmp_path):
    result = validate(tmp_path / "nope.yaml", "--json")
    assert result.exit_code == 2
    assert "no such recipe file" in json.loads(result.stdout)[0]["errors"][0]["problem"]


def test_a_bad_override_is_reported_for_each_file():
    result = validate("inpaint", "compress", "--set", "seed=!!int abc")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["Error: --set seed=!!int abc: cannot read !!int 'abc': invalid literal "
                                          "for int() with base 10: 'abc'"] * 2
