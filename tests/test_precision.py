"""Speed options keep results correct: a bf16 / fp16 / channels_last step stays close to the fp32 NCHW step."""

import copy

import pytest
import torch

from ganvas.config import ModelConfig
from ganvas.losses import NONSAT
from ganvas.models import MODELS, DataInfo
from ganvas.utils.device import autocast


def _step(G, D, precision, channels_last, compile=False):
    G, D = copy.deepcopy(G), copy.deepcopy(D)
    G.eval()  # fixed noise inputs (style-based G), so only the option under test differs
    real = torch.rand(16, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    z = torch.randn(16, G.z_dim, generator=torch.Generator().manual_seed(2))
    if channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
        real = real.contiguous(memory_format=torch.channels_last)
    if compile:
        G, D = torch.compile(G), torch.compile(D)
    with autocast(torch.device("cpu"), precision):
        fake = G(z)
        loss_d = NONSAT.d_loss(D(real).float(), D(fake.detach()).float()).mean()
        loss_g = NONSAT.g_loss(D(fake).float()).mean()
    return loss_d.item(), loss_g.item()


def _nets(name, **model):
    torch.manual_seed(0)
    return MODELS.get(name).build(ModelConfig(z_dim=16, width=16, max_width=64, w_dim=32, **model),
                                  DataInfo("image", resolution=16))


# Stated tolerances (relative to max(1, |loss|)): fp32 layouts 1e-5; bf16 autocast 0.02 (8 mantissa bits);
# fp16 autocast 0.005 (11 bits).
@pytest.mark.parametrize("model", ["dcgan", "stylegan"])
@pytest.mark.parametrize("precision,channels_last,tol", [("fp32", True, 1e-5), ("bf16", False, 0.02),
                                                         ("bf16", True, 0.02), ("fp16", False, 0.005),
                                                         ("fp16", True, 0.005)])
def test_losses_within_tolerance_of_fp32(model, precision, channels_last, tol):
    G, D = _nets(model)
    ref = _step(G, D, "fp32", False)
    got = _step(G, D, precision, channels_last)
    for r, g in zip(ref, got):
        assert abs(r - g) <= tol * max(1.0, abs(r)), (ref, got)


@pytest.mark.parametrize("precision,channels_last,tol", [("fp32", False, 1e-5), ("bf16", True, 0.02)])
def test_resampling_by_convolution_within_tolerance(precision, channels_last, tol):
    """model.resample=conv (G's upsampling and D's pooling as depthwise convolutions) against torch's ops."""
    ref = _step(*_nets("stylegan"), "fp32", False)
    got = _step(*_nets("stylegan", resample="conv"), precision, channels_last)
    for r, g in zip(ref, got):
        assert abs(r - g) <= tol * max(1.0, abs(r)), (ref, got)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["dcgan", "stylegan"])
def test_compiled_step_within_tolerance_of_eager(model):
    G, D = _nets(model)
    ref = _step(G, D, "fp32", False)
    got = _step(G, D, "fp32", True, compile=True)
    for r, g in zip(ref, got):
        assert abs(r - g) <= 1e-4 * max(1.0, abs(r)), (ref, got)


def test_an_emulated_precision_on_a_cpu_is_named(monkeypatch):
    """bf16 without AVX512-BF16/AMX and fp16 on any CPU run many times slower than fp32: say so, and only then."""
    from ganvas.utils import device as dev

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr(dev, "cpu_has_fast_bf16", lambda: False)
    assert "no bf16 instructions" in dev.slow_precision_note("bf16", cpu)
    assert "fp16 is meant for GPUs" in dev.slow_precision_note("fp16", cpu)
    assert dev.slow_precision_note("fp32", cpu) is None
    assert dev.slow_precision_note("bf16", cuda) is None and dev.slow_precision_note("fp16", cuda) is None
    monkeypatch.setattr(dev, "cpu_has_fast_bf16", lambda: True)
    assert dev.slow_precision_note("bf16", cpu) is None
    assert dev.slow_precision_note("fp16", cpu) is not None
