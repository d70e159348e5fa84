"""The plugin contract (issue 2 section 3), through real entry points and the real command line.

The example plugins in ``plugins/`` are pip-installed into the venv by ``scripts/setup.sh --test``;
conflicting and broken plugins are throwaway packages with a ``.dist-info`` on ``sys.path``
(or ``PYTHONPATH`` for the command line), which is all ``importlib.metadata`` needs.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import attrs
import pytest
import torch

import vampkit
from vampkit import plugins
from vampkit.testing import check_mask_generator, noise_audio

EXAMPLES = {"vampkit-loudness": ("loudness", {"masks": ["loudness"]}),
            "vampkit-novelty": ("novelty", {"masks": ["novelty"], "analyses": ["novelty"]})}


def vampkit_command() -> str:
    script = Path(sys.executable).parent / "vampkit"
    found = str(script) if script.exists() else shutil.which("vampkit")
    if not found:
        pytest.fail("the `vampkit` console script is not installed next to this Python")
    return found


def run_cli(*args: str, env: dict[str, str] | None = None, load: str | None = None,
            pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, **(env or {})}
    environ.pop("VAMPKIT_LOAD_PLUGINS", None)
    if load is not None:
        environ["VAMPKIT_LOAD_PLUGINS"] = load
    if pythonpath is not None:
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), environ.get("PYTHONPATH")]))
    return subprocess.run([vampkit_command(), *args], capture_output=True, text=True, env=environ, timeout=120)


def outside_plugins(**kwargs) -> dict[str, dict]:
    result = run_cli("plugins", "--json", **kwargs)
    assert result.returncode == 0, result.stderr
    return {p["name"]: p for p in json.loads(result.stdout)}


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch):
    """Each test loads plugins afresh and leaves no trace for the next one."""
    monkeypatch.delenv("VAMPKIT_LOAD_PLUGINS", raising=False)
    plugins.reset()
    yield
    plugins.reset()


@pytest.fixture(scope="module")
def installed_examples():
    missing = []
    for dist in EXAMPLES:
        try:
            importlib.metadata.distribution(dist)
        except importlib.metadata.PackageNotFoundError:
            missing.append(dist)
    if missing:
        pytest.fail(f"example plugins not installed: {', '.join(missing)} (run scripts/setup.sh --test, "
                    "or pip install --no-deps -e plugins/<name>)")


def make_plugin(site: Path, dist: str, module: str, source: str, entry_point: str | None = None) -> None:
    """A pip-style installed package: ``module.py`` plus ``<dist>-0.1.dist-info`` with the entry point."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[vampkit]\n{entry_point or module} = {module}\n")


