"""vampkit.atomic: outputs appear whole or not at all (Ctrl-C, crashes, errors)."""

import pytest

from vampkit.atomic import atomic_path, write_text


def test_an_interrupted_write_leaves_no_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.wav"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as temp:
            temp.write_bytes(b"half a file")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "manifest.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temp:
            temp.write_text("new, incomplete")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_a_finished_write_replaces_the_target_and_keeps_its_suffix(tmp_path):
    target = tmp_path / "sub" / "notes.txt"
    assert write_text(target, "hello") == target
    assert target.read_text() == "hello"
    with atomic_path(target) as temp:
        assert temp.suffix == ".txt" and temp.parent == target.parent
        temp.write_text("again")
    assert target.read_text() == "again"
    assert [p.name for p in target.parent.iterdir()] == ["notes.txt"]
