"""Building blocks of the VampNet transformer, named so their parameters match upstream's keys."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

LORA_RANK = 8
LORA_SCALE = 1.0 / LORA_RANK  # loralib: lora_alpha (1) / r (8)


class _CachedWeight(nn.Module):
    """A module whose effective weight (and bias) is derived from its stored parameters.

    In eval mode the derived weight is merged once (by ``eval()``, after loading, or by
    ``merge()``) into non-persistent buffers at ``merge_dtype``, so a forward pass neither
    merges nor checks anything: this works alike under ``torch.inference_mode()``,
    ``torch.no_grad()`` or neither. In train mode it is derived on every call
    (differentiable), as loralib merges on ``eval()`` and un-merges on ``train()``.
    Parameters changed in place while in eval mode need ``merge()`` (or ``eval()``) again.
    """

    #: dtype the merged weight is kept in (``VampNet.set_precision`` changes it)
    merge_dtype: torch.dtype = torch.float32

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("merged_weight", None, persistent=False)
        self.register_buffer("merged_bias", None, persistent=False)

    def _sources(self) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def _derive(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    def merge(self) -> None:
        """Compute the effective weight once (float32 maths, then cast to ``merge_dtype``)."""
        with torch.no_grad():
            weight, bias = self._derive()
        self.merged_weight = weight.to(self.merge_dtype).contiguous()
        self.merged_bias = None if bias is None else bias.to(self.merge_dtype).contiguous()

    def unmerge(self) -> None:
        """Drop the merged weight: every call derives it again (training)."""
        self.merged_weight = None
        self.merged_bias = None

    def train(self, mode: bool = True) -> _CachedWeight:
        super().train(mode)
        if mode:
            self.unmerge()
        elif not any(t.is_meta for t in self._sources()):
            self.merge()
        return self

    def weight_and_bias(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The merged weight and bias in eval mode, else derived now (differentiable)."""
        if self.merged_weight is not None:
            return self.merged_weight, self.merged_bias
        return self._derive()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.weight_and_bias()
        return F.linear(x, weight, bias)


class LoraLinear(_CachedWeight):
    """Bias-free linear layer with loralib's rank-8 factors: weight + (1/8) lora_B @ lora_A.

    ``weight``, ``lora_A`` and ``lora_B`` hold what a checkpoint stores; the merge is applied
    exactly once (upstream merges on ``eval()`` after loading).
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.lora_A = nn.Parameter(torch.empty(LORA_RANK, in_features))
        self.lora_B = nn.Parameter(torch.zeros(out_features, LORA_RANK))
        if not self.weight.is_meta:
            nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
            nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    def _sources(self) -> tuple[torch.Tensor, ...]:
        return (self.weight, self.lora_A, self.lora_B)

    def _derive(self) -> tuple[torch.Tensor, None]:
        return self.weight + (self.lora_B @ self.lora_A) * LORA_SCALE, None

    def effective_weight(self) -> torch.Tensor:
        """``weight + (1/8) lora_B @ lora_A`` (merged once in eval mode)."""
        return self.weight_and_bias()[0]


class PlainLinear(_CachedWeight):
    """Bias-free linear layer (``nn.Linear`` keys); at reduced precision its cast weight is kept."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        if not self.weight.is_meta:
            nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def _sources(self) -> tuple[torch.Tensor, ...]:
        return (self.weight,)

    def _derive(self) -> tuple[torch.Tensor, None]:
        return self.weight, None

    def merge(self) -> None:
        # at float32 the parameter itself is the weight: no second copy
        if self.merge_dtype == torch.float32:
            self.unmerge()
        else:
            super().merge()


class WNConv1x1(_CachedWeight):
    """Weight-normed 1x1 Conv1d (``weight = g * v / ||v||``), applied as a linear map on ``[.., D]``.

    ``out_order`` (optional) permutes the output channels once, in the merged weight, so the
    output comes out in the layout its consumer wants without a copy per call; the stored
    parameters keep the checkpoint's order.
    """

    def __init__(self, in_channels: int, out_channels: int, out_order: torch.Tensor | None = None) -> None:
        super().__init__()
        v = torch.empty(out_channels, in_channels, 1)
        if not v.is_meta:
            nn.init.kaiming_uniform_(v, a=math.sqrt(5))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_g = nn.Parameter(v.norm(dim=(1, 2), keepdim=True))
        self.weight_v = nn.Parameter(v)
        self.register_buffer("out_order", out_order, persistent=False)

    def _sources(self) -> tuple[torch.Tensor, ...]:
        return (self.weight_g, self.weight_v, self.bias)

    def _derive(self) -> tuple[torch.Tensor, torch.Tensor]:
        v = self.weight_v
        weight = (v * (self.weight_g / v.norm(dim=(1, 2), keepdim=True))).squeeze(-1)
        bias = self.bias
        if self.out_order is not None:
            weight, bias = weight[self.out_order], bias[self.out_order]
        return weight.contiguous(), bias.contiguous()

    def effective_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        weight, bias = self.weight_and_bias()
        assert bias is not None
        return weight, bias


