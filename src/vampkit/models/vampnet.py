"""``VampNet``: our implementation of upstream VampNet's token transformer (coarse and c2f)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ..bundles import VAMPNET
from ..checkpoint import all_finite, read_checkpoint, write_checkpoint
from ..errors import CheckpointError, ParameterError
from ..mask import Mask
from .base import masked_codes
from .layers import CodebookEmbedding, TransformerStack, WNConv1x1, _CachedWeight

#: frames per model call (10 s coarse, 3 s c2f): the VampNet bundle's facts
COARSE_CONTEXT_FRAMES = VAMPNET.coarse_context_frames
C2F_CONTEXT_FRAMES = VAMPNET.c2f_context_frames

#: the constructor kwargs upstream ``main`` records in ``metadata["kwargs"]``, with its defaults
UPSTREAM_KWARGS: dict[str, Any] = {
    "n_heads": 20,
    "n_layers": 16,
    "r_cond_dim": 0,
    "n_codebooks": 9,
    "n_conditioning_codebooks": 0,
    "latent_dim": 8,
    "embedding_dim": 1280,
    "vocab_size": 1024,
    "flash_attn": True,
    "noise_mode": "mask",
    "dropout": 0.1,
    "ctrl_dims": None,
    "cfg_dropout_prob": 0.2,
    "cond_dim": 0,
}
_SHAPE_KWARGS = ("n_heads", "n_layers", "n_codebooks", "n_conditioning_codebooks", "latent_dim",
                 "embedding_dim", "vocab_size")


#: upper bounds on the constructor kwargs and the model size (the published models: 20 layers,
#: 1280 wide, 14 codebooks of 1024 tokens; about 0.3 G parameters each)
MAX_KWARGS = {"n_heads": 1024, "n_layers": 512, "n_codebooks": 128, "latent_dim": 4096,
              "embedding_dim": 65536, "vocab_size": 1 << 20}
MAX_PARAMETERS = 20e9


class VampNet(nn.Module):
    """Bidirectional masked token transformer with upstream VampNet's parameters and maths.

    The codec's codebook tables (``[n_codebooks, vocab, latent_dim]``) are an input, not part
    of the checkpoint, exactly as upstream: pass them to ``load``/``from_kwargs`` or
    ``set_codebook_tables``.
    """

    name = "vampnet"

    def __init__(self, *, n_heads: int = 20, n_layers: int = 16, n_codebooks: int = 9,
                 n_conditioning_codebooks: int = 0, latent_dim: int = 8, embedding_dim: int = 1280,
                 vocab_size: int = 1024, context_frames: int | None = None,
                 extra_kwargs: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        for key, value in (("n_heads", n_heads), ("n_layers", n_layers), ("n_codebooks", n_codebooks),
                           ("latent_dim", latent_dim), ("embedding_dim", embedding_dim),
                           ("vocab_size", vocab_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ParameterError(f"VampNet: {key} must be a positive integer, got {value!r}")
            if value > MAX_KWARGS[key]:  # kwargs come from checkpoints and training recipes: untrusted
                raise ParameterError(f"VampNet: {key} must be at most {MAX_KWARGS[key]}, got {value}")
        size = n_layers * 12 * embedding_dim**2 + 2 * n_codebooks * (vocab_size + 1) * embedding_dim
        if size > MAX_PARAMETERS:
            raise ParameterError(f"VampNet: these sizes make a model of about {size:.2g} parameters, more than "
                                 f"the {MAX_PARAMETERS:.0g} vampkit builds")
        if not 0 <= n_conditioning_codebooks < n_codebooks:
            raise ParameterError(
                f"VampNet: n_conditioning_codebooks must lie in [0, n_codebooks={n_codebooks}), "
                f"got {n_conditioning_codebooks!r}"
            )
        if embedding_dim % n_heads:
            raise ParameterError(f"VampNet: embedding_dim {embedding_dim} is not divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.n_codebooks = n_codebooks
        self.n_conditioning_codebooks = n_conditioning_codebooks
        self.n_predict_codebooks = n_codebooks - n_conditioning_codebooks
        self.latent_dim = latent_dim
        self.embedding_dim = embedding_dim
        self.vocab_size = vocab_size
        self.mask_token = vocab_size
        if context_frames is None:
            context_frames = COARSE_CONTEXT_FRAMES if n_conditioning_codebooks == 0 else C2F_CONTEXT_FRAMES
        if context_frames < 1:
            raise ParameterError(f"VampNet: context_frames must be >= 1, got {context_frames}")
        self.context_frames = int(context_frames)
        self.extra_kwargs = dict(extra_kwargs or {})

        self.embedding = CodebookEmbedding(n_codebooks, latent_dim, embedding_dim)
        self.transformer = TransformerStack(embedding_dim, n_heads, n_layers)
        self.classifier = nn.Module()
        # upstream's output channel v * P + c, computed as c * vocab + v: [.., P, vocab] without a copy
        codebook_major = torch.arange(vocab_size * self.n_predict_codebooks, device="cpu")
        codebook_major = codebook_major.view(vocab_size, -1).t().reshape(-1)
        self.classifier.layers = nn.ModuleList(
            [WNConv1x1(embedding_dim, vocab_size * self.n_predict_codebooks, out_order=codebook_major)])
        self.register_buffer("codebook_tables", torch.empty(0, device="cpu"), persistent=False)
        self.classifier.layers[0].merge_dtype = torch.float32  # logits always come out of float32 maths
        self.compute_dtype = torch.float32
        self.compiled = False
        self.register_load_state_dict_post_hook(lambda module, _incompatible: module.merge())

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any], codebook_tables: torch.Tensor | None = None, *,
                    context_frames: int | None = None, source: str = "kwargs", empty: bool = False) -> VampNet:
        """Build (randomly initialised) from upstream constructor kwargs, as found in a checkpoint.

        ``empty=True`` builds the weights on the meta device (no memory, no random init), for a
        ``load_upstream_state_dict`` that then adopts the checkpoint's tensors.
        """
        kwargs = dict(kwargs)
        if kwargs.get("r_cond_dim", 0) not in (0, None):
            raise CheckpointError(f"{source}: r_cond_dim={kwargs['r_cond_dim']!r} is not supported (must be 0)")
        if kwargs.get("noise_mode", "mask") != "mask":
            raise CheckpointError(f"{source}: noise_mode={kwargs['noise_mode']!r} is not supported (must be 'mask')")
        if kwargs.get("ctrl_dims") not in (None, {}):
            raise CheckpointError(f"{source}: models with control inputs (ctrl_dims) are not supported")
        args = {}
        for key in _SHAPE_KWARGS:
            value = kwargs.get(key, UPSTREAM_KWARGS[key])
            if not isinstance(value, int) or isinstance(value, bool):
                raise CheckpointError(f"{source}: kwarg '{key}' must be an integer, got {value!r}")
            args[key] = value
        extra = {k: v for k, v in kwargs.items() if k not in _SHAPE_KWARGS}
        try:
            if empty:
                with torch.device("meta"):
                    model = cls(**args, context_frames=context_frames, extra_kwargs=extra)
            else:
                model = cls(**args, context_frames=context_frames, extra_kwargs=extra)
        except ParameterError as exc:
            raise CheckpointError(f"{source}: {exc}") from exc
        if codebook_tables is not None:
            model.set_codebook_tables(codebook_tables)
        return model

    @classmethod
    def load(cls, path: str | os.PathLike, codebook_tables: torch.Tensor | None = None,
             device: str | torch.device = "cpu", *, context_frames: int | None = None,
             precision: str | torch.dtype = "fp32", compile: bool = False) -> VampNet:
        """Load an upstream checkpoint (``{"state_dict", "metadata": {"kwargs"}}``) safely.

        ``torch.load(weights_only=True, mmap=True)``: a file that would run code is refused, and
        the weights are the file's pages, not a copy. The model is built on the meta device (no
        random init) and adopts them. Every key and shape is checked. LoRA factors are merged
        once (``W + B A / 8``), as upstream's loader does. ``precision`` (fp32, bf16, fp16, auto)
        and ``compile`` are ``set_precision`` and ``compile_forward``.
        """
        from ..device import resolve_device

        device = resolve_device(device)
        checkpoint = read_checkpoint(path, mmap=True)
        model = cls.from_kwargs(dict(checkpoint.kwargs), None, context_frames=context_frames, source=str(path),
                                empty=True)
        model.load_upstream_state_dict(checkpoint.state_dict, source=str(path))
        if codebook_tables is not None:
            model.set_codebook_tables(codebook_tables)
        model = model.to(device)
        model.set_precision(precision)  # still in train mode: sets the dtype, merges nothing
        model.eval()  # merges every weight once, at that dtype
        if torch.is_inference_mode_enabled():
            # inference tensors can never take part in autograd: say so, so grad mode works too
            model.requires_grad_(False)
        if compile:
            model.compile_forward()
        return model

    def load_upstream_state_dict(self, state: Mapping[str, torch.Tensor], *, source: str = "state_dict") -> None:
        """Strict load with errors naming the file and the keys that do not fit."""
        expected = self.state_dict()
        missing = [k for k in expected if k not in state]
        unexpected = [k for k in state if k not in expected]
        wrong = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
                 for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
        problems = []
        if missing:
            problems.append(f"missing keys {_few(missing)}")
        if unexpected:
            problems.append(f"unexpected keys {_few(unexpected)}")
        if wrong:
            problems.append(f"wrong shapes {_few(wrong)}")
        if problems:
            raise CheckpointError(f"{source}: checkpoint does not fit VampNet({self.describe()}): " + "; ".join(problems))
        bad = [k for k, v in state.items() if not v.is_floating_point()]
        if bad:
            raise CheckpointError(f"{source}: non-float tensors for keys {_few(bad)}")
        broken = [k for k in expected if not all_finite(state[k])]
        if broken:  # a damaged file: NaN logits would only fail later, inside the sampler
            raise CheckpointError(f"{source}: NaN or infinite values in {_few(broken)}")
        if any(p.is_meta for p in self.parameters()):  # built empty: adopt the tensors, no copy
            self.load_state_dict({k: state[k].to(torch.float32) for k in expected}, strict=True, assign=True)
        else:
            with torch.no_grad():
                for key, param in self.state_dict(keep_vars=True).items():
                    param.copy_(state[key].to(dtype=param.dtype))
            self.merge()

    # -- precision and compiled forwards --------------------------------------------------------
    def merge(self) -> None:
        """Merge LoRA factors and weight norms again (after changing weights in eval mode)."""
        for module in self.modules():
            if isinstance(module, _CachedWeight) and not module.training:
                module.merge()

    def set_precision(self, precision: str | torch.dtype = "fp32") -> None:
        """Compute the transformer in ``precision`` (fp32, bf16, fp16 or auto) on the model's device.

        Reduced precision is autocast over weights cast once here; the residual stream, the
        norms' statistics and the classifier (the logits) stay float32. Unsupported pairs (fp16
        on a CPU, bf16 on a GPU without it) are a ParameterError naming both.
        """
        from ..precision import resolve_precision

        dtype = resolve_precision(precision, self.device)
        for module in self.transformer.modules():
            if isinstance(module, _CachedWeight):
                module.merge_dtype = dtype
        self.compute_dtype = dtype
        self.merge()

    def compile_forward(self, **options: Any) -> None:
        """Opt-in ``torch.compile`` of the transformer layers (compiled once per input shape; a
        failure falls back to eager with one warning). ``options`` go to ``torch.compile``."""
        self.transformer.compile_layers(**options)
        self.compiled = True

    def describe(self) -> str:
        return (f"n_codebooks={self.n_codebooks}, n_conditioning_codebooks={self.n_conditioning_codebooks}, "
                f"n_layers={self.n_layers}, n_heads={self.n_heads}, embedding_dim={self.embedding_dim}, "
                f"vocab_size={self.vocab_size}, latent_dim={self.latent_dim}")

    def upstream_kwargs(self) -> dict[str, Any]:
        """``metadata["kwargs"]`` as upstream ``main`` writes it (published configs: flash_attn False)."""
        kwargs = dict(UPSTREAM_KWARGS)
        kwargs["flash_attn"] = False
        kwargs.update({k: v for k, v in self.extra_kwargs.items() if k in UPSTREAM_KWARGS})
        kwargs.update({key: getattr(self, key) for key in _SHAPE_KWARGS})
        return kwargs

    def save(self, path: str | os.PathLike) -> None:
        """Write the upstream file format: stored weights and LoRA factors, un-merged, + kwargs."""
        state = {k: v.detach().to("cpu", torch.float32).clone() for k, v in self.state_dict().items()}
        write_checkpoint(path, state, self.upstream_kwargs())

    # -- codec tables ---------------------------------------------------------------------
    def set_codebook_tables(self, tables: torch.Tensor) -> None:
        """Use the codec's quantizer tables ``[>= n_codebooks, vocab, latent_dim]`` for the lookup."""
        if not isinstance(tables, torch.Tensor) or tables.dim() != 3 or not tables.is_floating_point():
            shape = tuple(tables.shape) if isinstance(tables, torch.Tensor) else type(tables).__name__
            raise ParameterError(f"codebook_tables must be a float tensor [n_codebooks, vocab, latent_dim], got {shape}")
        n, vocab, latent = tables.shape
        if n < self.n_codebooks or vocab != self.vocab_size or latent != self.latent_dim:
            raise ParameterError(
                f"codebook_tables {tuple(tables.shape)} do not fit the model: need at least "
                f"{self.n_codebooks} codebooks of {self.vocab_size} x {self.latent_dim}"
            )
        device = self.embedding.out_proj.weight.device
        self.codebook_tables = tables[: self.n_codebooks].detach().to(device, torch.float32).clone()

    # -- inference -------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.embedding.out_proj.weight.device

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes ``[B, C, T]`` (MASK allowed) -> classifier output ``[B, T, P, vocab]``."""
        if self.codebook_tables.numel() == 0:
            raise ParameterError("VampNet needs the codec's codebook tables: pass codebook_tables to load()")
        from ..precision import autocast

        x = self.embedding(self.embedding.latents(codes, self.codebook_tables.to(self.device)))
        with autocast(self.device, self.compute_dtype):
            x = self.transformer(x)
        x = self.classifier.layers[0](x.float())
        return x.view(codes.shape[0], codes.shape[2], self.n_predict_codebooks, self.vocab_size)

    def logits(self, codes: torch.Tensor, mask: Mask | None = None) -> torch.Tensor:
        """Scores ``[B, n_predict_codebooks, T, vocab]`` (see ``vampkit.TokenModel``)."""
        codes = masked_codes(self, codes, mask)
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) > self.mask_token):
            raise ParameterError(f"vampnet: codes must lie in [0, {self.mask_token}] ({self.mask_token} = MASK)")
        return self(codes.to(self.device)).transpose(1, 2)

    def sampling_logits(self, codes: torch.Tensor) -> torch.Tensor:
        """``logits`` of a grid the sampler has already checked: no range check, so no host
        synchronisation per step."""
        return self(codes).transpose(1, 2)

    def upstream_logits(self, codes: torch.Tensor) -> torch.Tensor:
        """Upstream's layout ``[B, vocab, T * P]`` (position ``t * P + c``), for comparisons."""
        out = self(masked_codes(self, codes, None).to(self.device))
        return out.reshape(codes.shape[0], -1, self.vocab_size).transpose(1, 2)


def _few(items: list[str], n: int = 6) -> str:
    shown = ", ".join(items[:n])
    return f"[{shown}{', ...' if len(items) > n else ''}] ({len(items)} in all)"
