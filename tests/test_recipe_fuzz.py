"""Fuzzing recipes: whatever a recipe file holds, `vampkit validate` and `vampkit run --dry-run`
end in exit 0 or clean one-line errors, never a traceback, a hang or a memory blow-up.

Two kinds of input: YAML documents generated at the structure level (wrong types, unknown keys,
deep nesting, huge and non-finite numbers, unicode, tags, anchors and aliases) and text-level
mutations of the shipped recipes. Each case runs in-process through click's runner under a
time limit (SIGALRM) and a memory limit (growth of the peak resident size). The CI profile
runs a few hundred cases; ``HYPOTHESIS_PROFILE=fuzz-long`` runs 20 times more (CONTRIBUTING.md).
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from strategies import mask_specs

from vampkit import save_audio
from vampkit.cli import cli
from vampkit.errors import VampkitError
from vampkit.eval import experiment
from vampkit.recipes import loader
from vampkit.training import recipe as train_recipe
from vampkit.sampling import SamplingSettings

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz-long"
SEEDED = any(a.startswith("--hypothesis-seed") for a in sys.argv)  # a seed on the command line is honoured
#: wall-clock seconds one case may take (generous: CI machines are busy); a hang fails the test
SECONDS_PER_CASE = 20
#: growth of the peak resident memory one case may cause
MEGABYTES_PER_CASE = 300


def fuzz(examples: int) -> settings:
    """``examples`` cases in CI, 20 times more under HYPOTHESIS_PROFILE=fuzz-long."""
    return settings(max_examples=examples * (20 if LONG else 1), deadline=None, derandomize=not LONG and not SEEDED,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


class Hang(BaseException):
    """A case ran past SECONDS_PER_CASE (a BaseException: no `except Exception` may swallow it)."""


@contextlib.contextmanager
def limits() -> Iterator[None]:
    """Fail a case that runs too long or makes the process's peak memory jump."""
    def alarm(_signum: int, _frame: object) -> None:
        raise Hang(f"a case ran longer than {SECONDS_PER_CASE} s")

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, SECONDS_PER_CASE)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024  # kB on Linux
    assert grown < MEGABYTES_PER_CASE, f"one case grew the peak memory by {grown:.0f} MB"


@pytest.fixture(autouse=True)
def debug_tracebacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception that is not vampkit's own inside a stage is reported as an input failure
    (exit 1); VAMPKIT_DEBUG prints its traceback, so the fuzz sees it as the bug it is."""
    monkeypatch.setenv("VAMPKIT_DEBUG", "1")


def invoke(*args: str) -> object:
    with limits():
        result = CliRunner().invoke(cli, list(args))
    assert_clean(result)
    with contextlib.suppress(InvalidArgument):  # outside a hypothesis test there are no events
        event(f"exit {result.exit_code}")
    return result


def assert_clean(result: object) -> None:
    """Exit 0, 1 or 2; no traceback; on failure, error lines that are single, short lines."""
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        import traceback

        raise AssertionError("uncaught " + "".join(traceback.format_exception(exc))) from exc
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 2:  # a usage or recipe error: "Error: ..." lines, one per problem
        lines = result.stderr.splitlines()
        assert lines and lines[0].startswith("Error: "), result.stderr
        assert all(line.strip() and len(line) < 600 for line in lines), result.stderr


@pytest.fixture(scope="module")
def groove(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six seconds of quiet noise: long enough for every shipped recipe's masks."""
    path = tmp_path_factory.mktemp("fuzz") / "in.wav"
    g = torch.Generator().manual_seed(0)
    save_audio(path, 0.1 * torch.randn(1, 6 * 44100, generator=g), 44100)
    return path


def write(folder: Path, text: str) -> Path:
    path = folder / "r.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


# -- structure-level documents -----------------------------------------------------------------
SAMPLING_KEYS = [f.name for f in SamplingSettings.__attrs_attrs__]
MASK_NAMES = ["periodic", "prefix", "suffix", "inpaint", "region", "codebooks", "random", "dropout", "beat",
              "onset", "all-of", "any-of", "not"]
KEYS = st.sampled_from(list(loader.TOP_LEVEL_KEYS) + SAMPLING_KEYS + MASK_NAMES + list(experiment.TOP_LEVEL_KEYS)
                       + list(experiment.CONDITION_KEYS) + list(train_recipe.TOP_LEVEL_KEYS) + [
    "period", "width", "seconds", "p", "keep", "template", "dir", "load", "duration", "grid", "<<", "nope",
]) | st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
HOSTILE_SCALARS = st.sampled_from([
    "0", "-1", "7", "1.5", "1e400", "-1e400", ".nan", ".inf", "-.inf", "9" * 400, "0x" + "f" * 300, "1:30:00",
    "~", "null", "true", "yes", "no", "''", '"\\ud800"', '"\\x00"', '"a\\tb"', "2001-13-45", "2001-01-01",
    "!!int abc", "!!float x", "!!bool maybe", "!!timestamp 2001-13-45", "!!int", "!!binary aGk=", "!!binary !",
    "!unknown x", "!!python/object:os.system x", "!!str 3", "!!null x", "!!float 1e999",
    "'{stem:>999999999}'", "'{stem.__class__}'", "'{seed:.999f}'", "'../../x_{stem}.wav'", "'/abs/{stem}'",
    "'{}'", "'{stem!r}'", "'{nope}'", "periodic", "upstream", "inverse-cdf", "vampnet", "cpu",
])
PLAIN_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12).map(
    lambda s: "'" + s.replace("'", "''") + "'")
