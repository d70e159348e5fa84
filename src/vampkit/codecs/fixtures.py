"""Tiny random-weight codec checkpoints in the real upstream file formats, for tests and demos.

Every bias, Snake alpha and weight-norm gain is perturbed, so a swapped pair of tensors changes
the output (a fresh model has them all equal).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ._torchaudio_compat import import_dac

#: LAC kwargs of a tiny model with VampNet's rates (hop 768, 44.1 kHz)
TINY_LAC_KWARGS: dict[str, Any] = {
    "encoder_dim": 4,
    "encoder_rates": [2, 6, 8, 8],
    "decoder_dim": 64,
    "decoder_rates": [6, 4, 4, 2, 2, 2],
    "n_codebooks": 4,
    "codebook_size": 64,
    "codebook_dim": 8,
    "quantizer_dropout": False,
    "sample_rate": 44100,
}
#: DAC kwargs of a tiny 16 kHz model with the published 16/24 kHz rates (odd stride 5, hop 320)
TINY_DAC_KWARGS: dict[str, Any] = {
    "encoder_dim": 8,
    "encoder_rates": [2, 4, 5, 8],
    "decoder_dim": 32,
    "decoder_rates": [8, 5, 4, 2],
    "n_codebooks": 3,
    "codebook_size": 64,
    "codebook_dim": 8,
    "quantizer_dropout": 0.0,
    "sample_rate": 16000,
}


def _perturb(state: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        noise = torch.rand(value.shape, generator=generator)
        if key.endswith(("alpha", "weight_g")):
            out[key] = value.abs() * (0.5 + noise)  # stay positive, all distinct
        elif key.endswith("bias"):
            out[key] = value + 0.02 * (noise - 0.5)
        else:
            out[key] = value.clone()
    return out


def make_lac_checkpoint(path: str | Path, seed: int = 0, **overrides: Any) -> Path:
    """Write a random LAC ``{"state_dict", "metadata": {"kwargs"}}`` file (LAC's ``save(package=False)``)."""
    from .lac import LACNetwork

    kwargs = {**TINY_LAC_KWARGS, **overrides}
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        dims = kwargs["codebook_dim"]
        dims = [dims] * kwargs["n_codebooks"] if isinstance(dims, int) else list(dims)
        network = LACNetwork(
            kwargs["encoder_dim"],
            kwargs["encoder_rates"],
            kwargs["decoder_dim"],
            kwargs["decoder_rates"],
            kwargs["n_codebooks"],
            kwargs["codebook_size"],
            dims,
        )
    torch.save({"state_dict": _perturb(network.state_dict(), generator), "metadata": {"kwargs": kwargs}}, path)
    return Path(path)


def make_dac_checkpoint(path: str | Path, seed: int = 0, **overrides: Any) -> Path:
    """Write a random DAC weights file with the dac package's own ``DAC.save(package=False)``."""
    dac = import_dac()
    kwargs = {**TINY_DAC_KWARGS, **overrides}
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = dac.model.DAC(**kwargs)
    model.load_state_dict(_perturb(model.state_dict(), generator))
    model.save(str(path), package=False)
    return Path(path)
