"""The public API plugins rely on: no name may disappear from vampkit.__all__, vampkit.testing
or the hooks. Adding names is fine (add them here too); removing one is a breaking change."""

from __future__ import annotations

import inspect

import pytest

import vampkit
import vampkit.testing
from vampkit import hookspecs, plugins

#: vampkit.__all__ as released; a plugin may use every one of these
PUBLIC_NAMES = frozenset({
    "AnalysisError", "Audio", "AudioError", "BeatTracker", "Beats", "CheckpointError", "Codec", "CodecError",
    "EncodedAudio", "Env", "OnsetDetector", "Stage", "State", "Mask", "MaskContext", "ModelBundle", "VAMPNET", "decode_audio", "encode_audio", "MaskGenerator", "ParameterError", "PluginError", "Prompt", "Recipe", "RecipeError",
    "RunResult", "SamplingSettings", "TokenModel", "UnknownNameError", "VampNet", "VampkitError",
    "WeightsUnavailableError", "__version__", "analyses_for", "build_mask_generator", "coarse_to_fine",
    "frames_to_seconds", "hookimpl", "load_audio", "load_codec", "load_recipe", "param", "resolve_device",
    "resolve_weights", "run_recipe", "sample", "save_audio", "seconds_to_frames", "vamp",
    "train", "encode_dataset", "TrainingError",
    "evaluate", "EvalResult",
})

#: the conformance kit plugin authors call from their tests
TESTING_NAMES = frozenset({
    "ConformanceError", "Grid", "MaskGeneratorChecks", "MaskGeneratorConformance", "check_mask_generator",
    "grids", "make_context", "noise_audio", "standard_analyses", "synthetic_beats", "synthetic_onsets",
})

#: vampkit.validators: attrs validators for plugin parameters (docs/plugin-tutorial.md)
VALIDATOR_NAMES = frozenset({
    "at_least", "at_most", "between", "check_within_grid", "choices", "fail", "finite", "non_negative", "positive",
    "probability", "unit_interval",
})

#: every hook a plugin may implement; each takes exactly one argument, ``register``
HOOKS = frozenset({"register_masks", "register_bundles", "register_codecs", "register_beat_trackers",
                   "register_onset_detectors",
                   "register_analyses", "register_stages", "register_metrics", "register_embeddings"})

#: the errors plugins raise or catch, and the base they share
ERRORS = ("AnalysisError", "AudioError", "CheckpointError", "CodecError", "ParameterError", "PluginError",
          "RecipeError", "UnknownNameError", "WeightsUnavailableError")


@pytest.mark.parametrize("name", sorted(PUBLIC_NAMES))
def test_public_name_is_still_exported(name):
    assert name in vampkit.__all__, f"vampkit.{name} was removed from __all__: plugins may depend on it"
    assert hasattr(vampkit, name)


def test_all_has_no_duplicates_and_every_name_resolves():
    assert len(vampkit.__all__) == len(set(vampkit.__all__))
    missing = [name for name in vampkit.__all__ if not hasattr(vampkit, name)]
    assert not missing, f"names in vampkit.__all__ that do not exist: {missing}"


def test_star_import_gives_the_public_names():
    namespace: dict = {}
    exec("from vampkit import *", namespace)  # noqa: S102 - the point of the test
    assert PUBLIC_NAMES - {"__version__"} <= set(namespace)


@pytest.mark.parametrize("name", sorted(VALIDATOR_NAMES))
def test_validator_name_is_still_exported(name):
    import vampkit.validators

    assert name in vampkit.validators.__all__ and hasattr(vampkit.validators, name)


@pytest.mark.parametrize("name", sorted(TESTING_NAMES))
def test_testing_kit_name_is_still_exported(name):
    assert name in vampkit.testing.__all__ and hasattr(vampkit.testing, name)


def test_check_mask_generator_keeps_its_keyword_arguments():
    params = inspect.signature(vampkit.testing.check_mask_generator).parameters
    assert list(params)[0] == "cls"
    assert {"max_examples", "params", "invalid", "audio", "analyses", "min_frames", "max_frames",
            "min_codebooks", "max_codebooks"} <= set(params)
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for name, p in params.items() if name != "cls")


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_is_still_specified_with_one_register_argument(name):
    spec = getattr(hookspecs, name, None)
    assert spec is not None and hasattr(spec, "vampkit_spec"), f"hook {name} disappeared"
    assert list(inspect.signature(spec).parameters) == ["register"]


def test_hookimpl_marks_for_the_vampkit_project():
    @vampkit.hookimpl
    def register_masks(register):
        pass

    assert hasattr(register_masks, "vampkit_impl")
    assert plugins.ENTRY_POINT_GROUP == "vampkit" and plugins.LOAD_PLUGINS_ENV == "VAMPKIT_LOAD_PLUGINS"


def test_in_process_registration_functions_exist():
    for name in ("register_plugin", "unregister_plugin", "mask_generators", "registered", "list_plugins", "reset"):
        assert callable(getattr(plugins, name)), f"vampkit.plugins.{name} disappeared"


@pytest.mark.parametrize("name", ERRORS)
def test_errors_share_the_vampkit_base(name):
    assert issubclass(getattr(vampkit, name), vampkit.VampkitError)


def test_parameter_error_is_also_a_value_error():
    assert issubclass(vampkit.ParameterError, ValueError)
