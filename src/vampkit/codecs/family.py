"""What DAC and LAC share: an encoder, dac's residual vector quantizer, and a decoder."""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch

from ..errors import CodecError
from .base import Codec


class ConvCodec(Codec):
    """A codec whose ``network`` has ``encoder``, ``quantizer`` (dac's RVQ) and ``decoder``."""

    has_latents = True

    def __init__(
        self,
        network: torch.nn.Module,
        *,
        sample_rate: int,
        hop_length: int,
        n_codebooks: int,
        codebook_size: int,
        codebook_dims: list[int],
        encode_margin: int,
        decode_margin: int,
        device: torch.device,
        source: str,
    ) -> None:
        from .fast import speed_up_network

        self.network = network.eval().requires_grad_(False).to(device)
        speed_up_network(self.network)  # same outputs, bit for bit: weight norms folded, in-place Snake
        self.sample_rate = int(sample_rate)
        self.hop_length = int(hop_length)
        self.n_codebooks = int(n_codebooks)
        self.codebook_size = int(codebook_size)
        self.codebook_dims = tuple(codebook_dims)
        self.codebook_dim = codebook_dims[0]
        self.encode_margin = encode_margin
        self.decode_margin = decode_margin
        self.device = device
        self.source = source

    def speed_up(self, precision: str = "fp32", compile: bool = False) -> None:
        """Decode at ``precision`` (fp32, bf16, fp16, auto) and/or with a compiled Snake; the
        encoder stays float32 (its codes are what the models were trained on)."""
        from .fast import speed_up_decoder

        self.precision = speed_up_decoder(self.network, self.device, precision, compile)

    def _encode_padded(self, audio: torch.Tensor) -> torch.Tensor:
        latent = self.network.encoder(audio)
        # eval mode, n_quantizers=None: the residual chain runs through every codebook
        _, codes, *_ = self.network.quantizer(latent)
        return codes

    def _latents_padded(self, audio: torch.Tensor) -> torch.Tensor:
        return self.network.quantizer(self.network.encoder(audio))[0]

    def _decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        z = self.network.quantizer.from_codes(codes)[0]
        audio = self.network.decoder(z)
        expected = codes.shape[-1] * self.hop_length
        if audio.shape[-1] < expected:  # odd strides (DAC 24/16 kHz) come out a few samples short
            audio = torch.nn.functional.pad(audio, (0, expected - audio.shape[-1]))
        return audio[..., :expected]

    def codebook_tables(self) -> torch.Tensor:
        if len(set(self.codebook_dims)) != 1:
            raise CodecError(f"codec '{self.name}' has codebooks of different dims {self.codebook_dims}")
        tables = [q.codebook.weight.detach() for q in self.network.quantizer.quantizers]
        return torch.stack(tables).to(device="cpu", dtype=torch.float32).clone()


def build_on_meta(factory: Any, *args: Any, **kwargs: Any) -> torch.nn.Module:
    """Instantiate a module without allocating or initialising its weights."""
    with torch.device("meta"), warnings.catch_warnings():
        # dac's layers use the legacy weight_norm on purpose: its weight_g/weight_v key names
        warnings.filterwarnings("ignore", message=".*weight_norm.*", category=FutureWarning)
        return factory(*args, **kwargs)


def check_materialised(module: torch.nn.Module, where: str) -> None:
    """Every parameter and buffer holds real data after loading (none left on meta)."""
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        if tensor.is_meta:
            raise CodecError(f"{where}: tensor '{name}' was not loaded")


def frames_for(samples: int, hop: int) -> int:
    return math.ceil(samples / hop)
