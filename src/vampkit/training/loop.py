"""The training loop: plain PyTorch, one optimizer update per global batch.

Every random draw of a step (excerpts, mask families, mask parameters, masks, dropout) comes
from generators seeded by (run seed, step, item), and ``r`` from a Sobol engine fast-forwarded
to ``step * batch_size``; so a resumed run, or the same recipe on another number of
processes, draws exactly the same batch. The loss of an update is the summed cross-entropy
over every masked token of the global batch divided by their count (upstream's mean for one
process and no accumulation), whatever the split over processes and micro-batches.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import torch

from ..atomic import write_text
from ..checkpoint import read_checkpoint
from ..device import autocast, resolve_device
from ..errors import RecipeError, TrainingError
from ..models.lora_file import save_lora
from . import checkpoints as ckpt
from .distributed import Dist, from_environment
from .masking import (
    draw_masks,
    generator_for,
    seed_for,
    sobol_engine,
    upstream_random_mask,
)
from .metrics import loss_sum, masked_targets, topk_hits
from .model import add_dropout, build_start, set_trainable
from .recipe import TrainRecipe, load_train_recipe
from .schedule import constant_lr, noam_lr
from .tokens import CodecInfo, ExcerptSampler, TokenDataset, check_codec, default_loudness_cutoff

RUN_FILE = "run.json"
TRAIN_LOG = "train.csv"
VALIDATION_LOG = "validation.csv"
TRAIN_FIELDS = ("step", "loss", "lr", "grad_norm", "masked_tokens", "items_per_second", "seconds")
VALIDATION_FIELDS = ("step", "family", "loss", "top1", "top25", "masked_tokens")
_DATA, _DROPOUT, _VALIDATION = 0xDA7A, 0xD50, 0x7A1


@attrs.frozen
class TrainResult:
    """What a run produced: its folder, last step and loss, checkpoints, last validation."""

    out: Path
    step: int
    loss: float
    checkpoint: Path | None
    lora: Path | None
    validation: dict[str, dict[str, float]]


def train(recipe: TrainRecipe | str | os.PathLike, out: str | os.PathLike | None = None, *,
          resume: bool = False, overrides: Iterable[str] = (), device: str | None = None,
          progress: bool = True) -> TrainResult:
    """Train (or fine-tune with LoRA) the recipe's model; under ``torchrun`` every process
    calls this and they train together (DDP; only rank 0 writes)."""
    if not isinstance(recipe, TrainRecipe):
        recipe = load_train_recipe(recipe, overrides)
    folder = Path(out or recipe.output or Path("runs") / recipe.name)
    resolved = resolve_device(device or recipe.device)
    group = from_environment(resolved)
    if resolved.type == "cuda" and group.active:
        resolved = torch.device("cuda", group.local_rank)
        torch.cuda.set_device(resolved)
    try:
        return _Run(recipe, folder, resolved, group, resume, progress).run()
    finally:
        group.close()


class _Run:
    """One training run's state; ``run()`` does the steps."""

    def __init__(self, recipe: TrainRecipe, out: Path, device: torch.device, group: Dist, resume: bool,
                 progress: bool) -> None:
        self.recipe, self.out, self.device, self.dist, self.progress = recipe, out, device, group, progress
        per_rank, rest = divmod(recipe.batch_size, group.world * recipe.grad_accumulation)
        if rest or per_rank == 0:
            raise RecipeError(f"{recipe.source.where(('batch_size',))}: batch_size {recipe.batch_size} must be a "
                              f"multiple of processes ({group.world}) x grad_accumulation "
                              f"({recipe.grad_accumulation})")
        self.micro = per_rank
        self.per_rank = per_rank * recipe.grad_accumulation
        resume_from = self._prepare_folder(resume)

        start = build_start(recipe.model, recipe.seed)
        self.model = start.model
        self.codec: CodecInfo = start.codec
        self.hooks = add_dropout(self.model, recipe.model.dropout)
        self.trainable = set_trainable(self.model, recipe.lora)
        self.train_set, self.val_set = self._datasets()
        n_frames = self.model.context_frames
        cutoff = recipe.dataset.loudness_cutoff
        if cutoff is None:
            cutoff = default_loudness_cutoff(self.model.n_conditioning_codebooks)
        self.sampler = ExcerptSampler(self.train_set, n_frames, self.model.n_codebooks, cutoff,
                                      recipe.dataset.num_tries)
        self.val_sampler = ExcerptSampler(self.val_set, n_frames, self.model.n_codebooks, cutoff,
                                          recipe.dataset.num_tries) if self.val_set is not None else None
        self.step, self.best, self.last_saved = 0, math.inf, None
        if resume_from is not None:
            state = ckpt.load_state(resume_from)
            weights = read_checkpoint(resume_from / ckpt.WEIGHTS)
            self.model.load_upstream_state_dict(weights.state_dict, source=str(resume_from / ckpt.WEIGHTS))
            self.step, self.best = int(state["step"]), float(state.get("best", math.inf))
            self.last_saved = (resume_from, self.step)
        self.model.to(device)
        opt = recipe.optimizer
        self.optimizer = torch.optim.AdamW(self.trainable, lr=self._lr(1), betas=(opt.beta1, opt.beta2),
                                           weight_decay=opt.weight_decay)
        if resume_from is not None:
            self.optimizer.load_state_dict(state["optimizer"])
            if isinstance(state.get("rng"), torch.Tensor):
                torch.set_rng_state(state["rng"])
        self.net: torch.nn.Module = self.model
        if group.active:
            from torch.nn.parallel import DistributedDataParallel

            self.net = DistributedDataParallel(self.model, device_ids=[device.index] if device.type == "cuda" else None,
                                               broadcast_buffers=False)
        self.sobol = sobol_engine(recipe.seed, self.step * recipe.batch_size)
        self.tensorboard = self._tensorboard() if group.is_main else None

    # -- set-up ---------------------------------------------------------------------------
    def _prepare_folder(self, resume: bool) -> Path | None:
        out, run_file = self.out, self.out / RUN_FILE
        if out.exists() and not out.is_dir():
            raise TrainingError(f"output '{out}' exists and is not a folder")
        if out.is_dir() and any(out.iterdir()) and not run_file.is_file():
            raise TrainingError(f"output folder '{out}' is not empty and holds no training run ({RUN_FILE}): "
                                f"choose a new folder")
        latest = ckpt.find_tag(out, "latest") if out.is_dir() else None
        if resume and latest is None:
            raise TrainingError(f"--resume: no checkpoint to resume from in '{out}' (no latest/{ckpt.STATE})")
        if not resume and run_file.is_file():
            raise TrainingError(f"output folder '{out}' already holds a training run: pass --resume to continue "
                                f"it, or choose a new folder")
        self.dist.barrier()  # every process has looked before rank 0 writes
        if self.dist.is_main:
            out.mkdir(parents=True, exist_ok=True)
            ckpt.remove_partials(out)
            if not resume:
                info = {"recipe": self.recipe.name, "recipe_file": self.recipe.source.file,
                        "recipe_data": self.recipe.data, "processes": self.dist.world}
                write_text(run_file, json.dumps(info, indent=1, default=str))
            else:
                step = ckpt.load_state(latest)["step"]
                for name in (TRAIN_LOG, VALIDATION_LOG):
                    _truncate_log(out / name, step)
        self.dist.barrier()
        return latest

    def _datasets(self) -> tuple[TokenDataset, TokenDataset | None]:
        spec = self.recipe.dataset
        train_set = TokenDataset.open(spec.train)
        label = f"the model's codec ({self.recipe.model.codec or self.recipe.model.weights})"
        check_codec(train_set.codec, self.codec, f"token folder '{spec.train}'", label)
        val_set = None
        if spec.validation is not None:
            val_set = TokenDataset.open(spec.validation)
            check_codec(val_set.codec, self.codec, f"token folder '{spec.validation}'", label)
        elif spec.validation_split is not None:
            train_set, val_set = train_set.split(spec.validation_split)
        if val_set is None and self.recipe.validation_items > 0 and self.dist.is_main:
            print(f"{self.recipe.name}: no validation data (data.validation or data.validation_split): "
                  f"validation is off", file=sys.stderr)
        return train_set, (val_set if self.recipe.validation_items > 0 else None)

    def _tensorboard(self) -> Any:
        if self.recipe.tensorboard is False:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            if self.recipe.tensorboard:
                raise TrainingError("tensorboard: true, but the tensorboard package is not installed "
                                    "(pip install tensorboard)") from exc
            return None
        return SummaryWriter(str(self.out / "tensorboard"))

    def _lr(self, update: int) -> float:
        opt, recipe = self.recipe.optimizer, self.recipe
        if opt.schedule == "noam":
            return noam_lr(update, opt.d_model or self.model.embedding_dim, opt.factor, recipe.warmup)
        return constant_lr(update, recipe.lr, recipe.warmup)

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> TrainResult:
        from tqdm import tqdm

        recipe = self.recipe
        bar = tqdm(total=recipe.steps, initial=self.step, unit="step", desc=recipe.name,
                   disable=not (self.progress and self.dist.is_main), dynamic_ncols=True)
        losses: list[float] = []
        last_loss, validation = math.nan, {}
        tick = time.perf_counter()
        started = tick
        try:
            while self.step < recipe.steps:
                loss, grad_norm, tokens = self.update(self.step)
                self.step += 1
                losses.append(loss)
                last_loss = loss
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}", lr=f"{self._lr(self.step):.2e}")
                final = self.step == recipe.steps
                if self.step % recipe.log_every == 0 or final:
                    now = time.perf_counter()
                    items = len(losses) * recipe.batch_size / max(now - tick, 1e-9)
                    self._log_train(sum(losses) / len(losses), grad_norm, tokens, items, now - started)
                    losses, tick = [], now
                if self.val_sampler is not None and (self.step % recipe.validate_every == 0 or final):
                    validation = self._validate()
                    self._log_validation(validation)
                    overall = _overall_loss(validation)
                    if overall < self.best:
                        self.best = overall
                        self._save("best")
                if self.step % recipe.checkpoint_every == 0 or final:
                    self._save("latest")
        finally:
            bar.close()
            if self.tensorboard is not None:
                self.tensorboard.close()
            for handle in self.hooks:
                handle.remove()
        latest = self.out / "latest"
        lora = latest / ckpt.LORA if recipe.lora else None
        return TrainResult(self.out, self.step, last_loss, latest, lora, validation)

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """This process's share of the step's global batch: codes and masks ``[n, C, T]``
        (draws the step's Sobol values: call once per step, in order)."""
        recipe, model = self.recipe, self.model
        first = self.dist.rank * self.per_rank
        mine = list(range(first, first + self.per_rank))
        picks = [self.sampler.draw(generator_for(recipe.seed, step, item, _DATA)) for item in mine]
        codes = self.sampler.codes(picks)
        r = self.sobol.draw(recipe.batch_size)[:, 0]
        masks, _ = draw_masks(recipe.masks, (recipe.batch_size, model.n_codebooks, codes.shape[-1]), mine,
                              model.n_conditioning_codebooks, seed=recipe.seed, step=step, r=r,
                              frame_rate=self.codec.frame_rate, sample_rate=self.codec.sample_rate)
        return codes, masks

    def update(self, step: int) -> tuple[float, float, int]:
        """One optimizer update of the global batch; (loss, grad norm, masked tokens)."""
        recipe, model = self.recipe, self.model
        n_cond = model.n_conditioning_codebooks
        codes, masks = self.batch(step)
        counts = self.dist.all_sum(torch.tensor([float(masks[:, n_cond:].sum())]))
        total = float(counts[0])
        self.net.train()
        local = torch.zeros((), dtype=torch.float64)
        for part in range(recipe.grad_accumulation):
            rows = slice(part * self.micro, (part + 1) * self.micro)
            z, m = codes[rows].to(self.device), masks[rows].to(self.device)
            sync = part == recipe.grad_accumulation - 1 or not self.dist.active
            with (contextlib.nullcontext() if sync else self.net.no_sync()):
                with self._dropout_rng(step, part), autocast(self.device, _autocast(recipe.precision)):
                    scores = self.net(z.masked_fill(m, model.mask_token))
                summed = loss_sum(scores, masked_targets(z, m, n_cond), recipe.optimizer.label_smoothing)
                if total > 0:
                    (summed * (self.dist.world / total)).backward()
            local += summed.detach().to("cpu", torch.float64)
        loss = float(self.dist.all_sum(local.reshape(1))[0]) / total if total > 0 else 0.0
        if not math.isfinite(loss):
            self._stop(step + 1, f"the loss is {loss}")
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr(step + 1)
        clip = recipe.optimizer.grad_clip
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.trainable, clip if clip else math.inf))
        if not math.isfinite(grad_norm):
            self._stop(step + 1, f"the gradient norm is {grad_norm}")
        if total > 0:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss, grad_norm, int(total)

    def _dropout_rng(self, step: int, part: int) -> contextlib.AbstractContextManager:
        """Dropout draws from the global RNG: seed it per (step, process, micro-batch) inside a fork."""
        if self.recipe.model.dropout <= 0:
            return contextlib.nullcontext()
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        stack = contextlib.ExitStack()
        stack.enter_context(torch.random.fork_rng(devices=devices))
        torch.manual_seed(seed_for(self.recipe.seed, step, self.dist.rank, part, _DROPOUT))
        return stack

    def _stop(self, step: int, what: str) -> None:
        if self.last_saved is not None:
            kept = f"the last good checkpoint is '{self.last_saved[0]}' (step {self.last_saved[1]})"
        else:
            kept = "no checkpoint had been written yet"
        raise TrainingError(f"step {step}: {what}; training stopped, {kept}")

    # -- validation ---------------------------------------------------------------------------
    def _validate(self) -> dict[str, dict[str, float]]:
        """Loss and top-1/top-25 accuracy on masked tokens, per mask family, on fixed items."""
        recipe, model, mixture = self.recipe, self.model, self.recipe.masks
        n_cond = model.n_conditioning_codebooks
        sums = torch.zeros(len(mixture.entries), 4, dtype=torch.float64)  # loss, top1, top25, tokens
        items = list(range(self.dist.rank, recipe.validation_items, self.dist.world))
        model.eval()
        with torch.no_grad():
            for first in range(0, len(items), self.micro):
                chunk = items[first : first + self.micro]
                picks = [self.val_sampler.draw(generator_for(recipe.seed, _VALIDATION, i)) for i in chunk]
                codes = self.val_sampler.codes(picks)
                shape = codes.shape
                for family, entry in enumerate(mixture.entries):
                    rows = []
                    for i in chunk:
                        gen = generator_for(recipe.seed, _VALIDATION, i, family)
                        if entry.is_upstream_random:
                            r = torch.rand(1, generator=gen)
                            rows.append(upstream_random_mask((1, shape[1], shape[2]), r, n_cond, gen)[0])
                        else:
                            rows.append(mixture.item_mask(family, shape[1], shape[2], n_cond, gen,
                                                          frame_rate=self.codec.frame_rate,
                                                          sample_rate=self.codec.sample_rate))
                    m = torch.stack(rows).to(self.device)
                    z = codes.to(self.device)
                    with autocast(self.device, _autocast(recipe.precision)):
                        scores = model(z.masked_fill(m, model.mask_token))
                    targets = masked_targets(z, m, n_cond)
                    hits = topk_hits(scores.float(), targets)
                    sums[family] += torch.tensor([
                        float(loss_sum(scores, targets, recipe.optimizer.label_smoothing)), hits[1], hits[25],
                        float((targets != -100).sum())], dtype=torch.float64)
        model.train()
        totals = self.dist.all_sum(sums)
        out = {}
        for family, entry in enumerate(mixture.entries):
            loss, top1, top25, tokens = (float(v) for v in totals[family])
            n = max(tokens, 1.0)
            out[entry.label] = {"loss": loss / n if tokens else math.nan, "top1": top1 / n, "top25": top25 / n,
                                "masked_tokens": tokens}
        return out

    # -- output ---------------------------------------------------------------------------------
    def _save(self, tag: str) -> None:
        if self.dist.is_main:
            def writer(folder: Path) -> None:
                self.model.save(folder / ckpt.WEIGHTS)
                if self.recipe.lora:
                    save_lora(self.model, folder / ckpt.LORA)
                ckpt.save_state(folder / ckpt.STATE, {
                    "format": 1, "step": self.step, "optimizer": self.optimizer.state_dict(),
                    "schedule": {"name": self.recipe.optimizer.schedule, "update": self.step},
                    "sobol_drawn": self.step * self.recipe.batch_size, "rng": torch.get_rng_state(),
                    "best": self.best, "processes": self.dist.world, "seed": self.recipe.seed,
                })

            path = ckpt.write_tag(self.out, tag, writer)
            if tag == "latest":
                self.last_saved = (path, self.step)
        elif tag == "latest":
            self.last_saved = (self.out / tag, self.step)
        self.dist.barrier()

    def _log_train(self, loss: float, grad_norm: float, tokens: int, items: float, seconds: float) -> None:
        if not self.dist.is_main:
            return
        row = {"step": self.step, "loss": loss, "lr": self._lr(self.step), "grad_norm": grad_norm,
               "masked_tokens": tokens, "items_per_second": items, "seconds": seconds}
        _append(self.out / TRAIN_LOG, TRAIN_FIELDS, [row])
        if self.tensorboard is not None:
            for key in ("loss", "lr", "grad_norm", "items_per_second"):
                self.tensorboard.add_scalar(f"train/{key}", row[key], self.step)

    def _log_validation(self, results: dict[str, dict[str, float]]) -> None:
        if not self.dist.is_main:
            return
        rows = [{"step": self.step, "family": name, **values} for name, values in results.items()]
        _append(self.out / VALIDATION_LOG, VALIDATION_FIELDS, rows)
        if self.tensorboard is not None:
            for name, values in results.items():
                for key in ("loss", "top1", "top25"):
                    self.tensorboard.add_scalar(f"validation/{name}/{key}", values[key], self.step)


def _autocast(precision: str) -> str | None:
    return "bf16" if precision == "bf16" else None


def _overall_loss(results: dict[str, dict[str, float]]) -> float:
    tokens = sum(v["masked_tokens"] for v in results.values())
    if not tokens:
        return math.inf
    return sum(v["loss"] * v["masked_tokens"] for v in results.values() if v["masked_tokens"]) / tokens


def _append(path: Path, fields: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    new = not path.exists()
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        if new:
            writer.writeheader()
        writer.writerows(rows)


def _truncate_log(path: Path, step: int) -> None:
    """Drop log rows after ``step`` (the checkpoint a resumed run continues from)."""
    if not path.is_file():
        return
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return
    kept = [rows[0]] + [row for row in rows[1:] if row and row[0].isdigit() and int(row[0]) <= step]
    import io

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(kept)
    write_text(path, buffer.getvalue())
