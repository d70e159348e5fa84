"""``evaluate``: run every condition of an experiment over the chosen excerpts, score each
output, aggregate per condition, write the results folder. Resumable through ``ResultCache``.

Order of work: validate the experiment (no model), resolve and load the weights, choose the
excerpts, then batch by batch of excerpts: load and encode them once, run each condition
(one batched sampling call per condition), decode, trim, score, cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import torch

from ..atomic import write_text
from ..errors import RecipeError, VampkitError
from ..pipeline.engine import checkpoint_paths, resolve_weights
from ..pipeline.executors import ActorBody, make_executor
from ..pipeline.runner import Failure
from ..recipes.schema import WeightsSpec
from . import engine as models
from .cache import ResultCache, safe_name
from .data import Excerpt, choose_excerpts, load_reference
from .experiment import Condition, Experiment, load_experiment
from .metrics import EvalContext, metric_label
from .outputs import ResultsFolder
from .report import markdown_table, plot_results, write_csv, write_json
from .stats import bootstrap_mean

#: excerpts whose condition outputs are sampled together (one batched forward per step)
BATCH = 8


@attrs.frozen
class EvalResult:
    """What an evaluation produced: rows, per-condition aggregates, files, what went wrong."""

    out_dir: Path
    rows: tuple[dict[str, Any], ...]
    conditions: tuple[dict[str, Any], ...]
    summary: dict[str, Any]
    files: dict[str, Path]
    skipped: tuple[Failure, ...]
    metric_failures: tuple[str, ...]
    table: str


def _weights_spec(weights: Any, fallback: WeightsSpec) -> WeightsSpec:
    """``--weights``: a preset name, ``COARSE,C2F,CODEC`` or a mapping; None: the experiment's."""
    if weights is None:
        return fallback
    if isinstance(weights, WeightsSpec):
        return weights
    if isinstance(weights, dict):
        return WeightsSpec(preset=None, **{k: str(weights[k]) for k in ("coarse", "c2f", "codec")})
    parts = [p.strip() for p in str(weights).split(",")]
    if len(parts) == 1:
        return WeightsSpec(preset=parts[0])
    if len(parts) != 3:
        raise RecipeError(f"--weights {weights}: give a preset name or three paths COARSE,C2F,CODEC")
    return WeightsSpec(preset=None, coarse=parts[0], c2f=parts[1], codec=parts[2])


