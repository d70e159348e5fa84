"""Tiny VampNet checkpoints in the real upstream format, and toy token models, for the tests."""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from vampkit.models import VampNet

TINY = dict(n_heads=4, n_layers=2, latent_dim=8, embedding_dim=64, vocab_size=128)
COARSE = dict(TINY, n_codebooks=4, n_conditioning_codebooks=0)
C2F = dict(TINY, n_codebooks=14, n_conditioning_codebooks=4)


def perturbed_state(model: VampNet, seed: int = 0) -> dict[str, torch.Tensor]:
    """Every parameter moved off its init (LoRA B non-zero, norms != 1, gains != ||v||)."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in model.state_dict().items():
        noise = torch.randn(value.shape, generator=g)
        state[key] = value + noise * (0.05 if value.dim() > 1 else 0.2)
    return state


def tables(n_codebooks: int = 14, vocab: int = 128, latent: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.randn(n_codebooks, vocab, latent, generator=torch.Generator().manual_seed(seed))


def write_tiny(path: Path, config: dict, seed: int = 0) -> Path:
    """Save a perturbed tiny model with ``VampNet.save`` (upstream's file format)."""
    model = VampNet.from_kwargs(config)
    model.load_upstream_state_dict(perturbed_state(model, seed))
    model.save(path)
    return Path(path)


def tiny(config: dict, seed: int = 0, context_frames: int | None = None) -> VampNet:
    model = VampNet.from_kwargs(config, tables(), context_frames=context_frames)
    model.load_upstream_state_dict(perturbed_state(model, seed))
    return model.eval()


def reference_logits(state: dict[str, torch.Tensor], kwargs: dict, table: torch.Tensor,
                     codes: torch.Tensor) -> torch.Tensor:
    """Spec section 2 written out as plain maths on a state dict: upstream layout [B, vocab, T*P]."""
    heads, n_layers, vocab = kwargs["n_heads"], kwargs["n_layers"], kwargs["vocab_size"]
    n_cb, nc = kwargs["n_codebooks"], kwargs["n_conditioning_codebooks"]
    p_cb = n_cb - nc
    b, _, t = codes.shape

    def w(name: str) -> torch.Tensor:  # effective weight: stored + (1/8) B A when LoRA factors exist
        weight = state[name + ".weight"]
        if name + ".lora_A" in state:
            weight = weight + state[name + ".lora_B"] @ state[name + ".lora_A"] / 8
        return weight

    def rms(x: torch.Tensor, name: str) -> torch.Tensor:
        return state[name + ".weight"] * x / torch.sqrt((x * x).mean(-1, keepdim=True) + 1e-6)

    latents = []
    for i in range(n_cb):
        lut = torch.cat([table[i], state["embedding.special.MASK"][i : i + 1]])
        latents.append(lut[codes[:, i]])  # [B, T, 8]
    x = torch.cat(latents, -1) @ state["embedding.out_proj.weight"][..., 0].T + state["embedding.out_proj.bias"]

    rel = torch.arange(t)[None, :] - torch.arange(t)[:, None]
    buckets = torch.zeros(t, t, dtype=torch.long)
    for qi in range(t):
        for ki in range(t):
            r = int(rel[qi, ki])
            n = abs(r)
            bucket = 16 if r > 0 else 0
            bucket += n if n < 8 else min(15, 8 + int(math.log(n / 8) / math.log(16) * 8))
            buckets[qi, ki] = bucket
    bias = state["transformer.layers.0.self_attn.relative_attention_bias.weight"][buckets].permute(2, 0, 1)
    d_head = x.shape[-1] // heads
    for layer in range(n_layers):
        pre = f"transformer.layers.{layer}"
        y = rms(x, pre + ".norm_1")
        q, k, v = (
            (y @ w(f"{pre}.self_attn.{n}").T).view(b, t, heads, d_head).permute(0, 2, 1, 3)
            for n in ("w_qs", "w_ks", "w_vs")
        )
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d_head) + bias, dim=-1)
        x = x + (att @ v).permute(0, 2, 1, 3).reshape(b, t, -1) @ w(f"{pre}.self_attn.fc").T
        y = rms(x, pre + ".norm_3") @ w(f"{pre}.feed_forward.w_1").T
        half = y.shape[-1] // 2
        y = y[..., :half] * F.gelu(y[..., half:], approximate="tanh")
        x = x + y @ w(f"{pre}.feed_forward.w_2").T
    x = rms(x, "transformer.norm")
    v_ = state["classifier.layers.0.weight_v"][..., 0]
    weight = state["classifier.layers.0.weight_g"][..., 0] * v_ / v_.norm(dim=1, keepdim=True)
    out = x @ weight.T + state["classifier.layers.0.bias"]  # [B, T, vocab * P], channel = token * P + c
    out = out.view(b, t, vocab, p_cb).permute(0, 2, 1, 3)  # [B, vocab, T, P]
    return out.reshape(b, vocab, t * p_cb)


