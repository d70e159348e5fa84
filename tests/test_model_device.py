"""Device choice and the GPU-only autocast option."""

from __future__ import annotations

import pytest
import torch

from vampkit import ParameterError, resolve_device
from vampkit.device import autocast, autocast_dtype


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("vampkit.device._mps_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr("vampkit.device._mps_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device(None) == torch.device("cuda")


def test_explicit_devices(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ParameterError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(ParameterError, match="unknown device 'tpu9'"):
        resolve_device("tpu9")


def test_autocast_dtypes():
    assert autocast_dtype("bf16") is torch.bfloat16 and autocast_dtype("fp16") is torch.float16
    assert autocast_dtype(None) is None and autocast_dtype("fp32") is None
    with pytest.raises(ParameterError, match="fp8"):
        autocast_dtype("fp8")


def test_autocast_is_a_no_op_on_cpu():
    with autocast("cpu", "bf16"):
        y = torch.ones(2, 2) @ torch.ones(2, 2)
    assert y.dtype == torch.float32
