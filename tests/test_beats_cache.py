"""The analysis cache: keyed by audio content + analyser + parameters, atomic, self-healing."""

import json

import attrs
import numpy as np
import pytest
import torch

import vampkit
from vampkit import MaskContext, ParameterError, UnknownNameError, plugins
from vampkit.analysis import analyses_for
from vampkit.beats import AnalysisCache, Beats
from vampkit.beats.analyses import BeatsAnalysis
from vampkit.beats.base import mono
from vampkit.beats.cache import audio_digest, cache_key
from vampkit.masks.beat import Beat
from vampkit.params import param

SR = 16000
CALLS: list[tuple[int, float]] = []


@attrs.frozen
class CountingTracker:
    """A test tracker: beats every 60/tempo s, counting its calls (stands in for the RNN)."""

    name = "counting"

    tempo: float = param(120.0)

    def track(self, audio, sample_rate):
        samples = mono(audio)
        CALLS.append((len(samples), self.tempo))
        return Beats(times=np.arange(0.0, len(samples) / sample_rate, 60.0 / self.tempo),
                     downbeats=np.arange(0.0, len(samples) / sample_rate, 240.0 / self.tempo), meter=4,
                     tracker=self.name)


class CountingPlugin:
    @vampkit.hookimpl
    def register_beat_trackers(self, register):
        register(CountingTracker)


@pytest.fixture(autouse=True)
def counting_tracker(monkeypatch, tmp_path):
    monkeypatch.setenv("VAMPKIT_CACHE", str(tmp_path / "cache"))
    CALLS.clear()
    name = plugins.register_plugin(CountingPlugin(), name="test-counting-tracker")
    yield
    plugins.unregister_plugin(name)


def noise(seconds=2.0, seed=0):
    return np.random.default_rng(seed).standard_normal(int(seconds * SR)).astype(np.float32) * 0.1


def beats_of(audio, **options):
    return analyses_for(audio, SR, beat_tracker="counting", options={"beats": options} if options else None)["beats"]()


def test_second_analysis_of_the_same_audio_does_not_run_the_tracker_again():
    audio = noise()
    first = beats_of(audio)
    second = beats_of(audio.copy())
    assert first == second
    assert len(CALLS) == 1


def test_the_same_content_as_a_stereo_tensor_hits_the_cache():
    audio = noise()
    beats_of(audio)
    beats_of(torch.from_numpy(audio).expand(2, -1))  # same mono mix
    assert len(CALLS) == 1


def test_other_parameters_or_other_audio_run_the_tracker():
    audio = noise()
    beats_of(audio)
    beats_of(audio, tempo=100.0)
    beats_of(noise(seed=1))
    beats_of(audio, tempo=100.0)
    assert CALLS == [(2 * SR, 120.0), (2 * SR, 100.0), (2 * SR, 120.0)]


def test_cache_files_live_in_the_vampkit_analysis_cache(tmp_path):
    beats_of(noise())
    files = list((tmp_path / "cache" / "analysis").glob("*.json"))
    assert [f.name.startswith("beats-counting-") for f in files] == [True]
    assert not list((tmp_path / "cache" / "analysis").glob("*.tmp"))  # atomic: no leftovers


@pytest.mark.parametrize("garbage", [b"", b"{not json", b"\xff\xfe\x00", b'{"key": "other", "result": {}}',
                                     b"[1, 2, 3]"])
def test_a_corrupt_cache_file_is_recomputed_and_rewritten(tmp_path, garbage):
    audio = noise()
    expected = beats_of(audio)
    (path,) = (tmp_path / "cache" / "analysis").glob("*.json")
    path.write_bytes(garbage)
    with pytest.warns(UserWarning, match="recomputing"):
        assert beats_of(audio) == expected
    assert len(CALLS) == 2
    assert json.loads(path.read_text())["result"]["times"] == list(expected.times)
    assert beats_of(audio) == expected and len(CALLS) == 2