def _identity(checkpoints: dict[str, str], experiment: Experiment) -> str:
    """What every cached result depends on besides the condition: checkpoints, metrics, seed."""
    files = {}
    for role, path in sorted(checkpoints.items()):
        try:
            stat = os.stat(path)
            files[role] = [str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns]
        except OSError:
            files[role] = str(path)
    metrics = [[metric_label(m), repr(m)] for m in experiment.metrics]
    text = json.dumps({"checkpoints": files, "metrics": metrics, "seed": experiment.seed}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _trimmed(audio: torch.Tensor, trim: float, sample_rate: int) -> torch.Tensor:
    cut = round(trim * sample_rate)
    return audio[..., cut:audio.shape[-1] - cut] if cut else audio


def _error_text(exc: BaseException) -> str:
    if os.environ.get("VAMPKIT_DEBUG"):
        traceback.print_exc()
    return str(exc) if isinstance(exc, VampkitError) else f"{type(exc).__name__}: {exc}"


def _checkpoints(engine: Any) -> dict[str, str]:
    return dict(getattr(engine, "checkpoints", {}) or {})


class _Results:
    """What the driver of an evaluation needs to aggregate: experiment, cache, metrics (no model)."""

    def __init__(self, experiment: Experiment, out: ResultsFolder, checkpoints: dict[str, str]) -> None:
        self.experiment = experiment
        self.out = out
        self.checkpoints = checkpoints
        self.cache = ResultCache(out)
        self.identity = _identity(checkpoints, experiment)
        self.pair = [m for m in experiment.metrics if m.kind == "pair"]
        self.sets = [m for m in experiment.metrics if m.kind == "set"]

    def key(self, condition: Condition) -> str:
        return f"{safe_name(condition.label)[:40]}-{condition.fingerprint}{self.identity}"

    def seed(self, excerpt: Excerpt) -> int:
        return self.experiment.seed + excerpt.index

    # -- aggregation -------------------------------------------------------------------------
    def collect(self, excerpts: list[Excerpt]) -> tuple[list[dict], list[dict], dict[str, str]]:
        rows: list[dict] = []
        aggregates: list[dict] = []
        failures: dict[str, str] = {}
        for condition in self.experiment.conditions:
            key = self.key(condition)
            entries = [(e, self.cache.get(key, e.key, self.experiment.seed)) for e in excerpts]
            entries = [(e, entry) for e, entry in entries if entry is not None]
            base = {"condition": condition.label, "family": condition.family, "baseline": condition.baseline or "",
                    "steps": condition.steps, "trim": condition.trim}
            for excerpt, entry in entries:
                for label, message in entry["errors"].items():
                    failures.setdefault(label, message)
                rows.append({**base, "excerpt": excerpt.name, "file": str(excerpt.path),
                             "start_s": excerpt.start / excerpt.sample_rate, "seed": self.seed(excerpt),
                             "kept_fraction": entry.get("kept_fraction"), "bitrate": entry.get("bitrate"),
                             **entry["values"],
                             "errors": "; ".join(f"{k}: {v}" for k, v in sorted(entry["errors"].items()))})
            aggregate = {**base, "n": len(entries)}
            for measure in ("kept_fraction", "bitrate"):
                known = [entry[measure] for _, entry in entries if entry.get(measure) is not None]
                aggregate[measure] = sum(known) / len(known) if known else None
            for metric in self.pair:
                label = metric_label(metric)
                mean, low, high = bootstrap_mean([entry["values"].get(label) for _, entry in entries
                                                  if entry["values"].get(label) is not None])
                aggregate.update({label: mean, f"{label}_ci_low": low, f"{label}_ci_high": high})
            for metric in self.sets:
                label = metric_label(metric)
                aggregate[label] = self.set_value(metric, condition, key, entries, failures)
            aggregates.append(aggregate)
        return rows, aggregates, failures

    def set_value(self, metric: Any, condition: Condition, key: str, entries: list, failures: dict) -> float | None:
        import numpy as np

        label = metric_label(metric)
        outputs, refs = [], []
        for excerpt, entry in entries:
            out = self.cache.features(key, entry, label)
            ref = self.cache.reference_features(excerpt.key, label, condition.trim)
            if out is not None and ref is not None:
                outputs.append(out)
                refs.append(ref)
        if not outputs:
            return None
        try:
            return float(metric.compare(np.concatenate(outputs), np.concatenate(refs)))
        except Exception as exc:  # noqa: BLE001 - a raising metric is named; the others still come out
            failures.setdefault(label, f"{condition.label}: {_error_text(exc)}")
            return None



class _Run(_Results):
    """The work of an evaluation on one engine: batches of excerpts generated, scored, cached."""

    def __init__(self, experiment: Experiment, engine: Any, out: ResultsFolder, keep_audio: bool,
                 progress: Any) -> None:
        super().__init__(experiment, out, _checkpoints(engine))
        self.engine = engine
        self.keep_audio = keep_audio
        self.progress = progress
        self.clock = models.ModelClock()
        self.metric_seconds = 0.0
        self.context = EvalContext(codec=models.codec_of(engine), device=str(getattr(engine, "device", "cpu")))
        self.sample_rate = int(engine.geometry.sample_rate)
        self.analyses: dict[str, dict] = {}  # per excerpt, shared by its conditions

    # -- one batch of excerpts ---------------------------------------------------------------
    def run_batch(self, batch: list[Excerpt], skipped: list[Failure]) -> None:
        pending = {c.label: [e for e in batch if self.cache.get(self.key(c), e.key, self.experiment.seed) is None]
                   for c in self.experiment.conditions}
        trims = sorted({c.trim for c in self.experiment.conditions})
        need_refs = [e for e in batch if any(self.cache.reference_features(e.key, metric_label(m), t) is None
                                             for m in self.sets for t in trims)]
        need_audio = {e.key for e in need_refs} | {e.key for es in pending.values() for e in es}
        references: dict[str, torch.Tensor] = {}
        for excerpt in batch:
            if excerpt.key in need_audio:
                try:
                    references[excerpt.key] = load_reference(excerpt, self.sample_rate)
                except VampkitError as exc:
                    skipped.append(Failure(str(excerpt.path), str(exc)))
                    if self.progress is not None:  # its outputs will not come: count them done
                        self.progress(len([c for c in self.experiment.conditions
                                           if excerpt in pending[c.label]]))
        for excerpt in need_refs:
            if excerpt.key in references:
                self.reference_features(excerpt, references[excerpt.key], trims)
        encoded: dict[str, Any] = {}
        self.analyses = {}
        for condition in self.experiment.conditions:
            todo = [e for e in pending[condition.label] if e.key in references]
            cached = len(batch) - len(pending[condition.label])
            if self.progress is not None and cached:
                self.progress(cached)
            if not todo:
                continue
            for e in todo:
                if e.key not in encoded:
                    encoded[e.key] = models.encode(self.engine, references[e.key], self.clock)
            self.run_condition(condition, todo, references, encoded)

    def reference_features(self, excerpt: Excerpt, reference: torch.Tensor, trims: list[float]) -> None:
        for metric in self.sets:
            label = metric_label(metric)
            for trim in trims:
                if self.cache.reference_features(excerpt.key, label, trim) is not None:
                    continue
                try:
                    start = time.perf_counter()
                    features = metric.features(_trimmed(reference, trim, self.sample_rate), self.sample_rate, self.context)
                    self.metric_seconds += time.perf_counter() - start
                except Exception:  # noqa: BLE001 - reported per output in score(), where it raises again
                    continue
                self.cache.put_reference_features(excerpt.key, label, trim, features)

    def run_condition(self, condition: Condition, todo: list[Excerpt], references: dict, encoded: dict) -> None:
        items = [(e.path, references[e.key], encoded[e.key], self.seed(e), self.analyses.setdefault(e.key, {}))
                 for e in todo]
        try:
            made = models.generate(self.engine, condition, items, self.clock)
        except VampkitError as exc:
            raise VampkitError(f"condition '{condition.label}': {exc}") from exc
        for excerpt, (codes, measures) in zip(todo, made):
            reference = references[excerpt.key]
            if condition.baseline == "original":
                output = reference
            else:
                output = models.decode(self.engine, encoded[excerpt.key], codes, self.clock)
                output = output[..., :reference.shape[-1]]
                if output.shape[-1] < reference.shape[-1]:
                    output = torch.nn.functional.pad(output, (0, reference.shape[-1] - output.shape[-1]))
            if self.keep_audio:
                from ..audio import save_audio

                path = self.out.place(f"audio/{safe_name(condition.label)}/{safe_name(excerpt.name)}.wav",
                                      key=f"conditions: label '{condition.label}'", where=condition.where)
                save_audio(path, output.cpu(), self.sample_rate, protect=[excerpt.path])
            self.score(condition, excerpt, output, reference, measures)
            if self.progress is not None:
                self.progress(1)

    def score(self, condition: Condition, excerpt: Excerpt, output: torch.Tensor, reference: torch.Tensor,
              measures: dict[str, Any]) -> None:
        out_t = _trimmed(output.float().cpu(), condition.trim, self.sample_rate)
        ref_t = _trimmed(reference.float().cpu(), condition.trim, self.sample_rate)
        values: dict[str, float | None] = {}
        errors: dict[str, str] = {}
        features = {}
        start = time.perf_counter()
        for metric in self.pair:
            label = metric_label(metric)
            try:
                values[label] = float(metric(out_t, ref_t, self.sample_rate))
            except Exception as exc:  # noqa: BLE001 - a raising metric is named; the others still run
                values[label], errors[label] = None, _error_text(exc)
        for metric in self.sets:
            label = metric_label(metric)
            try:
                features[label] = metric.features(out_t, self.sample_rate, self.context)
            except Exception as exc:  # noqa: BLE001 - as above
                errors[label] = _error_text(exc)
        self.metric_seconds += time.perf_counter() - start
        entry = {"values": values, "errors": errors, **measures, "trimmed_samples": int(out_t.shape[-1])}
        self.cache.put(self.key(condition), excerpt.key, self.experiment.seed, entry, features)

def evaluate(
    experiment: Experiment | str | os.PathLike,
    data: str | os.PathLike,
    *,
    weights: Any = None,
    device: str | None = None,
    limit: int | None = None,
    out: str | os.PathLike | None = None,
    keep_audio: bool = False,
    overrides: Iterable[str] = (),
    engine: Any = None,
    progress: bool = False,
    executor: Any = "local",
) -> EvalResult:
    """Evaluate every condition of ``experiment`` on excerpts of ``data`` (a folder or glob).

    Writes ``out`` (default ``eval-<name>``): ``results.csv`` (one row per excerpt and
    condition), ``conditions.csv`` (mean and bootstrap 95% interval per condition),
    ``summary.json``, ``table.md``, ``plots/`` and, with ``keep_audio``, ``audio/``. A re-run
    with the same ``out`` continues from its cache. ``engine`` replaces the VampNet models.
    ``executor``: ``"local"`` (this process) or a ``RayExecutor`` (batches of excerpts on Ray
    workers that share the results folder; the same numbers as local).
    """
    started = time.perf_counter()
    if not isinstance(experiment, Experiment):
        experiment = load_experiment(experiment, overrides)
    for condition in experiment.conditions:
        if 2 * condition.trim >= experiment.data.excerpt:
            raise RecipeError(f"{experiment.path}: condition '{condition.label}': trim {condition.trim:g} s on "
                              f"each side leaves nothing of a {experiment.data.excerpt:g} s excerpt")
    if limit is not None and limit < 1:
        raise RecipeError(f"--limit must be >= 1, got {limit}")
    if keep_audio:
        _check_audio_folders(experiment)
    folder = ResultsFolder(out if out is not None else f"eval-{safe_name(experiment.name)}")
    folder.check()
    excerpts, skipped = choose_excerpts(data, experiment.data, limit)  # reads headers only
    runner = make_executor(executor)
    spec = _weights_spec(weights, experiment.weights)
    device = device or experiment.device
    if engine is None and runner.name == "local":
        engine = models.load_engine(spec, device)
    # remote workers load the models; the driver only resolves the files (offline: stops here)
    checkpoints = _checkpoints(engine) if engine is not None else checkpoint_paths(resolve_weights(spec))
    folder.open()
    load_seconds = time.perf_counter() - started

    total = len(excerpts) * len(experiment.conditions)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc=f"eval {experiment.name}", unit="output", file=sys.stderr)
    batches = [excerpts[first:first + BATCH] for first in range(0, len(excerpts), BATCH)]
    skipped = list(skipped)
    try:
        if runner.name == "local":
            run = _Run(experiment, engine, folder, keep_audio, bar.update if bar is not None else None)
            for batch in batches:
                run.run_batch(batch, skipped)
            clock = {"model": run.clock.seconds, "metrics": run.metric_seconds}
        else:
            clock = _run_remote(runner, (experiment, spec, device, engine, folder, keep_audio), batches, skipped, bar)
    finally:
        if bar is not None:
            bar.close()
    bad = {f.input for f in skipped}
    usable = [e for e in excerpts if str(e.path) not in bad]
    results = _Results(experiment, folder, checkpoints)
    rows, aggregates, failures = results.collect(usable)
    return _write(results, experiment, folder, usable, skipped, rows, aggregates, failures,
                  {"load": load_seconds, **clock, "total": time.perf_counter() - started})


