"""The refusal of a checkpoint holding pickled objects gives no advice to load it unsafely."""

from __future__ import annotations

import pickle

import pytest
import torch

from vampkit.checkpoint import read_checkpoint
from vampkit.errors import CheckpointError
from vampkit.models.lora_file import read_lora
from vampkit.training import checkpoints


def read_training_state(path):
    return checkpoints.load_state(path.parent)


# every reader of a file a user (or a recipe) names: checkpoints, LoRA files, training states
READERS = {"checkpoint": read_checkpoint, "lora": read_lora, "training state": read_training_state}


class Payload:
    def __reduce__(self):
        return (print, ("pickled code ran",))


class Plain:
    pass


@pytest.mark.parametrize("payload", [Payload(), Plain()])
@pytest.mark.parametrize("writer", ["torch_zip", "raw_pickle"])
@pytest.mark.parametrize("reader", list(READERS))
def test_the_refusal_does_not_repeat_torchs_hint_to_turn_weights_only_off(tmp_path, payload, writer, reader):
    path = tmp_path / checkpoints.STATE
    data = {"state_dict": {}, "metadata": {"kwargs": {}}, "x": payload}
    if writer == "torch_zip":
        torch.save(data, path)
    else:
        path.write_bytes(pickle.dumps(data, protocol=2))
    with pytest.raises(CheckpointError) as info:
        READERS[reader](path)
    message = str(info.value)
    assert message.startswith(f"{path}: refused to load") and "\n" not in message
    for advice in ("weights_only", "safe_globals", "trust the source", "torch.load"):
        assert advice not in message
    if isinstance(payload, Plain):
        assert "Plain" in message  # what was refused is named