class RMSNorm(nn.Module):
    """T5 RMSNorm: ``w * x / sqrt(mean(x^2) + 1e-6)``, no bias."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GELU, tanh approximation (upstream ``NewGELU``)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class FeedForward(nn.Module):
    """Gated GELU FFN: D -> 4D, first half times GELU(second half), 2D -> D."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.w_1 = LoraLinear(dim, 4 * dim)
        self.w_2 = LoraLinear(2 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.w_1(x)
        a, b = h.chunk(2, dim=-1)
        # float32: upstream's formula op for op; reduced precision: the fused kernel (float32 inside)
        gate = gelu_tanh(b) if b.dtype == torch.float32 else F.gelu(b, approximate="tanh")
        return self.w_2(a * gate)


def relative_position_buckets(n_query: int, n_key: int, num_buckets: int = 32, max_distance: int = 128,
                              device: torch.device | str = "cpu") -> torch.Tensor:
    """T5 bidirectional relative-position bucket of ``key - query``, shape ``[n_query, n_key]``."""
    rel = torch.arange(n_key, device=device)[None, :] - torch.arange(n_query, device=device)[:, None]
    half = num_buckets // 2
    buckets = (rel > 0).long() * half
    n = rel.abs()
    exact = half // 2
    large = exact + (
        torch.log(n.float() / exact) / math.log(max_distance / exact) * (half - exact)
    ).long()
    large = torch.clamp(large, max=half - 1)
    return buckets + torch.where(n < exact, n, large)


class RelativeSelfAttention(nn.Module):
    """Multi-head self-attention with a T5 relative-position bias; q/k/v/out have no biases."""

    def __init__(self, dim: int, n_heads: int, has_bias_table: bool) -> None:
        super().__init__()
        self.n_heads = n_heads
        #: dropout on the attention probabilities in train mode (training sets upstream's 0.1)
        self.attention_dropout = 0.0
        self.w_qs = LoraLinear(dim, dim)
        self.w_ks = PlainLinear(dim, dim)
        self.w_vs = LoraLinear(dim, dim)
        self.fc = LoraLinear(dim, dim)
        if has_bias_table:
            self.relative_attention_bias = nn.Embedding(32, n_heads)

    def position_bias(self, n_frames: int) -> torch.Tensor:
        """``[1, heads, T, T]`` bias added to the attention scores."""
        table = self.relative_attention_bias.weight
        buckets = relative_position_buckets(n_frames, n_frames, device=table.device)
        return F.embedding(buckets, table).permute(2, 0, 1).unsqueeze(0)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.n_heads

        def heads(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, h, d // h).transpose(1, 2)

        q, k, v = heads(self.w_qs(x)), heads(self.w_ks(x)), heads(self.w_vs(x))
        dropout = self.attention_dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype), dropout_p=dropout)
        return self.fc(out.transpose(1, 2).reshape(b, t, d))


class TransformerLayer(nn.Module):
    """Pre-norm encoder layer: x + attn(norm_1 x); x + ffn(norm_3 x)."""

    def __init__(self, dim: int, n_heads: int, has_bias_table: bool) -> None:
        super().__init__()
        self.norm_1 = RMSNorm(dim)
        self.self_attn = RelativeSelfAttention(dim, n_heads, has_bias_table)
        self.norm_3 = RMSNorm(dim)
        self.feed_forward = FeedForward(dim)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.norm_1(x), bias)
        return x + self.feed_forward(self.norm_3(x))


class TransformerStack(nn.Module):
    """The layers; layer 0's bias table gives the position bias every layer shares."""

    def __init__(self, dim: int, n_heads: int, n_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(TransformerLayer(dim, n_heads, i == 0) for i in range(n_layers))
        self.norm = RMSNorm(dim)
        self.run_layer: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] = call_layer

    def compile_layers(self, **options: Any) -> None:
        """Run each layer through one ``torch.compile``d function (the layers share its code, so
        it compiles once per input shape, not once per layer); fixed shapes, no recompiles per step."""
        from ..precision import Compiled

        self.run_layer = Compiled(call_layer, "transformer layers", **{"dynamic": False, **options})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()  # the residual stream stays float32 under autocast
        bias = self.layers[0].self_attn.position_bias(x.shape[1])
        for layer in self.layers:
            x = self.run_layer(layer, x, bias)
        return self.norm(x)


def call_layer(layer: nn.Module, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """One transformer layer (the unit ``compile_layers`` compiles)."""
    return layer(x, bias)


class CodebookEmbedding(nn.Module):
    """Per-codebook lookup in the codec's tables (+ a learned MASK row), then a 1x1 projection."""

    def __init__(self, n_codebooks: int, latent_dim: int, dim: int) -> None:
        super().__init__()
        self.special = nn.ParameterDict({"MASK": nn.Parameter(torch.randn(n_codebooks, latent_dim))})
        self.out_proj = nn.Conv1d(n_codebooks * latent_dim, dim, 1)

    def latents(self, codes: torch.Tensor, tables: torch.Tensor) -> torch.Tensor:
        """``[B, T, C * latent_dim]``: codebook i's vector in channels ``i*L .. i*L+L-1``."""
        n_cb, vocab, latent = tables.shape
        full = torch.cat([tables, self.special["MASK"].unsqueeze(1).to(tables.dtype)], dim=1)
        offsets = torch.arange(n_cb, device=codes.device).view(1, n_cb, 1) * (vocab + 1)
        flat = F.embedding((codes + offsets).transpose(1, 2), full.reshape(n_cb * (vocab + 1), latent))
        return flat.reshape(codes.shape[0], codes.shape[2], n_cb * latent)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return F.linear(latents, self.out_proj.weight.squeeze(-1), self.out_proj.bias)
