"""VampNet in every grad/inference mode, merged weights, empty (meta) loading and precision."""

from __future__ import annotations

import contextlib
import warnings

import pytest
import torch

from helpers_models import COARSE, tables, write_tiny

from vampkit import ParameterError, VampNet
from vampkit.models.layers import LoraLinear, _CachedWeight
from vampkit.precision import Compiled, best_precision, resolve_precision

MODES = {"inference_mode": torch.inference_mode, "no_grad": torch.no_grad, "neither": contextlib.nullcontext}


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return write_tiny(tmp_path_factory.mktemp("modes") / "coarse.pth", COARSE, seed=1)


def codes(batch: int = 1, frames: int = 24) -> torch.Tensor:
    return torch.randint(0, 129, (batch, 4, frames), generator=torch.Generator().manual_seed(5))


def reference(ckpt) -> torch.Tensor:
    with torch.no_grad():
        return VampNet.load(ckpt, tables()).logits(codes())


@pytest.mark.parametrize("load_mode", list(MODES))
@pytest.mark.parametrize("run_mode", list(MODES))
def test_loads_and_runs_in_every_grad_mode(ckpt, load_mode, run_mode):
    with MODES[load_mode]():
        model = VampNet.load(ckpt, tables())
    with MODES[run_mode]():
        first = model.logits(codes())
        second = model.logits(codes())
    assert torch.equal(first, second)
    assert torch.allclose(first.detach(), reference(ckpt), atol=1e-5)


def test_eval_merges_once_and_train_derives_per_call(ckpt):
    model = VampNet.load(ckpt, tables())
    layer = model.transformer.layers[0].self_attn.w_qs
    assert layer.merged_weight is not None and layer.effective_weight() is layer.merged_weight
    model.train()
    assert layer.merged_weight is None
    weight = layer.effective_weight()
    assert weight.requires_grad  # differentiable: gradients reach the LoRA factors
    weight.sum().backward()
    assert layer.lora_A.grad is not None
    model.eval()
    assert torch.allclose(layer.effective_weight(), weight.detach())


def test_training_a_lora_factor_then_eval_uses_the_new_weights(ckpt):
    model = VampNet.load(ckpt, tables()).train()
    layer = model.transformer.layers[0].feed_forward.w_1
    with torch.no_grad():
        layer.lora_B.add_(1.0)
    model.eval()
    expected = layer.weight + layer.lora_B @ layer.lora_A / 8
    assert torch.allclose(layer.effective_weight(), expected.detach(), atol=1e-6)


def test_load_state_dict_in_eval_mode_merges_again(ckpt):
    model = VampNet.load(ckpt, tables())
    state = {k: v + 0.5 for k, v in model.state_dict().items()}
    before = model.logits(codes())
    model.load_state_dict(state)
    layer = model.transformer.layers[1].self_attn.fc
    assert torch.allclose(layer.effective_weight(), layer.weight + layer.lora_B @ layer.lora_A / 8, atol=1e-6)
    assert not torch.allclose(model.logits(codes()), before)


def test_load_builds_no_random_weights_and_keeps_the_file_tensors(ckpt, monkeypatch):
    calls = []
    monkeypatch.setattr(torch.nn.init, "kaiming_uniform_", lambda t, *a, **k: calls.append(t) or t)
    model = VampNet.load(ckpt, tables())
    assert not [t for t in calls if not t.is_meta]  # no real tensor was randomly initialised
    assert not any(t.is_meta for t in [*model.parameters(), *model.buffers()])
    state = torch.load(ckpt, weights_only=True)["state_dict"]
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def test_cached_weight_modules_are_all_merged_after_load(ckpt):
    model = VampNet.load(ckpt, tables())
    cached = [m for m in model.modules() if isinstance(m, _CachedWeight)]
    assert cached and all(m.merged_weight is not None for m in cached if isinstance(m, LoraLinear))


def test_fp16_on_cpu_is_an_error_naming_device_and_precision(ckpt):
    with pytest.raises(ParameterError, match="fp16 is not supported on device cpu"):
        VampNet.load(ckpt, tables(), precision="fp16")
    with pytest.raises(ParameterError, match="unknown precision 'fp8'"):
        resolve_precision("fp8", "cpu")


def test_bf16_on_a_cpu_without_native_bf16_warns(monkeypatch):
    monkeypatch.setattr("vampkit.precision.cpu_has_fast_bf16", lambda: False)
    with pytest.warns(UserWarning, match="emulated"):
        assert resolve_precision("bf16", "cpu") is torch.bfloat16
    assert best_precision("cpu") == "fp32"


def test_auto_is_bf16_only_on_a_cpu_with_native_bf16(monkeypatch):
    monkeypatch.setattr("vampkit.precision.cpu_has_fast_bf16", lambda: True)
    assert resolve_precision("auto", "cpu") is torch.bfloat16
    monkeypatch.setattr("vampkit.precision.cpu_has_fast_bf16", lambda: False)
    assert resolve_precision("auto", "cpu") is torch.float32


def test_bf16_logits_are_close_to_fp32_and_come_out_float32(ckpt):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # emulated bf16 on CPUs without it
        low = VampNet.load(ckpt, tables(), precision="bf16")
    assert low.transformer.layers[0].self_attn.w_qs.merged_weight.dtype is torch.bfloat16
    assert low.classifier.layers[0].merged_weight.dtype is torch.float32
    with torch.inference_mode():
        out = low.logits(codes())
    ref = reference(ckpt)
    assert out.dtype is torch.float32
    assert (out.argmax(-1) == ref.argmax(-1)).float().mean() > 0.9
    assert not torch.equal(out, ref)


def test_a_compile_failure_falls_back_to_eager_with_one_warning(monkeypatch):
    def broken(fn, **_options):
        def run(*_args, **_kwargs):
            raise RuntimeError("no compiler here")
        return run

    monkeypatch.setattr(torch, "compile", broken)
    twice = Compiled(lambda x: x * 2, "test function")
    with pytest.warns(UserWarning, match="compile: torch.compile failed for the test function") as record:
        assert twice(torch.ones(1)).item() == 2
    assert len(record) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert twice(torch.ones(1)).item() == 2  # eager from now on, no second warning


def test_compiled_layers_compile_once_and_never_per_step(ckpt):
    from torch._dynamo.utils import counters

    from vampkit import Mask, Prompt, sample

    torch._dynamo.reset()  # noqa: SLF001 - a fresh compile cache for counting graphs
    model = VampNet.load(ckpt, tables())
    model.compile_forward(backend="eager")  # dynamo's tracing and guards, without a C++ compiler
    grid = codes(frames=20)
    prompt = Prompt(grid, Mask(torch.rand(4, 20, generator=torch.Generator().manual_seed(0)) < 0.6),
                    frame_rate=57.4, codebook_size=128)
    expected = VampNet.load(ckpt, tables())
    with torch.inference_mode():
        first = sample(model, prompt, steps=3, generator=torch.Generator().manual_seed(0))
        graphs = counters["stats"]["unique_graphs"]
        again = sample(model, prompt, steps=6, generator=torch.Generator().manual_seed(0))
        assert counters["stats"]["unique_graphs"] == graphs  # more steps, same shapes: no recompile
        assert graphs <= 2  # one graph serves every layer (not one per layer)
        reference = sample(expected, prompt, steps=3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(first, reference) and again.shape == first.shape
