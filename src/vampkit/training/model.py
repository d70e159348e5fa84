"""The model a training run starts from, its codec, what is trainable, and training dropout."""

from __future__ import annotations

from typing import Any

import attrs
import torch
import torch.nn.functional as F

from ..errors import CheckpointError
from ..models import VampNet
from ..models.lora_file import is_lora_key
from .recipe import ModelSpec
from .tokens import CodecInfo


@attrs.frozen(eq=False)
class Start:
    """The model to train, the codec whose tables it embeds with, and where it came from."""

    model: VampNet
    codec: CodecInfo
    source: str


def build_start(spec: ModelSpec, seed: int) -> Start:
    """Load or create the model of ``spec`` with its codec's codebook tables (on CPU)."""
    from ..codecs import load_codec

    base = None
    codec_spec = spec.codec
    context = spec.context_frames
    if spec.weights is not None:
        from ..weights import resolve_weights

        paths = resolve_weights(spec.weights)
        base = paths.coarse if spec.which == "coarse" else paths.c2f
        if base is None:
            raise CheckpointError(f"weights '{spec.weights}' have no {spec.which} model")
        codec_spec = codec_spec or str(paths.codec)
        if context is None:  # the bundle's context for this model
            context = paths.bundle.coarse_context_frames if spec.which == "coarse" else paths.bundle.c2f_context_frames
    elif spec.checkpoint is not None:
        base = spec.checkpoint
    codec = load_codec(str(codec_spec), device="cpu")
    tables = codec.codebook_tables()
    info = CodecInfo.of(codec)
    if base is not None:
        model = VampNet.load(str(base), tables, "cpu", context_frames=context)
        source = str(base)
    else:
        kwargs = dict(spec.kwargs or {})
        kwargs.setdefault("vocab_size", info.codebook_size)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = VampNet.from_kwargs(kwargs, tables, context_frames=spec.context_frames, source="model.kwargs")
        source = "model.kwargs"
    check_model_codec(model, info, source)
    return Start(model, info, source)


def check_model_codec(model: VampNet, codec: CodecInfo, source: str) -> None:
    """The model's vocabulary and codebook count must fit the codec's."""
    if model.vocab_size != codec.codebook_size:
        raise CheckpointError(f"{source}: model vocab_size {model.vocab_size}, codec codebook size "
                              f"{codec.codebook_size}")
    if model.n_codebooks > codec.n_codebooks:
        raise CheckpointError(f"{source}: model has {model.n_codebooks} codebooks, the codec only "
                              f"{codec.n_codebooks}")


def set_trainable(model: torch.nn.Module, lora: bool) -> list[torch.nn.Parameter]:
    """Freeze everything but the LoRA factors when ``lora``; return the trainable parameters."""
    params = []
    for name, param in model.named_parameters():
        param.requires_grad_(is_lora_key(name) or not lora)
        if param.requires_grad:
            params.append(param)
    if not params:
        raise CheckpointError("the model has no LoRA factors to fine-tune (lora: true)")
    return params


@attrs.frozen
class _AttentionDropout:
    """A handle like a hook's: ``remove()`` turns a layer's attention dropout off again."""

    attention: Any

    def remove(self) -> None:
        self.attention.attention_dropout = 0.0


def add_dropout(model: VampNet, p: float) -> list[Any]:
    """Dropout as upstream places it, active in train mode only: on the attention probabilities,
    after attention, inside and after the feed-forward. Returns handles (``remove()`` undoes)."""
    if p <= 0:
        return []
    handles: list[Any] = []

    def after(module: torch.nn.Module, _inputs: Any, output: torch.Tensor) -> torch.Tensor:
        return F.dropout(output, p, module.training)

    def before(module: torch.nn.Module, inputs: tuple) -> tuple:
        return (F.dropout(inputs[0], p, module.training),)

    for layer in model.transformer.layers:
        layer.self_attn.attention_dropout = p
        handles.append(_AttentionDropout(layer.self_attn))
        handles.append(layer.self_attn.register_forward_hook(after))
        handles.append(layer.feed_forward.register_forward_hook(after))
        handles.append(layer.feed_forward.w_2.register_forward_pre_hook(before))
    return handles
