"""vampkit.paths and vampkit.atomic: every output lands inside its folder, is created with the
user's umask, and an exclusive write never replaces a file that exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vampkit.atomic import atomic_path, write_text
from vampkit.errors import OutputPathError, RecipeError
from vampkit.paths import name_problem, output_path

PIECES = st.sampled_from(["..", ".", "/", "\\", "a", "b.wav", "", "\x00", "\n", "\ud800", "C:", "~", " ", "é", "x" * 300])
NAMES = st.one_of(st.text(max_size=40), st.lists(PIECES, max_size=6).map("".join))


@settings(max_examples=300, deadline=None)
@given(name=NAMES)
def test_any_name_resolves_inside_the_folder_or_is_refused(tmp_path_factory, name):
    folder = tmp_path_factory.getbasetemp() / "prop" / "out"
    try:
        path = output_path(folder, name, key="output.template")
    except OutputPathError as exc:
        assert "output.template" in str(exc) and "\n" not in str(exc)
        return
    real, root = os.path.realpath(path), os.path.realpath(folder)
    assert real.startswith(root + os.sep)


@pytest.mark.parametrize("name, reason", [
    ("../x.wav", "'..'"), ("a/../../x.wav", "'..'"), ("/etc/x.wav", "absolute"), ("\\\\server\\x.wav", "absolute"),
    ("C:x.wav", "absolute"), ("x\x00.wav", "NUL"), ("x\ud800.wav", "surrogate"), ("x\n.wav", "control"),
    ("a/", "folder"), ("", "empty"), ("x" * 256 + ".wav", "longer than 255 bytes"),
])
def test_escaping_or_unusable_names_are_refused_with_the_reason(tmp_path, name, reason):
    with pytest.raises(OutputPathError, match=reason):
        output_path(tmp_path, name, key="output.template", where="r.yaml:3:13")


def test_the_error_names_the_recipe_key_and_its_position(tmp_path):
    with pytest.raises(OutputPathError) as info:
        output_path(tmp_path, "../evil.wav", key="output.template", where="r.yaml:3:13")
    assert str(info.value).startswith("r.yaml:3:13: output.template: output name '../evil.wav' refused")
    assert isinstance(info.value, RecipeError)


def test_a_symlink_leading_out_of_the_folder_is_refused(tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir(), elsewhere.mkdir()
    (out / "link").symlink_to(elsewhere)
    (out / "file.wav").symlink_to(elsewhere / "file.wav")
    for name in ("link/x.wav", "file.wav"):
        with pytest.raises(OutputPathError, match="outside the output folder"):
            output_path(out, name, key="output.template")
    assert not any(elsewhere.iterdir())


def test_subfolders_inside_the_folder_are_allowed(tmp_path):
    assert output_path(tmp_path, "a/./b/c.wav", key="k") == tmp_path / "a" / "b" / "c.wav"
    assert name_problem("song.compress.3.0.wav") is None


def test_files_get_the_mode_the_umask_gives(tmp_path):
    old = os.umask(0o027)
    try:
        from vampkit import atomic

        atomic.process_umask.cache_clear()
        path = write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
        atomic.process_umask.cache_clear()
    assert path.stat().st_mode & 0o777 == 0o640


def test_an_exclusive_write_never_replaces_an_existing_file(tmp_path):
    target = tmp_path / "out.wav"
    with pytest.raises(FileExistsError), atomic_path(target, overwrite=False) as temp:
        temp.write_text("mine")
        target.write_text("someone else's, written meanwhile")
    assert target.read_text() == "someone else's, written meanwhile"
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


def test_an_exclusive_write_creates_a_new_file_whole(tmp_path):
    target = tmp_path / "new.txt"
    assert write_text(target, "complete", overwrite=False) == target
    assert target.read_text() == "complete" and sorted(p.name for p in tmp_path.iterdir()) == ["new.txt"]
    with pytest.raises(FileExistsError):
        write_text(target, "again", overwrite=False)
    assert Path(target).read_text() == "complete"