class ToyModel:
    """A ``TokenModel`` whose logits come from a function of the grid; counts and records calls."""

    name = "toy"

    def __init__(self, fn, n_codebooks: int = 4, n_conditioning_codebooks: int = 0, vocab_size: int = 16,
                 context_frames: int = 64) -> None:
        self.fn = fn
        self.n_codebooks = n_codebooks
        self.n_conditioning_codebooks = n_conditioning_codebooks
        self.n_predict_codebooks = n_codebooks - n_conditioning_codebooks
        self.vocab_size = vocab_size
        self.mask_token = vocab_size
        self.context_frames = context_frames
        self.calls: list[torch.Tensor] = []

    def logits(self, codes: torch.Tensor, mask=None) -> torch.Tensor:
        assert mask is None
        self.calls.append(codes.clone())
        return self.fn(codes)


def oracle(truth: torch.Tensor, vocab: int, n_conditioning: int = 0, strength: float = 60.0) -> ToyModel:
    """Logits strongly favouring ``truth`` (the true grid, matched by frame count) at every position."""

    def fn(codes: torch.Tensor) -> torch.Tensor:
        target = truth[..., : codes.shape[-1]][:, n_conditioning:].expand(codes.shape[0], -1, -1)
        return F.one_hot(target, vocab).float() * strength

    return ToyModel(fn, truth.shape[1], n_conditioning, vocab)


def rowwise_random(vocab: int = 16, n_codebooks: int = 4, n_conditioning: int = 0, seed: int = 0) -> ToyModel:
    """Logits that depend on each row's own grid only (bit-identical whatever the batch)."""
    weights = torch.randn(n_codebooks * (vocab + 1), vocab, generator=torch.Generator().manual_seed(seed))

    def fn(codes: torch.Tensor) -> torch.Tensor:
        b, c, t = codes.shape
        offsets = torch.arange(c).view(1, c, 1) * (vocab + 1)
        ctx = weights[(codes + offsets)].sum(dim=1, keepdim=True)  # [B, 1, T, V], mixes the codebooks
        ctx = ctx + ctx.roll(1, dims=2)  # and neighbouring frames
        return (ctx + weights[: c - n_conditioning, None, :].view(1, c - n_conditioning, 1, vocab)) * 0.5

    return ToyModel(fn, n_codebooks, n_conditioning, vocab)


def write_tiny_set(root: Path) -> dict[str, str]:
    """Tiny coarse, c2f and LAC codec files that fit together, each in its upstream format."""
    from vampkit.codecs.fixtures import make_lac_checkpoint

    codec = make_lac_checkpoint(root / "codec.pth", n_codebooks=14, codebook_size=TINY["vocab_size"])
    coarse = write_tiny(root / "coarse.pth", dict(TINY, n_codebooks=4, n_conditioning_codebooks=0), seed=1)
    c2f = write_tiny(root / "c2f.pth", dict(TINY, n_codebooks=14, n_conditioning_codebooks=4), seed=2)
    return {"coarse": str(coarse), "c2f": str(c2f), "codec": str(codec)}


#: the constructor kwargs upstream main's VampNet saves in a checkpoint's metadata
UPSTREAM_MAIN_KWARGS = {"n_heads", "n_layers", "r_cond_dim", "n_codebooks", "n_conditioning_codebooks", "latent_dim",
                        "embedding_dim", "vocab_size", "flash_attn", "noise_mode", "dropout", "ctrl_dims",
                        "cfg_dropout_prob", "cond_dim"}
