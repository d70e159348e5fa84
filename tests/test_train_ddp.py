"""DDP on CPU (gloo, loopback): two processes train exactly like one with the same global batch.

The two ranks are forked from the test process (no interpreter start-up per rank); they join
the group from the same environment variables torchrun sets.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import sys
import traceback

import pytest
import torch

from _train_helpers import random_tokens, recipe_text, tiny_codec, weights_of

from vampkit.training import loads_train_recipe, train
from vampkit.training.model import build_start


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rank(rank: int, port: int, text: str, out: str, errors) -> None:
    os.environ.update(WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    try:
        torch.set_num_threads(1)
        train(loads_train_recipe(text), out, progress=False, device="cpu")
    except BaseException:  # noqa: BLE001 - reported to the parent
        errors.put(f"rank {rank}: {traceback.format_exc()}")
        errors.close()
        errors.join_thread()  # flush before the hard exit
        os._exit(1)
    os._exit(0)


#: LoRA fine-tuning under DDP: the frozen base weights take no part in the all-reduce
LORA = {"lora": True, "optimizer": {"schedule": "constant", "lr": 0.01, "warmup": 0}}


@pytest.mark.skipif(sys.platform == "win32", reason="fork start method")
@pytest.mark.parametrize("settings", [{}, LORA], ids=["full", "lora"])
def test_two_gloo_processes_equal_one_with_the_same_global_batch(tmp_path, settings):
    codec, info = tiny_codec(tmp_path)
    tokens = random_tokens(tmp_path, info, {"a": 40, "b": 57})
    masks = [{"mask": "random"}, {"mask": {"periodic": {"period": [2, 6]}}}]
    single = train(loads_train_recipe(recipe_text(codec, tokens, steps=2, batch_size=4, masks=masks, **settings)),
                   tmp_path / "single", progress=False, device="cpu")
    # each process: 2 items as 2 micro-batches of 1, so accumulation and DDP compose
    text = recipe_text(codec, tokens, steps=2, batch_size=4, grad_accumulation=2, masks=masks, **settings)
    context = multiprocessing.get_context("fork")
    errors = context.Queue()
    port = _free_port()
    ranks = [context.Process(target=_rank, args=(r, port, text, str(tmp_path / "ddp"), errors)) for r in (0, 1)]
    for process in ranks:
        process.start()
    for process in ranks:
        process.join(timeout=240)
    codes = [p.exitcode for p in ranks]
    for process in ranks:
        if process.is_alive():
            process.kill()
    assert codes == [0, 0], errors.get(timeout=1) if not errors.empty() else codes
    a = weights_of(single.checkpoint / "vampnet" / "weights.pth")
    b = weights_of(tmp_path / "ddp" / "latest" / "vampnet" / "weights.pth")
    recipe = loads_train_recipe(text)
    initial = build_start(recipe.model, recipe.seed).model.state_dict()
    changed = {k for k in a if not torch.equal(initial[k], b[k])}
    assert changed  # the step did move the weights
    if settings.get("lora"):
        assert all(k.endswith((".lora_A", ".lora_B")) for k in changed)
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-5, rtol=0), key
    assert not list((tmp_path / "ddp").glob("*.partial*"))
