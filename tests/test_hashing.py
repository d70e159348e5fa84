"""Checkpoint hashes for manifests: computed once per file version, kept across runs."""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vampkit import hashing


@pytest.fixture()
def fresh(monkeypatch, tmp_path):
    """A new process's view: an empty in-memory table and a private cache folder."""
    hashing.forget()
    monkeypatch.setenv("VAMPKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_a_persisted_hash_is_read_back_by_the_next_run_instead_of_the_file(fresh):
    path = fresh / "coarse.pth"
    path.write_bytes(b"weights" * 1000)
    assert hashing.sha256_file(path, persist=True) == hashlib.sha256(path.read_bytes()).hexdigest()
    stored = list((fresh / "cache" / "hashes").iterdir())
    assert len(stored) == 1
    hashing.forget()  # the next run
    stored[0].write_text("ab" * 32)  # what it reads is the stored entry, not the file
    assert hashing.sha256_file(path, persist=True) == "ab" * 32


def test_a_changed_file_is_hashed_again(fresh):
    path = fresh / "coarse.pth"
    path.write_bytes(b"one")
    first = hashing.sha256_file(path, persist=True)
    path.write_bytes(b"two")
    os.utime(path, ns=(1, 1))  # even an older mtime: size, mtime and inode make the key
    hashing.forget()
    assert hashing.sha256_file(path, persist=True) == hashlib.sha256(b"two").hexdigest() != first


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(max_size=100))
def test_a_garbled_stored_entry_is_ignored_and_rewritten(fresh, garbage):
    shutil.rmtree(fresh / "cache" / "hashes", ignore_errors=True)  # fixtures outlive examples
    path = fresh / "c.pth"
    path.write_bytes(b"data")
    truth = hashlib.sha256(b"data").hexdigest()
    hashing.forget()
    hashing.sha256_file(path, persist=True)
    (stored,) = (fresh / "cache" / "hashes").iterdir()
    stored.write_bytes(garbage)
    hashing.forget()
    assert hashing.sha256_file(path, persist=True) == truth
    assert stored.read_text() == truth


def test_without_persist_nothing_is_stored(fresh):
    path = fresh / "x.bin"
    path.write_bytes(b"x")
    hashing.sha256_file(path)
    assert not (fresh / "cache" / "hashes").exists() or not list((fresh / "cache" / "hashes").iterdir())
