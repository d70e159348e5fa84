"""The public Descript Audio Codec models, built with the ``descript-audio-codec`` package's own
classes and loaded strictly from a weights-only read of the file."""

from __future__ import annotations

import inspect
import math
import re
import warnings
from pathlib import Path

import torch

from ..errors import CheckpointError, CodecError, UnknownNameError
from ._torchaudio_compat import import_dac
from .base import as_device
from .checkpoint import RawCheckpoint, codebook_dims, load_strict, positive_int, positive_ints, read_checkpoint
from .chunking import decoder_context_samples, encoder_context_samples, margin_frames
from .family import ConvCodec, build_on_meta, check_materialised

#: vampkit variant name -> (model_type, model_bitrate) of ``dac.utils.download``
DAC_VARIANTS: dict[str, tuple[str, str]] = {
    "44khz": ("44khz", "8kbps"),
    "44khz-16kbps": ("44khz", "16kbps"),
    "24khz": ("24khz", "8kbps"),
    "16khz": ("16khz", "8kbps"),
}
DEFAULT_VARIANT = "44khz"
#: sha256 of the published files as public projects that verified them pin them (the files
#: could not be downloaded where this table was written); 44khz-16kbps: none known
DAC_SHA256: dict[str, str] = {
    "44khz": "a88eed82a7024ccc1facdb1e605c4c2f99281c8118c22c9895ffa846d8fb61aa",  # 0.0.1/weights.pth
    "24khz": "44bad592fc393e03eb0be7a5120b7d487fe9612fa41269dc03fca3d4b87e20ad",  # 0.0.4/weights_24khz.pth
    "16khz": "95ab7176b67137d4d4c6c54b8d6ef3cea797faec228cb03ad084badcad570b4d",  # 0.0.5/weights_16khz.pth
}

_DAC_DECODER_KEY = re.compile(r"^decoder\.model\.\d+\.block\.[234]\.block\.")


def dac_url(variant: str) -> tuple[str, str]:
    """(URL, cache file name) of a published DAC model, from the dac package's own tables."""
    if variant not in DAC_VARIANTS:
        raise UnknownNameError(f"unknown DAC model 'dac:{variant}' (known: {', '.join('dac:' + v for v in DAC_VARIANTS)})")
    model_type, bitrate = DAC_VARIANTS[variant]
    utils = import_dac().utils
    tag = utils.__MODEL_LATEST_TAGS__[(model_type, bitrate)]
    url = utils.__MODEL_URLS__[(model_type, tag, bitrate)]
    return url, f"weights_{model_type}_{bitrate}_{tag}.pth"


class DACCodec(ConvCodec):
    """A Descript Audio Codec model (``dac.DAC``): 44.1, 24 or 16 kHz."""

    name = "dac"

    @classmethod
    def from_pretrained(cls, variant: str | None, device: str | torch.device = "cpu") -> DACCodec:
        from ..cache import cache_dir
        from ..weights import fetch_url

        variant = variant or DEFAULT_VARIANT
        url, filename = dac_url(variant)
        # a copy dac's own loader already fetched is used as it is, with no network access
        theirs = Path.home() / ".cache" / "descript" / "dac" / filename
        dest = cache_dir("codecs", "dac") / filename
        if not dest.exists() and theirs.is_file():
            dest = theirs
        elif not dest.exists():
            dest = fetch_url(url, dest, sha256=DAC_SHA256.get(variant))
        return cls.from_checkpoint(read_checkpoint(dest), device)

    @classmethod
    def claims(cls, checkpoint: RawCheckpoint) -> bool:
        return any(_DAC_DECODER_KEY.match(key) for key in checkpoint.state_dict)

    @classmethod
    def from_checkpoint(cls, checkpoint: RawCheckpoint, device: str | torch.device = "cpu") -> DACCodec:
        dac = import_dac()
        if checkpoint.has_key_part(".mrf_blocks."):
            raise CheckpointError(
                f"checkpoint '{checkpoint.path}' is a LAC codec (its decoder has 'mrf_blocks' keys), "
                "not DAC; load it as 'lac'"
            )
        accepted = set(inspect.signature(dac.model.DAC.__init__).parameters) - {"self"}
        unknown = sorted(set(checkpoint.kwargs) - accepted)
        if unknown:
            warnings.warn(
                f"checkpoint '{checkpoint.path}': ignoring kwargs DAC does not take: {', '.join(unknown)}",
                stacklevel=3,
            )
        kwargs = {k: v for k, v in checkpoint.kwargs.items() if k in accepted}
        encoder_rates = positive_ints(checkpoint, "encoder_rates", [2, 4, 8, 8])
        decoder_rates = positive_ints(checkpoint, "decoder_rates", [8, 8, 4, 2])
        n_codebooks = positive_int(checkpoint, "n_codebooks", 9)
        dims = codebook_dims(checkpoint, n_codebooks)
        sample_rate = positive_int(checkpoint, "sample_rate", 44100)
        codebook_size = positive_int(checkpoint, "codebook_size", 1024)
        for key in ("encoder_dim", "decoder_dim"):
            positive_int(checkpoint, key, 64)
        if kwargs.get("latent_dim") is not None:
            positive_int(checkpoint, "latent_dim")
        hop = math.prod(encoder_rates)
        if math.prod(decoder_rates) != hop:
            raise CheckpointError(
                f"checkpoint '{checkpoint.path}': encoder_rates {encoder_rates} and decoder_rates "
                f"{decoder_rates} do not multiply to the same hop length"
            )
        try:
            network = build_on_meta(dac.model.DAC, **kwargs)
        except Exception as exc:  # the constructor's complaint about the kwargs
            raise CheckpointError(f"checkpoint '{checkpoint.path}': DAC cannot be built from its kwargs: {exc}") from exc
        load_strict(network, checkpoint, what="DAC codec")
        check_materialised(network, f"checkpoint '{checkpoint.path}'")
        if not isinstance(network, torch.nn.Module):  # pragma: no cover - defensive
            raise CodecError("dac.DAC is not a torch module")
        return cls(
            network,
            sample_rate=sample_rate,
            hop_length=hop,
            n_codebooks=n_codebooks,
            codebook_size=codebook_size,
            codebook_dims=dims,
            encode_margin=margin_frames(encoder_context_samples(encoder_rates), hop),
            decode_margin=margin_frames(decoder_context_samples(decoder_rates, mrf=False), hop),
            device=as_device(device),
            source=str(checkpoint.path),
        )
