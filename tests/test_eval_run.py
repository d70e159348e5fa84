"""``vampkit eval`` end to end on tiny random checkpoints and synthesised grooves."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from helpers_models import write_tiny_set

import vampkit
from vampkit import plugins
from vampkit.eval import engine as models
from vampkit.errors import OutputExistsError, OutputPathError
from vampkit.eval import evaluate, loads_experiment
from vampkit.eval.cache import safe_name
from vampkit.examples import write_groove
from vampkit.paths import name_problem
from vampkit.recipes.schema import WeightsSpec

REPO = Path(__file__).resolve().parents[1]
FAST = "sampling: {steps: 2}\n    c2f: {steps: 1}"


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return write_tiny_set(tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="module")
def engine(weights):
    return models.load_engine(WeightsSpec(preset=None, **weights), "cpu")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    for i, bpm in enumerate((100, 125, 150)):
        write_groove(folder / f"groove{i}.wav", seconds=1.5, bpm=bpm)
    return folder


def experiment(conditions: str, metrics: str = "[mel]"):
    return loads_experiment(f"name: t\ndata: {{excerpt: 1.0}}\nmetrics: {metrics}\nconditions:\n{conditions}")


@attrs.frozen
class Recorder:
    """A third-party pair metric: records the lengths it is given, scores a fixed 1.0."""

    name = "recorder"
    kind = "pair"
    calls = []  # shared on purpose: the test reads it

    def __call__(self, output, reference, sample_rate):
        Recorder.calls.append((output.shape[-1], reference.shape[-1]))
        return 1.0


@attrs.frozen
class Boom:
    """A third-party metric that raises (named in the failures; the others still come out)."""

    name = "boom"
    kind = "pair"

    def __call__(self, output, reference, sample_rate):
        raise ValueError("kaput")


@attrs.frozen
class Interrupt:
    """Raises KeyboardInterrupt on its 4th call: a run killed half way."""

    name = "interrupt"
    kind = "pair"
    count = [0]

    def __call__(self, output, reference, sample_rate):
        Interrupt.count[0] += 1
        if Interrupt.count[0] == 4:
            raise KeyboardInterrupt
        return 0.0


@pytest.fixture(scope="module", autouse=True)
def third_party_metrics():
    plugin = types.SimpleNamespace()

    @vampkit.hookimpl
    def register_metrics(register):
        for metric in (Recorder, Boom, Interrupt):
            register(metric)

    plugin.register_metrics = register_metrics
    name = plugins.register_plugin(plugin, name="test-eval-metrics")
    yield
    plugins.unregister_plugin(name)


def test_codec_round_trip_scores_better_than_everything_masked(engine, data, tmp_path):
    exp = experiment(f"  - baseline: reconstructed\n  - label: all masked\n    mask: {{periodic: {{period: 0}}}}\n    {FAST}\n")
    result = evaluate(exp, data, engine=engine, out=tmp_path / "out")
    mel = {(r["condition"], r["excerpt"]): r["mel"] for r in result.rows}
    excerpts = {r["excerpt"] for r in result.rows}
    assert len(excerpts) == 3
    assert all(mel[("reconstructed", e)] < mel[("all masked", e)] for e in excerpts)
    kept = {c["condition"]: c["kept_fraction"] for c in result.conditions}
    assert kept == {"reconstructed": 1.0, "all masked": 0.0}


def test_the_inpainting_trim_is_applied_to_output_and_reference(engine, data, tmp_path):
    Recorder.calls.clear()
    exp = experiment(f"  - label: inpaint\n    mask: {{inpaint: {{prefix: 0.25, suffix: 0.25}}}}\n    trim: 0.25\n    {FAST}\n"
                     "  - baseline: original\n", metrics="[recorder]")
    evaluate(exp, data, engine=engine, out=tmp_path / "out", limit=1)
    full = engine.geometry.sample_rate  # 1 s excerpts at the codec's rate
    trimmed = full - 2 * round(0.25 * full)
    assert Recorder.calls == [(trimmed, trimmed), (full, full)]


def test_bitrate_is_the_figure_vampkit_run_reports(engine, data, tmp_path):
    exp = experiment(f"  - label: p8\n    mask: {{any-of: [{{periodic: {{period: 8}}}}, {{codebooks: {{keep: 3}}}}]}}\n    {FAST}\n")
    result = evaluate(exp, data, engine=engine, out=tmp_path / "out", limit=1, keep_audio=True)
    assert len(list((tmp_path / "out" / "audio" / "p8").glob("*.wav"))) == 1  # kept for listening
    g = engine.geometry
    n_frames = -(-g.sample_rate // g.hop_length)  # 1 s of audio
    kept_tokens = 3 * len(range(0, n_frames, 8))
    (row,) = result.rows
    assert row["bitrate"] == pytest.approx(kept_tokens * 7 / (n_frames / g.frame_rate))  # log2(128) = 7 bits
    assert row["kept_fraction"] == pytest.approx(kept_tokens / (g.n_codebooks * n_frames))


def test_a_third_party_metric_and_mask_plugin_appear_in_the_table(engine, data, tmp_path):
    import vampkit_loudness  # noqa: F401 - plugins/vampkit-loudness, installed by scripts/setup.sh --test
    exp = experiment(f"  - label: loud frames\n    mask: {{loudness: {{quantile: 0.5}}}}\n    {FAST}\n"
                     f"  - label: periodic\n    mask: {{periodic: {{period: 7}}}}\n    {FAST}\n",
                     metrics="[mel, recorder]")
    result = evaluate(exp, data, engine=engine, out=tmp_path / "out", limit=2)
    table = (tmp_path / "out" / "table.md").read_text()
    assert "loud frames" in table and "recorder (95% CI)" in table
    assert {c["condition"]: c["recorder"] for c in result.conditions} == {"loud frames": 1.0, "periodic": 1.0}


def test_a_raising_metric_is_named_and_the_others_still_come_out(engine, data, tmp_path):
    exp = experiment("  - baseline: reconstructed\n", metrics="[mel, boom]")
    result = evaluate(exp, data, engine=engine, out=tmp_path / "out", limit=2)
    assert result.metric_failures == ("boom: ValueError: kaput",)
    assert all(r["mel"] > 0 for r in result.rows)
    assert all(r["errors"] == "boom: ValueError: kaput" for r in result.rows)
    text = (tmp_path / "out" / "summary.json").read_text()
    summary = json.loads(text, parse_constant=lambda name: pytest.fail(f"summary.json holds {name}: not JSON"))
    assert "boom" in text and summary  # the failed metric's aggregates are null, the file stays strict JSON


def test_unusable_clips_are_skipped_and_listed(engine, data, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for p in data.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    write_groove(folder / "short.wav", seconds=0.5, bpm=120)
    (folder / "broken.wav").write_bytes(b"RIFF not really a wav")
    result = evaluate(experiment("  - baseline: reconstructed\n"), folder, engine=engine, out=tmp_path / "out")
    skipped = {Path(f.input).name: f.error for f in result.skipped}
    assert set(skipped) == {"short.wav", "broken.wav"} and "too short" in skipped["short.wav"]
    assert len(result.rows) == 3


def test_a_rerun_after_a_crash_continues_with_the_same_numbers(engine, data, tmp_path, monkeypatch):
    conditions = (f"  - baseline: reconstructed\n  - label: periodic\n    mask: {{periodic: {{period: 3}}}}\n    {FAST}\n"
                  f"  - label: random\n    mask: {{random: {{p: 0.7}}}}\n    {FAST}\n")
    exp = experiment(conditions, metrics="[mel, interrupt, fad]")
    generated = []
    real = models.generate

    def counting(engine, condition, items, clock):
        generated.extend((condition.label, str(item[0])) for item in items)
        return real(engine, condition, items, clock)

    monkeypatch.setattr(models, "generate", counting)
    Interrupt.count[0] = 0
    with pytest.raises(KeyboardInterrupt):
        evaluate(exp, data, engine=engine, out=tmp_path / "resumed", limit=2)
    first = len(generated)
    cached = len(list((tmp_path / "resumed" / "cache").glob("*/*.json")))
    assert 0 < cached < 6
    resumed = evaluate(exp, data, engine=engine, out=tmp_path / "resumed", limit=2)
    # every (condition, excerpt) whose result was cached is not generated again
    assert len(generated) - first == 6 - cached
    Interrupt.count[0] = 100
    fresh = evaluate(exp, data, engine=engine, out=tmp_path / "fresh", limit=2)
    for name in ("conditions.csv", "results.csv"):
        assert (tmp_path / "resumed" / name).read_text() == (tmp_path / "fresh" / name).read_text()
    assert resumed.conditions == fresh.conditions


def test_an_existing_foreign_output_folder_is_refused(engine, data, tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(vampkit.RecipeError, match="did not make"):
        evaluate(experiment("  - baseline: original\n"), data, engine=engine, out=tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_the_command_line_evaluates_a_shipped_grid_into_table_and_plots(weights, data, tmp_path):
    out = tmp_path / "out"
    cmd = [str(Path(sys.executable).parent / "vampkit"), "eval", str(REPO / "experiments" / "sampling-steps.yaml"),
           "--data", str(data), "--weights", ",".join(weights[k] for k in ("coarse", "c2f", "codec")),
           "--device", "cpu", "--limit", "1", "--out", str(out), "--quiet",
           "--set", "data.excerpt=0.5", "--set", "conditions.2.sweep={sampling.steps: [1, 4]}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    table = (out / "table.md").read_text()
    for label in ("original", "reconstructed", "periodic P=16, 1 steps", "periodic P=16, 4 steps"):
        assert f"| {label} |" in table
    plots = {p.name for p in (out / "plots").iterdir()}
    assert {"mel-vs-bitrate.png", "mel-vs-bitrate.svg", "mel-vs-steps.png", "fad-vs-steps.svg"} <= plots
    assert (out / "results.csv").read_text().count("\n") == 1 + 4


def test_the_musical_grid_runs_beat_and_inpainting_conditions(engine, data, tmp_path):
    from vampkit.eval import load_experiment

    exp = load_experiment("musical", ["data.excerpt=1.5", "conditions.2.analysis.beat_tracker=simple",
                                      "conditions.3.mask.inpaint.prefix=0.25", "conditions.3.mask.inpaint.suffix=0.25",
                                      "conditions.3.trim=0.25", "conditions.4.mask.inpaint.prefix=0.5",
                                      "conditions.4.mask.inpaint.suffix=0.5", "conditions.4.trim=0.5",
                                      "metrics=[mel]"])
    result = evaluate(exp, data, engine=engine, out=tmp_path / "out", limit=1)
    assert [c["condition"] for c in result.conditions] == [
        "original", "reconstructed", "beat-driven 75 ms", "inpainting 0.5 s context", "inpainting 1.0 s context"]
    assert all(c["mel"] >= 0 for c in result.conditions) and not result.metric_failures
    beat = next(c for c in result.conditions if c["condition"] == "beat-driven 75 ms")
    assert 0 < beat["kept_fraction"] < 1  # the simple tracker found beats in the groove


def test_an_uninstalled_or_uncached_fad_embedding_says_so_and_the_other_metrics_run(engine, data, tmp_path):
    import importlib.util

    if importlib.util.find_spec("frechet_audio_distance") is not None:
        pytest.skip("frechet_audio_distance is installed here")
    exp = experiment("  - baseline: reconstructed\n", metrics="[mel, fad, {fad: {embedding: vggish}}]")
    result = evaluate(exp, data, engine=engine, out=tmp_path / "out", limit=2)
    (failure,) = result.metric_failures
    assert failure.startswith("fad-vggish: embedding 'vggish' needs the 'frechet_audio_distance' package")
    (condition,) = result.conditions
    assert condition["mel"] > 0 and condition["fad"] >= 0 and condition["fad-vggish"] is None


def _files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


def test_a_hostile_condition_label_cannot_write_outside_out(engine, data, tmp_path):
    exp = experiment("  - baseline: original\n    label: ../../../escaped/..\\\\x/.\n")
    out = tmp_path / "a" / "b" / "out"
    before = _files_under(tmp_path)
    evaluate(exp, data, engine=engine, out=out, limit=1, keep_audio=True)
    new = _files_under(tmp_path) - before - {tmp_path / "a", tmp_path / "a" / "b", out}
    assert new and all(out in p.parents for p in new)
    assert [p.parent.name for p in (out / "audio").rglob("*.wav")] == ["escaped_.._x"]


def test_a_symlink_in_the_results_folder_cannot_lead_out_of_it(engine, data, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / ".vampkit-eval").write_text("")  # a folder an evaluation made
    (tmp_path / "out" / "audio").symlink_to(outside)
    exp = loads_experiment("name: t\ndata: {excerpt: 1.0}\nmetrics: [mel]\nconditions:\n  - baseline: original\n",
                           file="exp.yaml")
    with pytest.raises(OutputPathError, match=r"exp\.yaml:5:5: conditions: label 'original'.*outside"):
        evaluate(exp, data, engine=engine, out=tmp_path / "out", limit=1, keep_audio=True)
    assert not any(outside.iterdir())


@pytest.mark.parametrize("label", ['"a\\0b"', '"a\\ud800b"', '"a\\x07"', "x" * 201])
def test_a_label_with_nul_control_surrogate_or_absurd_length_is_refused_at_its_line(label):
    with pytest.raises(vampkit.RecipeError, match=r"^exp\.yaml:5:12: conditions\.0\.label: "):
        loads_experiment(f"name: t\ndata: {{excerpt: 1.0}}\nmetrics: [mel]\nconditions:\n  - label: {label}\n"
                         "    baseline: original\n", file="exp.yaml")


def test_a_foreign_file_in_an_eval_results_folder_is_not_replaced(engine, data, tmp_path):
    out = tmp_path / "out"
    evaluate(experiment("  - baseline: original\n"), data, engine=engine, out=out, limit=1)
    (out / "results.csv").unlink()  # the evaluation's own file, gone; a person's file takes its name
    (out / "results.csv").write_text("mine")
    (out / ".vampkit-eval").write_text("")  # a ledger that does not list it (e.g. an older eval's marker)
    with pytest.raises(OutputExistsError, match="results.csv.*vampkit eval did not create it"):
        evaluate(experiment("  - baseline: original\n"), data, engine=engine, out=out, limit=1)
    assert (out / "results.csv").read_text() == "mine"


def test_a_resumed_run_replaces_only_its_own_files(engine, data, tmp_path):
    out = tmp_path / "out"
    evaluate(experiment("  - baseline: original\n"), data, engine=engine, out=out, limit=1)
    (out / "results.csv").write_text("stale")  # the evaluation's own file (in its ledger): updated
    evaluate(experiment("  - baseline: original\n"), data, engine=engine, out=out, limit=1)
    assert (out / "results.csv").read_text().startswith("excerpt,")


@given(st.text())
def test_a_sanitised_label_is_always_one_safe_file_name(label):
    name = safe_name(label)
    assert name_problem(name) is None and "/" not in name and "\\" not in name and name not in (".", "..")
    assert len(name) <= 80


def test_the_progress_bar_reaches_its_total_when_a_clip_fails_to_load(engine, data, tmp_path, capsys, monkeypatch):
    import vampkit.eval.runner as runner
    from vampkit.errors import AudioError

    load = runner.load_reference

    def vanishing(excerpt, sample_rate):  # a clip whose header read fine, gone by the time it is read
        if excerpt.path.name == "groove1.wav":
            raise AudioError(f"{excerpt.path}: cannot read")
        return load(excerpt, sample_rate)

    monkeypatch.setattr(runner, "load_reference", vanishing)
    result = evaluate(experiment("  - baseline: reconstructed\n  - baseline: original\n"), data, engine=engine,
                      out=tmp_path / "out", progress=True)
    assert [Path(f.input).name for f in result.skipped] == ["groove1.wav"] and len(result.rows) == 4
    bar = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "6/6" in bar, bar