@attrs.frozen
class _BatchDone:
    """What a remote worker reports of one batch: unreadable excerpts and its seconds."""

    skipped: tuple[Failure, ...]
    model: float
    metrics: float


class _EvalWorker(ActorBody):
    """A Ray actor's body for ``vampkit eval``: loads the models once, then runs batches of
    excerpts exactly as the local loop does, into the shared results folder's cache."""

    def __init__(self, experiment: Experiment, spec: WeightsSpec, device: str, engine: Any,
                 folder: ResultsFolder, keep_audio: bool) -> None:
        self.args = (experiment, spec, device, engine, folder, keep_audio)
        self.run: _Run | None = None

    def batch(self, batch: list[Excerpt]) -> _BatchDone:
        if self.run is None:
            experiment, spec, device, engine, folder, keep_audio = self.args
            engine = engine if engine is not None else models.load_engine(spec, device)
            self.run = _Run(experiment, engine, folder, keep_audio, None)
        model, metrics = self.run.clock.seconds, self.run.metric_seconds
        skipped: list[Failure] = []
        self.run.run_batch(batch, skipped)
        return _BatchDone(tuple(skipped), self.run.clock.seconds - model, self.run.metric_seconds - metrics)


def _run_remote(runner: Any, args: tuple, batches: list[list[Excerpt]], skipped: list[Failure],
                bar: Any) -> dict[str, float]:
    """The batches on the executor's actor pool; a batch whose workers keep dying has its
    excerpts reported as skipped, an error a batch raises stops the evaluation as locally."""
    clock = {"model": 0.0, "metrics": 0.0}
    experiment, folder = args[0], args[4]
    with runner.session() as ray:
        init = tuple(ray.put(arg) for arg in args)
        for returned in runner.map(_EvalWorker, init, batches, "batch", on_interrupt=lambda _: folder.remove_temporaries()):
            batch = returned.item
            if returned.error is not None:
                raise returned.error
            if returned.lost is not None:
                skipped.extend(Failure(str(e.path), returned.lost) for e in batch)
                continue
            done: _BatchDone = returned.value
            skipped.extend(done.skipped)
            clock["model"] += done.model
            clock["metrics"] += done.metrics
            if bar is not None:
                bar.update(len(batch) * len(experiment.conditions))
    return clock