SCALARS = HOSTILE_SCALARS | PLAIN_TEXT | st.integers(-(2**70), 2**70).map(str) | st.floats().map(repr).map(
    lambda s: {"nan": ".nan", "inf": ".inf", "-inf": "-.inf"}.get(s, s))
ANCHORS = ["a", "b", "c"]


def flow(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Flow collections of ``children``, sometimes tagged, anchored or replaced by an alias."""
    collection = st.one_of(
        st.lists(children, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
        st.lists(st.tuples(KEYS.map(_key), children), max_size=4).map(
            lambda pairs: "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"),
    )
    decorated = st.tuples(st.sampled_from(["", "", "", "!!map ", "!!seq ", "!!set ", "!!omap ", "!x "]),
                          st.sampled_from(["", "", ""] + [f"&{a} " for a in ANCHORS]), collection)
    return decorated.map("".join) | st.sampled_from([f"*{a}" for a in ANCHORS])


def _key(key: str) -> str:
    return "'" + key.replace("'", "''") + "'" if key != "<<" else key


def deep(levels: st.SearchStrategy[int]) -> st.SearchStrategy[str]:
    """Very deep nesting: brackets, braces or mask combinators."""
    return st.tuples(levels, st.sampled_from(["[", "{a: ", "{not: ", "{all-of: ["])).map(
        lambda t: t[1] * t[0] + "1" + {"[": "]", "{a: ": "}", "{not: ": "}", "{all-of: [": "]}"}[t[1]] * t[0])


VALUES = st.recursive(SCALARS, flow, max_leaves=12) | deep(st.integers(20, 400))


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A recipe-shaped YAML document: known and unknown keys, values from VALUES, and mostly
    valid sections (a real mask spec, sampling knobs) with hostile values mixed in."""
    lines = []
    if draw(st.booleans()):
        lines.append(f"mask: {_flow_yaml(draw(mask_specs(max_leaves=4)))}")
    if draw(st.booleans()):  # an anchored section that others alias, maybe many times (a small bomb)
        lines.append(f"x-base: &a [{', '.join(['1'] * draw(st.integers(1, 9)))}]")
        for i, name in enumerate(["b", "c"]):
            prev = ANCHORS[i]
            lines.append(f"x-{name}: &{name} [{', '.join([f'*{prev}'] * draw(st.integers(1, 30)))}]")
    for _ in range(draw(st.integers(0, 6))):
        key = draw(KEYS)
        if key in ("sampling", "c2f") and draw(st.booleans()):
            knob = draw(st.sampled_from(SAMPLING_KEYS))
            lines.append(f"{_key(key)}: {{{knob}: {draw(SCALARS)}}}")
        else:
            lines.append(f"{_key(key)}: {draw(VALUES)}")
    return "\n".join(lines) + "\n"


def _flow_yaml(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(str(k))}: {_flow_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow_yaml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


@fuzz(150)
@given(documents())
def test_generated_documents_validate_or_fail_cleanly(tmp_path_factory, text):
    invoke("validate", str(write(tmp_path_factory.mktemp("doc"), text)))


@fuzz(40)
@given(documents())
def test_generated_documents_dry_run_or_fail_cleanly(tmp_path_factory, groove, text):
    folder = tmp_path_factory.mktemp("dry")
    invoke("run", str(write(folder, text)), "-i", str(groove), "-o", str(folder / "out"), "--dry-run", "-q")


@fuzz(60)
@given(st.lists(st.tuples(st.sampled_from(SAMPLING_KEYS + ["seed", "variations", "name", "mask", "output.template",
                                                            "mask.periodic.period", "pipeline.0.load.duration"]),
                          VALUES), min_size=1, max_size=3))
def test_generated_overrides_fail_cleanly(assignments):
    options = [a for key, value in assignments for a in ("--set", f"{key}={value}")]
    invoke("validate", "inpaint", *options)


# -- text-level mutations of the shipped recipes -----------------------------------------------
SHIPPED = {name: (loader.SHIPPED_DIR / f"{name}.yaml").read_text(encoding="utf-8")
           for name in loader.shipped_recipes()}
#: dry runs of these need the madmom beat tracker (seconds per case): validated only
NEEDS_MADMOM = {name for name, text in SHIPPED.items() if "madmom" in text}
INSERTS = HOSTILE_SCALARS | st.sampled_from(["&a ", "*a", "*b", "<<: *a", ": ", "- ", "[", "]", "{", "}", "\t",
                                             "\n  ", "\n", "#", "'", '"', "!!", "&", "%YAML 1.1\n", "---\n", "? ",
                                             "\x00", "\ufeff", "é", "\u202e"])


@st.composite
def mutations(draw: st.DrawFn, names: list[str], texts: dict[str, str] = SHIPPED) -> str:
    """A shipped recipe (or experiment, or training recipe: ``texts``) with a few edits:
    characters deleted, hostile tokens inserted, lines duplicated, swapped or re-indented,
    numbers replaced."""
    text = texts[draw(st.sampled_from(names))]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "insert", "duplicate", "swap", "indent", "number"]))
        lines = text.split("\n")
        if kind == "delete" and text:
            i = draw(st.integers(0, len(text) - 1))
            text = text[:i] + text[i + draw(st.integers(1, 10)):]
        elif kind == "insert":
            i = draw(st.integers(0, len(text)))
            text = text[:i] + draw(INSERTS) + text[i:]
        elif kind == "duplicate":
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i] * draw(st.integers(1, 3)))
            text = "\n".join(lines)
        elif kind == "swap":
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        elif kind == "indent":
            i = draw(st.integers(0, len(lines) - 1))
            lines[i] = " " * draw(st.integers(0, 6)) + lines[i].lstrip()
            text = "\n".join(lines)
        else:
            numbers = [i for i, c in enumerate(text) if c.isdigit()]
            if numbers:
                i = draw(st.sampled_from(numbers))
                text = text[:i] + draw(SCALARS) + text[i + 1:]
    return text


