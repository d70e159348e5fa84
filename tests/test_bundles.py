"""Model bundles: the VampNet facts in one value, third-party bundles through the hook, and
``bundle.load`` against a local Hub stand-in on 127.0.0.1 serving tiny checkpoints."""

from __future__ import annotations

import math
import types
from pathlib import Path

import attrs
import pytest
import torch

import vampkit
from helpers_models import write_tiny_set
from hub_stub import serve_hub
from vampkit import Audio, PluginError, WeightsUnavailableError, plugins
from vampkit.bundles import VAMPNET, Geometry, get
from vampkit.pipeline.engine import geometry_for
from vampkit.recipes.schema import WeightsSpec
from vampkit.weights import PRESETS



def test_vampnet_bundle_holds_upstreams_facts():
    assert (VAMPNET.repo_id, VAMPNET.coarse, VAMPNET.c2f, VAMPNET.codec) == (
        "hugggof/vampnet", "coarse.pth", "c2f.pth", "codec.pth")
    assert VAMPNET.geometry == Geometry(44100, 768, 14, 1024)
    assert VAMPNET.frame_rate == pytest.approx(57.42, abs=0.01)
    assert VAMPNET.loudness_db == -24.0
    # 10 s coarse and 3 s c2f windows, in frames
    assert VAMPNET.coarse_context_frames == math.ceil(10 * VAMPNET.frame_rate)
    assert VAMPNET.c2f_context_frames == math.ceil(3 * VAMPNET.frame_rate)
    assert "CC BY-NC-SA" in VAMPNET.license


def test_presets_dry_run_grid_and_the_model_read_the_bundle():
    from vampkit.models.vampnet import C2F_CONTEXT_FRAMES, COARSE_CONTEXT_FRAMES

    assert PRESETS["vampnet"] is VAMPNET
    assert geometry_for(WeightsSpec(preset="vampnet")) == VAMPNET.geometry
    assert (COARSE_CONTEXT_FRAMES, C2F_CONTEXT_FRAMES) == (VAMPNET.coarse_context_frames, VAMPNET.c2f_context_frames)


def test_a_fine_tuned_name_keeps_the_codec_and_the_grid():
    jazz = get("vampnet:jazz")
    assert (jazz.coarse, jazz.c2f, jazz.codec) == ("loras/jazz/coarse.pth", "loras/jazz/c2f.pth", "codec.pth")
    assert jazz.geometry == VAMPNET.geometry
    with pytest.raises(WeightsUnavailableError, match="not a valid fine-tuned model name"):
        get("vampnet:../x")


def test_an_unknown_bundle_name_suggests_the_closest():
    with pytest.raises(WeightsUnavailableError, match=r"unknown weights 'vampnat' \(did you mean 'vampnet'\?\)"):
        get("vampnat")


MINE = attrs.evolve(VAMPNET, name="mine", repo_id="acme/tiny-vampnet", sample_rate=44100, hop_length=768,
                    n_codebooks=14, codebook_size=128, description="a test bundle", license="MIT")


@pytest.fixture
def mine_plugin():
    module = types.ModuleType("mine_bundles")

    @vampkit.hookimpl
    def register_bundles(register):
        register(MINE)

    module.register_bundles = register_bundles
    name = plugins.register_plugin(module, name="mine-bundles")
    yield name
    plugins.unregister_plugin(name)


def test_a_plugin_bundle_is_a_weights_name(mine_plugin):
    assert PRESETS["mine"] is MINE and "mine" in dict(PRESETS)
    assert geometry_for(WeightsSpec(preset="mine")).codebook_size == 128
    assert plugins.get("bundles", "mine") is MINE


@pytest.mark.parametrize("thing, message", [
    (types.SimpleNamespace(name="fake"), r"'bad-bundles': model bundle 'fake' must be a vampkit.ModelBundle"),
    (attrs.evolve(VAMPNET, name="a:b"), r"'bad-bundles': model bundle name 'a:b' may not contain ':'"),
])
def test_a_plugin_registering_a_bad_bundle_is_named(thing, message):
    module = types.SimpleNamespace(register_bundles=vampkit.hookimpl(lambda register: register(thing)))
    name = plugins.register_plugin(module, name="bad-bundles")
    try:
        with pytest.raises(PluginError, match=message):
            plugins.registered("bundles")
    finally:
        plugins.unregister_plugin(name)


def test_bundle_facts_are_checked():
    with pytest.raises(ValueError, match="hop_length must be a positive number"):
        attrs.evolve(VAMPNET, hop_length=0)


@pytest.fixture
def hub(monkeypatch, tmp_path):
    (tmp_path / "published").mkdir()
    files = write_tiny_set(tmp_path / "published")
    served = {f"{role}.pth": Path(path).read_bytes() for role, path in files.items()}
    with serve_hub(monkeypatch, str(tmp_path / "cache"), MINE.repo_id, served) as handler:
        yield handler


def test_load_fetches_the_files_and_returns_an_engine_with_the_bundles_facts(hub):
    engine = MINE.load(device="cpu")
    assert engine.bundle is MINE
    assert engine.geometry == MINE.geometry
    assert engine.coarse.context_frames == MINE.coarse_context_frames
    assert engine.c2f.context_frames == MINE.c2f_context_frames
    assert set(engine.checkpoints) == {"coarse", "c2f", "codec"}


def test_engine_round_trip_carries_the_loudness_in_the_encoded_value(hub):
    engine = MINE.load(device="cpu")
    t = torch.arange(22050) / 22050
    loud = Audio(torch.sin(2 * math.pi * 220 * t)[None].repeat(2, 1) * 0.5, 22050)
    quiet = Audio(loud.samples * 0.05, 22050)
    first, second = engine.encode(loud), engine.encode(quiet)
    assert first.loudness - second.loudness == pytest.approx(26.02, abs=0.05)
    # decoding the first after encoding the second still restores the first's loudness
    out = engine.decode(first, first.codes)
    assert (out.sample_rate, out.samples.shape) == (22050, (1, 22050))
    from vampkit.audio import integrated_loudness

    assert integrated_loudness(out.samples, 22050) == pytest.approx(first.loudness, abs=0.1)


def test_a_published_checksum_that_does_not_match_is_refused(hub):
    wrong = attrs.evolve(MINE, sha256={"codec.pth": "0" * 64})
    with pytest.raises(WeightsUnavailableError, match="codec.pth.*has sha256 .* not the published"):
        wrong.resolve()


def test_a_matching_published_checksum_passes(hub):
    import hashlib

    right = attrs.evolve(MINE, sha256={"codec.pth": hashlib.sha256(hub.files["codec.pth"]).hexdigest()})
    assert right.resolve().codec.read_bytes() == hub.files["codec.pth"]


def test_the_docs_table_shows_the_bundles_values():
    import re

    text = (Path(__file__).resolve().parents[1] / "docs" / "codecs.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)`[^|]* \| ([^|]+) \|", text, re.MULTILINE))
    for field in ("sample_rate", "n_codebooks", "coarse_codebooks", "coarse_context_frames", "loudness_db"):
        shown = rows[field].split(",")[0].strip()
        assert shown == str(getattr(VAMPNET, field)), f"docs/codecs.md shows {field} = {shown}"