def _check_audio_folders(experiment: Experiment) -> None:
    """Two conditions whose labels sanitise to one ``audio/`` folder name would mix their audio."""
    seen: dict[str, Condition] = {}
    for condition in experiment.conditions:
        other = seen.setdefault(safe_name(condition.label), condition)
        if other is not condition:
            raise RecipeError(f"{condition.where or experiment.path}: conditions: labels '{other.label}' and "
                              f"'{condition.label}' give one audio folder name '{safe_name(condition.label)}' "
                              "(--keep-audio); make them differ in letters or digits")


def _write(run: _Results, experiment: Experiment, out: ResultsFolder, excerpts: list[Excerpt], skipped: list[Failure],
           rows: list[dict], aggregates: list[dict], failures: dict[str, str], timings: dict[str, float]) -> EvalResult:
    pair = [metric_label(m) for m in run.pair]
    sets = [metric_label(m) for m in run.sets]
    fixed = ["condition", "family", "baseline", "steps", "trim"]
    def place(name: str) -> Path:
        return out.place(name, key="--out")

    files = {
        "results": write_csv(place("results.csv"), rows, ["excerpt", "file", "start_s", *fixed, "seed",
                                                          "kept_fraction", "bitrate", *pair, "errors"]),
        "conditions": write_csv(place("conditions.csv"), aggregates,
                                [*fixed, "n", "kept_fraction", "bitrate",
                                 *[c for m in pair for c in (m, f"{m}_ci_low", f"{m}_ci_high")], *sets]),
    }
    table = markdown_table(aggregates, pair, sets)
    files["table"] = write_text(place("table.md"), f"# {experiment.name}\n\n{table}")
    for path in plot_results(lambda name: place(f"plots/{name}"), aggregates, pair + sets):
        files[f"plot:{path.name}"] = path
    failed = tuple(f"{label}: {message}" for label, message in sorted(failures.items()))
    summary = {
        "experiment": experiment.name,
        "file": experiment.path,
        "excerpts": len(excerpts),
        "excerpt_seconds": experiment.data.excerpt,
        "seed": experiment.seed,
        "checkpoints": dict(run.checkpoints),
        "metrics": pair + sets,
        "bitrate_definition": "kept tokens x log2(codebook size) / excerpt duration (as `vampkit run` reports)",
        "conditions": [{**a, "definition": c.describe()} for a, c in zip(aggregates, experiment.conditions)],
        "skipped": [{"input": f.input, "error": f.error} for f in skipped],
        "metric_failures": list(failed),
        "timings": {k: round(v, 4) for k, v in timings.items()},
    }
    files["summary"] = write_json(place("summary.json"), summary)
    return EvalResult(out_dir=out.root, rows=tuple(rows), conditions=tuple(aggregates), summary=summary, files=files,
                      skipped=tuple(skipped), metric_failures=failed, table=table)


__all__ = ["EvalResult", "evaluate"]