GENERATOR_SOURCE = '''
import attrs, torch, vampkit

@attrs.frozen
class Echo:
    """Keep every other frame."""
    name = "{name}"
    offset: int = vampkit.param(0, doc="first kept frame")

    def __call__(self, ctx):
        return vampkit.Mask(ctx.frames_mask((torch.arange(ctx.n_frames) + self.offset) % 2 == 0))

@vampkit.hookimpl
def register_masks(register):
    register(Echo)
'''


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A directory on sys.path for throwaway installed packages; their modules are forgotten after."""
    path = tmp_path / "site"
    path.mkdir()
    before = set(sys.modules)
    monkeypatch.syspath_prepend(str(path))
    yield path
    for name in set(sys.modules) - before:
        if getattr(sys.modules[name], "__file__", "") and str(path) in (sys.modules[name].__file__ or ""):
            del sys.modules[name]


# -- pip-installed example plugins ---------------------------------------------------------------
def test_installed_examples_are_listed_by_vampkit_plugins(installed_examples):
    listed = outside_plugins()
    for dist, (entry_point, registers) in EXAMPLES.items():
        assert entry_point in listed, f"{dist} is missing from `vampkit plugins`"
        info = listed[entry_point]
        assert info["version"] == importlib.metadata.version(dist) and not info["builtin"]
        assert info["registers"] == registers


def test_installed_examples_are_listed_by_vampkit_masks_with_documented_parameters(installed_examples):
    result = run_cli("masks", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["loudness"]["plugin"] == "loudness" and rows["novelty"]["plugin"] == "novelty"
    for name in ("loudness", "novelty"):
        assert rows[name]["doc"] and all(p["doc"] for p in rows[name]["parameters"])
    assert [p["name"] for p in rows["loudness"]["parameters"]] == ["threshold_db", "quantile", "keep"]
    assert "periodic" in rows  # the built-ins are listed alongside


def test_installed_examples_are_usable_from_a_recipe(installed_examples):
    from vampkit.recipes import loads_recipe

    recipe = loads_recipe("name: loud-and-new\nmask:\n  any-of:\n    - loudness: {quantile: 0.5}\n"
                          "    - novelty: {threshold: 0.4}\n")
    ctx = vampkit.MaskContext(n_codebooks=4, n_frames=200, audio_loader=lambda: noise_audio(
        vampkit.testing.Grid(n_codebooks=4, n_frames=200)))
    mask = recipe.mask(ctx)
    assert mask.shape == (4, 200)
    loud = vampkit.build_mask_generator({"loudness": {"quantile": 0.5}})(ctx)
    assert bool((mask.kept <= loud.kept).all())  # any-of keeps only what every member keeps


def test_a_recipe_using_both_examples_runs_dry_through_the_command_line(installed_examples, tmp_path):
    import soundfile

    grid = vampkit.testing.Grid(n_codebooks=1, n_frames=230, seed=5)
    soundfile.write(tmp_path / "input.wav", noise_audio(grid).T.numpy(), grid.sample_rate)
    (tmp_path / "recipe.yaml").write_text("name: loud-and-new\nmask:\n  any-of:\n"
                                          "    - loudness: {quantile: 0.5}\n    - novelty: {threshold: 0.4}\n")
    result = run_cli("run", str(tmp_path / "recipe.yaml"), "--input", str(tmp_path / "input.wav"), "--dry-run",
                     "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "input.wav" in result.stdout + result.stderr and "kept" in result.stdout + result.stderr


def test_recipe_errors_name_the_plugin_parameter(installed_examples):
    from vampkit.recipes import loads_recipe

    with pytest.raises(vampkit.RecipeError, match=r"mask\.loudness\.quantile"):
        loads_recipe("name: bad\nmask: {loudness: {quantile: 3}}\n")


# -- VAMPKIT_LOAD_PLUGINS ------------------------------------------------------------------------
@pytest.mark.parametrize("load, expected", [
    ("loudness", {"loudness"}),                          # an entry-point name
    ("vampkit-novelty", {"novelty"}),                    # a distribution name
    ("loudness, vampkit-novelty", {"loudness", "novelty"}),
    ("", set()),                                         # empty: no outside plugin at all
])
def test_load_plugins_env_limits_what_loads(installed_examples, monkeypatch, load, expected):
    monkeypatch.setenv("VAMPKIT_LOAD_PLUGINS", load)
    assert {p.name for p in plugins.list_plugins() if not p.builtin} == expected


def test_load_plugins_env_limits_the_mask_registry_in_process(installed_examples, monkeypatch):
    monkeypatch.setenv("VAMPKIT_LOAD_PLUGINS", "")
    names = set(plugins.mask_generators())
    assert "loudness" not in names and "novelty" not in names and "periodic" in names
    with pytest.raises(vampkit.ParameterError, match="unknown mask generator 'loudness'"):
        vampkit.build_mask_generator("loudness")


def test_the_command_line_honours_the_load_list(site):
    make_plugin(site, "boom-pkg", "boom_plugin", "raise RuntimeError('kaboom at import')\n")
    result = run_cli("masks", "--json", load="", pythonpath=site)  # empty: the broken plugin is not even imported
    assert result.returncode == 0, result.stderr
    plugins_listed = {row["plugin"] for row in json.loads(result.stdout)}
    assert plugins_listed and plugins_listed <= set(plugins.BUILTIN_PLUGINS)


# -- conflicts -----------------------------------------------------------------------------------
def test_two_installed_plugins_with_one_name_are_an_error_naming_both(site):
    make_plugin(site, "echo-a", "echo_a", GENERATOR_SOURCE.format(name="echo"))
    make_plugin(site, "echo-b", "echo_b", GENERATOR_SOURCE.format(name="echo"))
    with pytest.raises(vampkit.PluginError, match=r"mask generator 'echo'") as info:
        plugins.mask_generators()
    assert "'echo_a'" in str(info.value) and "'echo_b'" in str(info.value)
    assert "VAMPKIT_LOAD_PLUGINS" in str(info.value)


def test_the_command_line_reports_a_conflict_in_one_line(site):
    make_plugin(site, "echo-a", "echo_a", GENERATOR_SOURCE.format(name="echo"))
    make_plugin(site, "echo-b", "echo_b", GENERATOR_SOURCE.format(name="echo"))
    result = run_cli("masks", pythonpath=site)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "echo_a" in result.stderr and "echo_b" in result.stderr
    resolved = run_cli("masks", "--json", load="echo_b", pythonpath=site)  # the way out the error suggests
    assert resolved.returncode == 0, resolved.stderr
    assert [r["plugin"] for r in json.loads(resolved.stdout) if r["name"] == "echo"] == ["echo_b"]


def test_a_plugin_taking_a_builtin_name_is_an_error_naming_both(site):
    make_plugin(site, "periodic-clash", "periodic_clash", GENERATOR_SOURCE.format(name="periodic"))
    with pytest.raises(vampkit.PluginError, match=r"mask generator 'periodic'") as info:
        plugins.mask_generators()
    assert "'vampkit.masks.builtin'" in str(info.value) and "'periodic_clash'" in str(info.value)


def test_an_installed_plugin_with_a_fresh_name_just_works(site):
    make_plugin(site, "echo-a", "echo_a", GENERATOR_SOURCE.format(name="echo"), entry_point="echo")
    gen = vampkit.build_mask_generator({"echo": {"offset": 1}})
    assert plugins.registered("masks")["echo"].plugin == "echo"
    ctx = vampkit.MaskContext(n_codebooks=2, n_frames=4)
    assert gen(ctx).tensor[0].tolist() == [True, False, True, False]  # frames 1 and 3 kept


# -- plugins that raise --------------------------------------------------------------------------
def test_a_plugin_failing_at_import_is_named(site):
    make_plugin(site, "boom-pkg", "boom_plugin", "raise RuntimeError('kaboom at import')\n")
    with pytest.raises(vampkit.PluginError, match=r"plugin 'boom_plugin' \(boom-pkg\) failed to load.*kaboom"):
        plugins.plugin_manager()


def test_a_plugin_raising_in_its_hook_is_named(site):
    make_plugin(site, "boom-pkg", "boom_hook", textwrap.dedent('''
        import vampkit

        @vampkit.hookimpl
        def register_masks(register):
            raise ZeroDivisionError("division in a hook")
    '''))
    with pytest.raises(vampkit.PluginError, match=r"plugin 'boom_hook' raised in register_masks: ZeroDivisionError"):
        plugins.mask_generators()


def test_the_command_line_names_a_raising_plugin(site):
    make_plugin(site, "boom-pkg", "boom_plugin", "raise RuntimeError('kaboom at import')\n")
    result = run_cli("plugins", pythonpath=site)
    assert result.returncode == 1 and "boom_plugin" in result.stderr and "Traceback" not in result.stderr


def test_a_plugin_registering_a_non_attrs_generator_is_named(site):
    make_plugin(site, "plain-pkg", "plain_plugin", textwrap.dedent('''
        import vampkit

        class Plain:
            name = "plain"
            def __call__(self, ctx):
                return None

        @vampkit.hookimpl
        def register_masks(register):
            register(Plain)
    '''))
    with pytest.raises(vampkit.PluginError, match=r"plugin 'plain_plugin': mask generator 'plain' must be an attrs"):
        plugins.mask_generators()


# -- in-process plugins (notebooks) --------------------------------------------------------------
@attrs.frozen
class EveryOther:
    """Keep every other frame."""

    name = "every-other"
    offset: int = vampkit.param(0, doc="first kept frame")

    def __call__(self, ctx: vampkit.MaskContext) -> vampkit.Mask:
        return vampkit.Mask(ctx.frames_mask((torch.arange(ctx.n_frames) + self.offset) % 2 == 0))


@pytest.fixture
def every_other_plugin():
    module = types.ModuleType("every_other_notebook")
    module.register_masks = vampkit.hookimpl(lambda register: register(EveryOther))
    name = plugins.register_plugin(module, name="notebook")
    yield name
    if plugins.plugin_manager().has_plugin(name):
        plugins.unregister_plugin(name)


def test_register_plugin_adds_a_generator_in_process(every_other_plugin):
    gen = vampkit.build_mask_generator({"not": {"every-other": {"offset": 1}}})
    # every-other(offset=1) keeps frames 1 and 3; not swaps: frames 0 and 2 kept
    assert gen(vampkit.MaskContext(n_codebooks=1, n_frames=4)).tensor.tolist() == [[False, True, False, True]]
    assert plugins.registered("masks")["every-other"].plugin == "notebook"
    assert any(p.name == "notebook" and p.registers == {"masks": ("every-other",)} for p in plugins.list_plugins())


def test_an_in_process_plugin_passes_the_kit(every_other_plugin):
    check_mask_generator(EveryOther, invalid=[{"offset": "one"}], max_examples=10)


def test_unregistering_forgets_the_generator(every_other_plugin):
    plugins.unregister_plugin(every_other_plugin)
    with pytest.raises(vampkit.ParameterError, match="unknown mask generator 'every-other'"):
        vampkit.build_mask_generator("every-other")


def test_registering_the_same_plugin_name_twice_is_an_error(every_other_plugin):
    with pytest.raises(vampkit.PluginError, match="notebook"):
        plugins.register_plugin(types.SimpleNamespace(), name="notebook")


def test_a_mask_generator_class_without_call_is_refused():
    @attrs.frozen
    class NoCall:
        name = "no-call"

    module = types.ModuleType("no_call_notebook")
    module.register_masks = vampkit.hookimpl(lambda register: register(NoCall))
    name = plugins.register_plugin(module, name="no-call-notebook")
    try:
        with pytest.raises(vampkit.PluginError, match="'no-call' has no __call__"):
            plugins.registered("masks")
    finally:
        if plugins.plugin_manager().has_plugin(name):
            plugins.unregister_plugin(name)
# -- unknown hooks -------------------------------------------------------------------------------
def test_an_installed_plugin_with_a_misspelt_hook_is_refused_with_a_suggestion(site):
    make_plugin(site, "typo-pkg", "typo_plugin", textwrap.dedent('''
        import vampkit

        @vampkit.hookimpl
        def register_mask(register):
            pass
    '''))
    with pytest.raises(vampkit.PluginError,
                       match=r"plugin 'typo_plugin' implements unknown hook 'register_mask' "
                             r"\(did you mean 'register_masks'\?\)"):
        plugins.plugin_manager()


def test_an_in_process_plugin_with_a_misspelt_hook_is_refused_and_not_kept():
    module = types.SimpleNamespace(register_stage=vampkit.hookimpl(lambda register: None))
    with pytest.raises(vampkit.PluginError, match=r"'notebook-typo' implements unknown hook 'register_stage'.*"
                                                  r"register_stages"):
        plugins.register_plugin(module, name="notebook-typo")
    assert not plugins.plugin_manager().has_plugin("notebook-typo")


def test_the_command_line_names_a_misspelt_hook_in_one_line(site):
    make_plugin(site, "typo-pkg", "typo_plugin",
                "import vampkit\n\n@vampkit.hookimpl\ndef register_codec(register):\n    pass\n")
    result = run_cli("masks", pythonpath=site)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "typo_plugin" in result.stderr and "register_codec" in result.stderr


# -- load order ----------------------------------------------------------------------------------
def test_registries_list_builtins_first_then_plugins_in_load_order(site):
    make_plugin(site, "echo-a", "echo_a", GENERATOR_SOURCE.format(name="echo"))
    module = types.ModuleType("every_other_notebook")
    module.register_masks = vampkit.hookimpl(lambda register: register(EveryOther))
    plugins.register_plugin(module, name="notebook")
    names = list(plugins.registered("masks"))
    owners = [plugins.registered("masks")[n].plugin for n in names]
    assert owners.index("echo_a") > max(i for i, o in enumerate(owners) if o == "vampkit.masks.builtin")
    assert owners.index("notebook") > owners.index("echo_a")  # in-process plugins come last
    assert [p.name for p in plugins.list_plugins()][: len(plugins.BUILTIN_PLUGINS)] == list(plugins.BUILTIN_PLUGINS)


def test_a_clash_names_the_earlier_loaded_plugin_first(site):
    make_plugin(site, "periodic-clash", "periodic_clash", GENERATOR_SOURCE.format(name="periodic"))
    with pytest.raises(vampkit.PluginError, match=r"'vampkit.masks.builtin' and 'periodic_clash'"):
        plugins.mask_generators()


# -- onset detectors -----------------------------------------------------------------------------
def test_builtin_onset_detectors_are_registered_through_the_hook():
    registered = plugins.registered("onset_detectors")
    assert {"madmom", "simple"} <= set(registered)
    assert {registered[n].plugin for n in ("madmom", "simple")} == {"vampkit.beats.builtin"}


def test_a_plugin_onset_detector_is_used_by_the_onsets_analysis():
    @attrs.frozen
    class Every:
        """An onset every `step` seconds."""

        name = "every"
        step: float = vampkit.param(0.5, doc="seconds between onsets")

        def detect(self, audio, sample_rate):
            return [i * self.step for i in range(int(len(audio) / sample_rate / self.step))]

    module = types.SimpleNamespace(register_onset_detectors=vampkit.hookimpl(lambda register: register(Every)))
    plugins.register_plugin(module, name="every-onsets")
    audio = torch.randn(1, 16000)
    onsets = vampkit.analyses_for(audio, 16000, onset_detector="every", cache=False)["onsets"]()
    assert tuple(onsets) == (0.0, 0.5)
    assert isinstance(Every(), vampkit.OnsetDetector)


def test_an_unknown_onset_detector_is_named_with_a_suggestion():
    with pytest.raises(vampkit.UnknownNameError, match=r"unknown onset detector 'simpel' \(did you mean 'simple'\?\)"):
        vampkit.analyses_for(torch.randn(1, 16000), 16000, onset_detector="simpel", cache=False)["onsets"]()


def test_the_kit_reads_the_same_listing_as_vampkit_masks(every_other_plugin):
    from click.testing import CliRunner

    from vampkit.cli import cli

    printed = {row["name"]: row for row in json.loads(CliRunner().invoke(cli, ["masks", "--json"]).output)}
    listed = {row.name: row for row in plugins.mask_listing()}
    assert set(printed) == set(listed)
    row = listed["every-other"]
    assert (row.plugin, row.doc, [p.name for p in row.parameters]) == ("notebook", "Keep every other frame.", ["offset"])
    assert [p["name"] for p in printed["every-other"]["parameters"]] == ["offset"]


def test_a_plugin_still_implementing_register_models_is_told_what_replaced_it():
    module = types.SimpleNamespace(register_models=vampkit.hookimpl(lambda register: None))
    with pytest.raises(vampkit.PluginError, match=r"unknown hook 'register_models' \(it was replaced by register_bundles"):
        plugins.register_plugin(module, name="old-models")