@fuzz(150)
@given(mutations(sorted(SHIPPED)))
def test_mutated_shipped_recipes_validate_or_fail_cleanly(tmp_path_factory, text):
    invoke("validate", str(write(tmp_path_factory.mktemp("mut"), text)))


@fuzz(30)
@given(mutations(sorted(set(SHIPPED) - NEEDS_MADMOM)))
def test_mutated_shipped_recipes_dry_run_or_fail_cleanly(tmp_path_factory, groove, text):
    folder = tmp_path_factory.mktemp("mutdry")
    invoke("run", str(write(folder, text)), "-i", str(groove), "-o", str(folder / "out"), "--dry-run", "-q")


def test_the_shipped_recipes_themselves_dry_run(tmp_path, groove):
    for name in sorted(set(SHIPPED) - NEEDS_MADMOM):
        result = invoke("run", name, "-i", str(groove), "-o", str(tmp_path / name), "--dry-run", "-q")
        assert result.exit_code == 0, (name, result.output)


# -- experiment files (vampkit eval) and training recipes (vampkit train) ---------------------
#: the same loader reads them: whatever they hold, loading ends in the value or in one clean
#: VampkitError (file:line:col), never another exception, a hang or a memory blow-up
LOADERS = {"experiment": experiment.loads_experiment, "train": train_recipe.loads_train_recipe}
OTHER_FILES = {
    **{f"experiment:{p.stem}": p.read_text(encoding="utf-8") for p in sorted(experiment.SHIPPED_DIR.glob("*.yaml"))},
    **{f"train:{p.stem}": p.read_text(encoding="utf-8")
       for p in sorted((Path(__file__).parents[1] / "recipes" / "train").glob("*.yaml"))},
}


def load_cleanly(kind: str, text: str) -> None:
    with limits():
        try:
            LOADERS[kind](text)
        except VampkitError as exc:
            message = str(exc)
            assert message.strip() and all(len(line) < 600 for line in message.splitlines()), message
            event(f"{kind}: {type(exc).__name__}")
        else:
            event(f"{kind}: valid")


@fuzz(100)
@given(kind=st.sampled_from(sorted(LOADERS)), text=documents())
def test_generated_experiments_and_training_recipes_load_or_fail_cleanly(kind, text):
    load_cleanly(kind, text)


@fuzz(150)
@given(st.sampled_from(sorted(OTHER_FILES)).flatmap(
    lambda name: st.tuples(st.just(name.split(":")[0]), mutations([name], OTHER_FILES))))
def test_mutated_shipped_experiments_and_training_recipes_load_or_fail_cleanly(kind_and_text):
    load_cleanly(*kind_and_text)


def test_the_shipped_experiments_and_training_recipes_themselves_load():
    for name, text in OTHER_FILES.items():
        LOADERS[name.split(":")[0]](text)


def test_the_limits_catch_a_hang():
    with pytest.raises(Hang), limits():
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        while True:
            pass