def test_a_cache_entry_that_does_not_decode_is_recomputed(tmp_path):
    audio = noise()
    expected = beats_of(audio)
    (path,) = (tmp_path / "cache" / "analysis").glob("*.json")
    document = json.loads(path.read_text())
    document["result"]["times"] = [-1.0]  # invalid beat time
    path.write_text(json.dumps(document))
    with pytest.warns(UserWarning, match="does not decode"):
        assert beats_of(audio) == expected
    assert len(CALLS) == 2


def test_cache_false_always_runs_the_tracker():
    audio = noise()
    for _ in range(2):
        analyses_for(audio, SR, beat_tracker="counting", cache=False)["beats"]()
    assert len(CALLS) == 2


def test_an_explicit_cache_dir_is_used(tmp_path):
    BeatsAnalysis()(noise(), SR, tracker="counting", cache_dir=tmp_path / "elsewhere")
    assert len(list((tmp_path / "elsewhere").glob("beats-*.json"))) == 1


def test_analyses_are_lazy_and_shared_through_the_mask_context():
    analyses = analyses_for(noise(), SR, beat_tracker="counting")
    assert set(analyses) >= {"beats", "onsets"} and CALLS == []
    ctx = MaskContext(n_codebooks=2, n_frames=42, sample_rate=SR, hop_length=768, analyses=analyses)
    mask = Beat(before=0.0, after=0.0001)(ctx)
    assert len(CALLS) == 1
    assert [i for i, v in enumerate(mask.tensor[0].tolist()) if not v] == [0, 11, 21, 32]  # ceil(k*0.5*SR/768)


def test_options_for_an_unknown_analysis_are_refused():
    with pytest.raises(ParameterError, match="unknown analysis 'beat'.*did you mean 'beats'"):
        analyses_for(noise(), SR, options={"beat": {}})


def test_unknown_tracker_and_bad_tracker_parameters_are_named():
    analyses = analyses_for(noise(), SR, beat_tracker="madmon")
    with pytest.raises(UnknownNameError, match="beat tracker 'madmon'.*did you mean 'madmom'"):
        analyses["beats"]()
    with pytest.raises(ParameterError, match="counting: unknown parameter 'bpm'"):
        analyses_for(noise(), SR, beat_tracker="counting", options={"beats": {"bpm": 3}})["beats"]()


def test_empty_audio_is_an_audio_error():
    with pytest.raises(vampkit.AudioError, match="empty"):
        analyses_for(np.zeros(0, dtype=np.float32), SR)


def test_audio_digest_depends_on_content_and_rate():
    audio = noise()
    assert audio_digest(audio, SR) == audio_digest(audio.copy(), SR)
    assert audio_digest(audio, SR) != audio_digest(audio, SR + 1)
    changed = audio.copy()
    changed[1000] += 1e-3
    assert audio_digest(audio, SR) != audio_digest(changed, SR)
    assert cache_key("beats", "d", "t", {"a": 1}) != cache_key("beats", "d", "t", {"a": 2})


def test_store_replaces_a_file_atomically(tmp_path):
    cache = AnalysisCache(tmp_path)
    cache.store("k", {"v": 1})
    cache.store("k", {"v": 2})
    assert cache.load("k") == {"v": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.json"]


def test_an_unusable_cache_folder_is_said_once_and_the_analysis_still_runs(tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("VAMPKIT_CACHE", str(tmp_path / "a-file" / "cache"))
    with pytest.warns(UserWarning, match=r"cache folder .* cannot be created .* set VAMPKIT_CACHE") as caught:
        beats = beats_of(noise())
    assert len(beats.times) > 0 and len(CALLS) == 1
    assert len(caught) == 1


def test_weights_with_an_unusable_cache_folder_are_one_clean_error(tmp_path, monkeypatch):
    from vampkit.errors import CacheError
    from vampkit.weights import resolve_weights

    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("VAMPKIT_CACHE", str(tmp_path / "a-file" / "cache"))
    with pytest.raises(CacheError, match=r"cache folder '.*a-file/cache/.*' cannot be created"):
        resolve_weights("vampnet")
