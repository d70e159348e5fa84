"""The sampler's step loop reads nothing back from the device: no ``.item()``/``bool()``/``int()``
per step (each would be a host synchronisation on a GPU)."""

from __future__ import annotations


import torch

from helpers_models import COARSE, tiny

from vampkit import Mask, Prompt, sample

READS = ("item", "__bool__", "__int__", "__float__", "__index__", "tolist")


def count_host_reads(monkeypatch, run) -> int:
    """Calls of the tensor-to-Python conversions while ``run()`` executes."""
    count = [0]
    for name in READS:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, **kwargs):
            count[0] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    try:
        run()
    finally:
        monkeypatch.undo()
    return count[0]


def test_host_reads_do_not_grow_with_the_number_of_steps(monkeypatch):
    model = tiny(COARSE)
    codes = torch.randint(0, 128, (1, 4, 32), generator=torch.Generator().manual_seed(0))
    prompt = Prompt(codes, Mask(torch.rand(4, 32, generator=torch.Generator().manual_seed(1)) < 0.7),
                    frame_rate=57.4, codebook_size=128)

    def run(steps: int):
        return lambda: sample(model, prompt, steps=steps, generator=torch.Generator().manual_seed(0))

    few = count_host_reads(monkeypatch, run(2))
    many = count_host_reads(monkeypatch, run(8))
    assert many == few  # only the checks before the loop, none per step
    assert few <= 4
