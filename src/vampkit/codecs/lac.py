"""LAC, VampNet's codec: dac's encoder and quantizer plus a decoder of MRF blocks (written
here from the spec), loaded strictly from LAC's ``codec.pth`` weight dict."""

from __future__ import annotations

import warnings

import torch
from torch import nn

from ..errors import CheckpointError
from ._torchaudio_compat import import_dac
from .base import as_device
from .checkpoint import (
    RawCheckpoint,
    check_product,
    codebook_dims,
    load_strict,
    positive_int,
    positive_ints,
)
from .chunking import decoder_context_samples, encoder_context_samples, margin_frames
from .family import ConvCodec, build_on_meta, check_materialised

#: LAC's constructor kwargs (all it stores in ``metadata["kwargs"]``)
LAC_KWARGS = (
    "encoder_dim",
    "encoder_rates",
    "decoder_dim",
    "decoder_rates",
    "n_codebooks",
    "codebook_size",
    "codebook_dim",
    "quantizer_dropout",
    "sample_rate",
)
MRF_KERNELS = (3, 7, 11)
MRF_DILATIONS = (1, 3, 5)


class ResidualLayer(nn.Module):
    """Snake, conv k (dilation d), Snake, conv k; added to the input."""

    def __init__(self, channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        layers = import_dac().nn.layers
        self.layer = nn.Sequential(
            layers.Snake1d(channels),
            layers.WNConv1d(channels, channels, kernel, dilation=dilation, padding=(kernel - 1) * dilation // 2),
            layers.Snake1d(channels),
            layers.WNConv1d(channels, channels, kernel, padding=(kernel - 1) // 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layer(x)


class ResidualChain(nn.Module):
    """Three residual layers of one kernel size, dilations 1, 3, 5."""

    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        self.block = nn.Sequential(*(ResidualLayer(channels, kernel, d) for d in MRF_DILATIONS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class MRFBlock(nn.Module):
    """Multi-receptive-field block: the mean of three residual chains (kernels 3, 7, 11)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.mrf_blocks = nn.ModuleList(ResidualChain(channels, k) for k in MRF_KERNELS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = self.mrf_blocks[0](x)
        for branch in self.mrf_blocks[1:]:
            total = total + branch(x)
        return total / len(self.mrf_blocks)


class UpsampleBlock(nn.Module):
    """Snake, transposed conv (kernel 2r, stride r, padding r // 2), MRF block."""

    def __init__(self, cin: int, cout: int, rate: int) -> None:
        super().__init__()
        layers = import_dac().nn.layers
        self.block = nn.Sequential(
            layers.Snake1d(cin),
            layers.WNConvTranspose1d(cin, cout, kernel_size=2 * rate, stride=rate, padding=rate // 2),
            MRFBlock(cout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class LACDecoder(nn.Module):
    """conv7 -> upsampling stages -> Snake -> conv7 to one channel -> tanh."""

    def __init__(self, latent_dim: int, channels: int, rates: list[int]) -> None:
        super().__init__()
        layers = import_dac().nn.layers
        stages: list[nn.Module] = [layers.WNConv1d(latent_dim, channels, kernel_size=7, padding=3)]
        for i, rate in enumerate(rates):
            stages.append(UpsampleBlock(channels >> i, channels >> (i + 1), rate))
        last = channels >> len(rates)
        stages += [layers.Snake1d(last), layers.WNConv1d(last, 1, kernel_size=7, padding=3), nn.Tanh()]
        self.model = nn.Sequential(*stages)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class LACNetwork(nn.Module):
    """LAC's module tree (``encoder``, ``quantizer``, ``decoder``), keys as in ``codec.pth``."""

    def __init__(
        self,
        encoder_dim: int,
        encoder_rates: list[int],
        decoder_dim: int,
        decoder_rates: list[int],
        n_codebooks: int,
        codebook_size: int,
        codebook_dim: list[int],
    ) -> None:
        super().__init__()
        dac = import_dac()
        latent = encoder_dim * 2 ** len(encoder_rates)
        self.encoder = dac.model.dac.Encoder(encoder_dim, encoder_rates, latent)
        self.quantizer = dac.nn.quantize.ResidualVectorQuantize(
            input_dim=latent, n_codebooks=n_codebooks, codebook_size=codebook_size, codebook_dim=codebook_dim
        )
        self.decoder = LACDecoder(latent, decoder_dim, decoder_rates)


def lac_config(checkpoint: RawCheckpoint) -> dict:
    """LAC constructor arguments from a checkpoint's kwargs (LAC's defaults where absent),
    checked for values LAC cannot build or vampkit cannot reproduce exactly."""
    unknown = sorted(set(checkpoint.kwargs) - set(LAC_KWARGS))
    if unknown:
        warnings.warn(
            f"checkpoint '{checkpoint.path}': ignoring kwargs LAC does not take: {', '.join(unknown)}",
            stacklevel=3,
        )
    encoder_rates = positive_ints(checkpoint, "encoder_rates", [2, 4, 8, 8])
    decoder_rates = positive_ints(checkpoint, "decoder_rates", [4, 4, 4, 2, 2, 2])
    for key, rates in (("encoder_rates", encoder_rates), ("decoder_rates", decoder_rates)):
        odd = [r for r in rates if r % 2 and r != 1]
        if odd:
            raise CheckpointError(
                f"checkpoint '{checkpoint.path}': {key} {rates} has odd strides {odd}, which LAC pads "
                "differently from DAC; vampkit reproduces LAC only for even strides"
            )
    decoder_dim = positive_int(checkpoint, "decoder_dim", 512)
    if decoder_dim >> len(decoder_rates) < 1:
        raise CheckpointError(
            f"checkpoint '{checkpoint.path}': decoder_dim {decoder_dim} is too small for "
            f"{len(decoder_rates)} upsampling stages (needs >= {2 ** len(decoder_rates)})"
        )
    n_codebooks = positive_int(checkpoint, "n_codebooks", 9)
    return {
        "encoder_dim": positive_int(checkpoint, "encoder_dim", 64),
        "encoder_rates": encoder_rates,
        "decoder_dim": decoder_dim,
        "decoder_rates": decoder_rates,
        "n_codebooks": n_codebooks,
        "codebook_size": positive_int(checkpoint, "codebook_size", 1024),
        "codebook_dim": codebook_dims(checkpoint, n_codebooks),
        "sample_rate": positive_int(checkpoint, "sample_rate", 44100),
        "hop_length": check_product(checkpoint, encoder_rates, decoder_rates),
    }


class LACCodec(ConvCodec):
    """VampNet's LAC codec (``codec.pth``); encodes and decodes as LAC does on CPU."""

    name = "lac"

    @classmethod
    def claims(cls, checkpoint: RawCheckpoint) -> bool:
        return checkpoint.has_key_part(".mrf_blocks.")

    @classmethod
    def from_checkpoint(cls, checkpoint: RawCheckpoint, device: str | torch.device = "cpu") -> LACCodec:
        config = lac_config(checkpoint)
        if not checkpoint.has_key_part(".mrf_blocks."):
            raise CheckpointError(
                f"checkpoint '{checkpoint.path}' is not a LAC codec: its decoder has no "
                "'decoder.model.*.block.2.mrf_blocks.*' keys (a DAC file? load it as 'dac')"
            )
        network = build_on_meta(
            LACNetwork,
            config["encoder_dim"],
            config["encoder_rates"],
            config["decoder_dim"],
            config["decoder_rates"],
            config["n_codebooks"],
            config["codebook_size"],
            config["codebook_dim"],
        )
        load_strict(network, checkpoint, what="LAC codec")
        check_materialised(network, f"checkpoint '{checkpoint.path}'")
        hop = config["hop_length"]
        return cls(
            network,
            sample_rate=config["sample_rate"],
            hop_length=hop,
            n_codebooks=config["n_codebooks"],
            codebook_size=config["codebook_size"],
            codebook_dims=config["codebook_dim"],
            encode_margin=margin_frames(encoder_context_samples(config["encoder_rates"]), hop),
            decode_margin=margin_frames(decoder_context_samples(config["decoder_rates"], mrf=True), hop),
            device=as_device(device),
            source=str(checkpoint.path),
        )
