"""Runs never write outside --out, never replace a file they did not create, keep every
manifest, and give the same bytes for the same seed (plumbing with the test double of
tests/_pipeline_doubles.py, not a model; tests/test_cli_exit_codes.py runs real tiny models)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _pipeline_doubles import TINY, FillEngine
from vampkit.errors import OutputPathError, RecipeError, VampkitError
from vampkit.pipeline import run_recipe
from vampkit.pipeline.state import Env, variation_seed
from vampkit.recipes import loads_recipe

SR = TINY.sample_rate


def write_input(path: Path, seconds: float = 0.3, freq: float = 220.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(SR * seconds)) / SR
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype("float32"), SR)
    return path


def recipe_text(**changes) -> str:
    data = {"name": "r", "mask": {"periodic": {"period": 3}}, "sampling": {"steps": 2}, "c2f": {"steps": 1}}
    data.update(changes)
    return yaml.safe_dump(data)


def run(recipe, inputs, out, **kw):
    if isinstance(recipe, str) and "\n" in recipe:
        recipe = loads_recipe(recipe, file="r.yaml")
    engine = kw.pop("engine", None) or FillEngine()
    return run_recipe(recipe, [str(p) for p in inputs], out, engine=engine, **kw)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# -- nothing outside --out -----------------------------------------------------------------
@pytest.mark.parametrize("changes, key", [
    ({"output": {"template": "../../x_{stem}.wav"}}, "output.template"),
    ({"output": {"template": "/tmp/vampkit-escape-{stem}.wav"}}, "output.template"),
    ({"output": {"template": "{recipe}.wav"}, "name": "../evil"}, "name"),
])
def test_an_escaping_template_or_name_stops_the_run_before_any_work(tmp_path, changes, key):
    song = write_input(tmp_path / "in" / "song.wav")
    engine = FillEngine()
    before = snapshot(tmp_path)
    try:
        recipe = loads_recipe(recipe_text(**changes), file="r.yaml")
    except RecipeError as exc:  # a name refused when the recipe is loaded is as good
        assert "name" in str(exc)
        return
    with pytest.raises(OutputPathError) as info:
        run(recipe, [song], tmp_path / "a" / "out", engine=engine)
    assert f" {key}: " in str(info.value) and str(info.value).startswith("r.yaml:")
    assert engine.calls == [] and snapshot(tmp_path) == before
    assert not Path("/tmp/vampkit-escape-song.wav").exists()


def test_the_error_points_at_the_template_line_in_the_recipe(tmp_path):
    song = write_input(tmp_path / "song.wav")
    text = "name: r\nmask: {periodic: {period: 3}}\noutput:\n  template: ../{stem}.wav\n"
    with pytest.raises(OutputPathError, match=r"^r\.yaml:4:13: output\.template: "):
        run(text, [song], tmp_path / "out")


def test_a_template_set_on_the_command_line_is_named_as_such(tmp_path):
    song = write_input(tmp_path / "song.wav")
    with pytest.raises(OutputPathError, match=r"--set output.template=../x.wav"):
        run("compress", [song], tmp_path / "out", overrides=["output.template=../x.wav"])


def test_a_symlinked_subfolder_cannot_lead_outside(tmp_path):
    song = write_input(tmp_path / "song.wav")
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir(), elsewhere.mkdir()
    (out / "sub").symlink_to(elsewhere)
    with pytest.raises(OutputPathError, match="outside the output folder"):
        run(recipe_text(output={"template": "sub/{stem}.wav"}), [song], out)
    assert list(elsewhere.iterdir()) == []


def test_a_recipe_output_dir_cannot_leave_the_current_folder(tmp_path, monkeypatch):
    song = write_input(tmp_path / "w" / "song.wav")
    monkeypatch.chdir(tmp_path / "w")
    with pytest.raises(OutputPathError, match=r"^r\.yaml:\d+:\d+: output\.dir: "):
        run(recipe_text(output={"dir": "../elsewhere"}), [song], None)
    assert not (tmp_path / "elsewhere").exists()


PIECES = st.sampled_from(["{stem}", "{variation}", "{recipe}", "{seed}", "..", "/", "x", ".", "-", "ABS/"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(template=st.lists(PIECES, min_size=1, max_size=6).map("".join),
       name=st.sampled_from(["r", "..", "a/b", "../up", ".", "ok-name"]))
def test_for_any_template_and_name_every_written_file_is_inside_out(template, name):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        deep = root / "1" / "2" / "3" / "4" / "5" / "6" / "7"
        song = write_input(deep / "in" / "song.wav", seconds=0.1)
        out = deep / "out"
        template = template.replace("ABS/", f"{root}/abs/") + ".wav"
        before = set(snapshot(root))
        try:
            recipe = loads_recipe(recipe_text(name=name, variations=2, output={"template": template}), file="r.yaml")
            result = run(recipe, [song], out)
        except VampkitError:
            result = None
        new = set(snapshot(root)) - before
        assert all((root / p).resolve().is_relative_to(out.resolve()) for p in new), (template, name, new)
        if result is not None:
            assert all(p.resolve().is_relative_to(out.resolve()) for p in result.outputs)


# -- nothing replaced ----------------------------------------------------------------------
def test_an_existing_output_is_kept_and_the_input_fails_without_overwrite(tmp_path):
    song = write_input(tmp_path / "song.wav")
    out = tmp_path / "out"
    out.mkdir()
    (out / "song.r.0.0.wav").write_bytes(b"not ours")
    engine = FillEngine()
    result = run(recipe_text(), [song], out, engine=engine)
    assert not result.ok and "exists and this run did not create it" in result.failures[0].error
    assert (out / "song.r.0.0.wav").read_bytes() == b"not ours"
    assert engine.calls == []  # refused before the model's work
    assert result.manifest_path is not None and result.manifest["inputs"][0]["status"] == "failed"


def test_overwrite_replaces_an_existing_output(tmp_path):
    song = write_input(tmp_path / "song.wav")
    out = tmp_path / "out"
    out.mkdir()
    (out / "song.r.0.0.wav").write_bytes(b"old")
    result = run(recipe_text(), [song], out, overwrite=True)
    assert result.ok and soundfile.info(out / "song.r.0.0.wav").frames > 0


@pytest.mark.parametrize("overwrite", [False, True])
def test_running_a_folder_into_itself_never_replaces_another_input(tmp_path, overwrite):
    folder = tmp_path / "songs"
    a = write_input(folder / "a.wav")
    victim = write_input(folder / "a.v.wav", freq=330.0)
    before = victim.read_bytes()
    result = run(recipe_text(output={"template": "{stem}.v.wav"}), [folder], folder, overwrite=overwrite)
    assert victim.read_bytes() == before
    failed = {Path(f.input).name: f.error for f in result.failures}
    assert "a.wav" in failed and ("input of this batch" in failed["a.wav"] or "exists" in failed["a.wav"])
    assert a.exists()


def test_two_inputs_with_one_output_name_fail_the_second_not_overwrite_the_first(tmp_path):
    first = write_input(tmp_path / "x" / "song.wav")
    second = write_input(tmp_path / "y" / "song.wav", freq=440.0)
    result = run(recipe_text(), [first, second], tmp_path / "out", overwrite=True)
    assert [Path(f.input) for f in result.failures] == [second]
    assert "already wrote it for input" in result.failures[0].error


NAMES = st.sampled_from(["song.r.0.0.wav", "song.r.0.1.wav", "other.wav", "song.wav", "r.0.manifest.json"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(existing=st.lists(NAMES, unique=True, max_size=4), into_input_folder=st.booleans())
def test_no_pre_existing_file_changes_without_overwrite(existing, into_input_folder):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        song = write_input(root / "in" / "song.wav", seconds=0.1)
        out = song.parent if into_input_folder else root / "out"
        out.mkdir(exist_ok=True)
        for name in existing:
            if not (out / name).exists():
                (out / name).write_bytes(name.encode())
        before = snapshot(root)
        run(recipe_text(variations=2), [song], out)
        after = snapshot(root)
        assert {k: after.get(k) for k in before} == before


# -- resume --------------------------------------------------------------------------------
def test_skip_existing_skips_inputs_already_done_and_records_them(tmp_path):
    songs = [write_input(tmp_path / "in" / f"s{i}.wav", freq=200.0 + 50 * i) for i in range(3)]
    out = tmp_path / "out"
    first = run(recipe_text(variations=2), songs, out)
    assert first.ok
    done = snapshot(out)
    engine = FillEngine()
    again = run(recipe_text(variations=2), songs, out, skip_existing=True, engine=engine)
    assert again.ok and sorted(again.skipped) == sorted(songs) and engine.calls == []
    statuses = {r["status"] for r in again.manifest["inputs"]}
    assert statuses == {"skipped"} and again.manifest_path.exists()
    assert {k: v for k, v in snapshot(out).items() if not k.endswith(".manifest.json")} == \
        {k: v for k, v in done.items() if not k.endswith(".manifest.json")}


def test_skip_existing_resumes_an_interrupted_batch_with_the_same_bytes(tmp_path):
    songs = [write_input(tmp_path / "in" / f"s{i}.wav", freq=200.0 + 50 * i) for i in range(2)]
    out = tmp_path / "out"
    run(recipe_text(variations=2, seed=4), songs, out)
    lost = out / "s1.r.4.1.wav"
    original = lost.read_bytes()
    lost.unlink()
    result = run(recipe_text(variations=2, seed=4), songs, out, skip_existing=True)
    assert result.ok and result.skipped == (songs[0],)
    assert lost.read_bytes() == original


# -- manifests -----------------------------------------------------------------------------
def test_successive_runs_into_one_folder_keep_every_manifest(tmp_path):
    a, b = write_input(tmp_path / "a.wav"), write_input(tmp_path / "b.wav", freq=300.0)
    out = tmp_path / "out"
    first, second = run(recipe_text(), [a], out), run(recipe_text(), [b], out)
    manifests = sorted(out.glob("*.manifest.json"))
    assert len(manifests) == 2 and first.run_id != second.run_id
    for result in (first, second):
        assert result.run_id in result.manifest_path.name
        assert json.loads(result.manifest_path.read_text())["run_id"] == result.run_id


def test_a_manifest_that_cannot_be_written_is_a_clean_error_after_the_work(tmp_path, monkeypatch):
    from vampkit.pipeline import manifest

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(manifest, "atomic_path", full_disk)
    song = write_input(tmp_path / "song.wav")
    result = run(recipe_text(), [song], tmp_path / "out")
    assert result.outputs and all(p.exists() for p in result.outputs)
    assert result.manifest_path is None and not result.ok
    assert "cannot write the manifest" in result.manifest_error and "No space left" in result.manifest_error


@pytest.mark.parametrize("name", ["x" * 250, "bad\x00name", "bad\udc80name"])
def test_a_recipe_name_unusable_as_a_file_name_is_refused_before_any_work(tmp_path, name):
    song = write_input(tmp_path / "song.wav")
    engine = FillEngine()
    try:
        recipe = loads_recipe(recipe_text(name=name, output={"template": "{stem}.wav"}), file="r.yaml")
    except RecipeError as exc:
        assert "name" in str(exc)
        return
    with pytest.raises(OutputPathError, match=r"r\.yaml:\d+:\d+: name: "):
        run(recipe, [song], tmp_path / "out", engine=engine)
    assert engine.calls == [] and not (tmp_path / "out").exists()


def test_the_manifest_documents_the_seed_derivation(tmp_path):
    song = write_input(tmp_path / "song.wav")
    manifest = run(recipe_text(), [song], tmp_path / "out").manifest
    assert "sha256" in manifest["seed_derivation"] and manifest["run_id"]


# -- seeds and determinism -----------------------------------------------------------------
@given(st.integers(-(2**40), 2**40), st.integers(0, 10_000), st.integers(-(2**40), 2**40), st.integers(0, 10_000))
def test_different_seed_variation_pairs_get_different_seeds(s1, v1, s2, v2):
    if (s1, v1) != (s2, v2):
        assert variation_seed(s1, v1) != variation_seed(s2, v2)
    assert 0 <= variation_seed(s1, v1) < 2**63


def test_seed_plus_one_does_not_repeat_the_next_variation(tmp_path):
    song = write_input(tmp_path / "song.wav")
    a = run(recipe_text(seed=3, variations=2), [song], tmp_path / "a")
    b = run(recipe_text(seed=4, variations=1), [song], tmp_path / "b")
    assert (tmp_path / "a" / "song.r.3.1.wav").read_bytes() != (tmp_path / "b" / "song.r.4.0.wav").read_bytes()
    assert a.ok and b.ok


def test_the_same_seed_gives_byte_identical_files(tmp_path):
    song = write_input(tmp_path / "song.wav")
    run(recipe_text(seed=9, variations=2), [song], tmp_path / "a")
    run(recipe_text(seed=9, variations=2), [song], tmp_path / "b")
    for name in ("song.r.9.0.wav", "song.r.9.1.wav"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_a_variation_is_the_same_whatever_the_number_of_variations(tmp_path):
    song = write_input(tmp_path / "song.wav")
    run(recipe_text(seed=2, variations=2), [song], tmp_path / "few")
    engine = FillEngine()
    run(recipe_text(seed=2, variations=19), [song], tmp_path / "many", engine=engine)
    assert (tmp_path / "few" / "song.r.2.1.wav").read_bytes() == (tmp_path / "many" / "song.r.2.1.wav").read_bytes()
    assert len(list((tmp_path / "many").glob("*.wav"))) == 19


def test_variations_run_in_bounded_groups(tmp_path, monkeypatch):
    from vampkit.pipeline.stages import MAX_BATCH, Write

    seen = []
    write = Write.__call__

    def counting(self, states, env):
        seen.append(len(states))
        return write(self, states, env)

    monkeypatch.setattr(Write, "__call__", counting)
    song = write_input(tmp_path / "song.wav")
    result = run(recipe_text(variations=20), [song], tmp_path / "out", dry_run=True)
    assert result.ok and max(seen) <= MAX_BATCH and sum(seen) == 20
    assert len(result.manifest["inputs"][0]["prompts"]) == 20


def test_env_takes_an_engine_publicly(tmp_path):
    engine = FillEngine()
    env = Env(out_dir=tmp_path, engine=engine)
    assert env.engine is engine and env.loaded_engine is engine and env.geometry == TINY
    assert Env(out_dir=tmp_path).loaded_engine is None


def test_outputs_are_created_with_the_umask(tmp_path):
    from vampkit import atomic

    song = write_input(tmp_path / "song.wav")
    old = os.umask(0o077)
    atomic.process_umask.cache_clear()
    try:
        result = run(recipe_text(), [song], tmp_path / "out")
    finally:
        os.umask(old)
        atomic.process_umask.cache_clear()
    assert {p.stat().st_mode & 0o777 for p in [*result.outputs, result.manifest_path]} == {0o600}
    result = run(recipe_text(seed=1), [song], tmp_path / "out")
    assert {p.stat().st_mode & 0o777 for p in result.outputs} == {0o666 & ~old}
