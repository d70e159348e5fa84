"""The CUDA paths, against the CPU as the reference: model logits (fp32 and bf16), the seeded
sampler, the codec and a whole recipe run. Skipped without a GPU; `benchmarks/gpu_check.py`
runs them first on a lent GPU machine (CI has none). ``VAMPKIT_TEST_DEVICE`` names another
device (``cuda:1``, ``mps``; ``cpu`` checks the tests themselves on a machine without a GPU)."""

from __future__ import annotations

import os

import pytest
import torch

from helpers_models import COARSE, tables, write_tiny

from vampkit import Mask, Prompt, VampNet, sample

DEVICE = os.environ.get("VAMPKIT_TEST_DEVICE", "cuda")
_AVAILABLE = {"cuda": torch.cuda.is_available, "mps": torch.backends.mps.is_available, "cpu": lambda: True}
pytestmark = pytest.mark.skipif(not _AVAILABLE[torch.device(DEVICE).type](), reason=f"needs a {DEVICE} device")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return write_tiny(tmp_path_factory.mktemp("cuda") / "coarse.pth", COARSE, seed=1)


def codes(batch: int = 2, frames: int = 32) -> torch.Tensor:
    return torch.randint(0, 129, (batch, 4, frames), generator=torch.Generator().manual_seed(5))


def test_device_logits_equal_the_cpus_in_fp32(ckpt):
    cpu = VampNet.load(ckpt, tables())
    gpu = VampNet.load(ckpt, tables(), device=DEVICE)
    with torch.inference_mode():
        expected = cpu.logits(codes())
        got = gpu.logits(codes().to(DEVICE))
    assert got.device.type == torch.device(DEVICE).type
    torch.testing.assert_close(got.cpu(), expected, atol=1e-4, rtol=1e-4)


def test_bf16_on_the_device_keeps_the_argmax_of_fp32(ckpt):
    fp32 = VampNet.load(ckpt, tables(), device=DEVICE)
    bf16 = VampNet.load(ckpt, tables(), device=DEVICE, precision="bf16")
    with torch.inference_mode():
        a, b = fp32.logits(codes().to(DEVICE)), bf16.logits(codes().to(DEVICE))
    assert torch.isfinite(b).all()
    assert (a.argmax(-1) == b.argmax(-1)).float().mean() > 0.9


def test_the_sampler_on_the_device_keeps_the_prompt_and_repeats_with_the_seed(ckpt):
    model = VampNet.load(ckpt, tables(), device=DEVICE)
    grid = (codes() % 128).to(DEVICE)  # real tokens only (128 is the mask token)
    keep = torch.rand(4, 32, generator=torch.Generator().manual_seed(1)) < 0.3
    prompt = Prompt(grid, Mask(~keep.to(DEVICE)), frame_rate=44100 / 768, codebook_size=128)
    runs = [sample(model, prompt, steps=4, generator=torch.Generator(device=DEVICE).manual_seed(3))
            for _ in range(2)]
    assert runs[0].device.type == torch.device(DEVICE).type and torch.equal(runs[0], runs[1])
    assert torch.equal(runs[0][:, keep.to(DEVICE)], grid[:, keep.to(DEVICE)])
    assert int(runs[0].max()) < 128  # no mask token left


def test_the_codec_on_the_device_gives_the_cpus_tokens(tmp_path):
    from vampkit.codecs import load_codec
    from vampkit.codecs.fixtures import make_lac_checkpoint

    path = make_lac_checkpoint(tmp_path / "codec.pth", n_codebooks=4, codebook_size=128)
    audio = 0.1 * torch.randn(1, 1, 44100, generator=torch.Generator().manual_seed(0))
    cpu, gpu = load_codec(str(path)), load_codec(str(path), device=DEVICE)
    expected = cpu.encode(audio, 44100)
    got = gpu.encode(audio.to(DEVICE), 44100)
    agreement = (got.cpu() == expected).float().mean()
    assert agreement > 0.99  # float sums differ between devices; a code may flip at a boundary
    decoded = gpu.decode(got)
    assert decoded.device.type == torch.device(DEVICE).type and torch.isfinite(decoded).all()


def test_a_recipe_runs_on_the_device(tiny_weights_option, groove, tmp_path):
    from vampkit import run_recipe

    result = run_recipe("loop-variation", [groove], tmp_path / "out", weights=tiny_weights_option, device=DEVICE,
                        overrides=["sampling.steps=2", "c2f.steps=2"])
    assert not result.failures and len(result.outputs) >= 1
