"""Speed options keep results correct: a bf16 / channels_last step stays close to the fp32 NCHW step."""

import copy

import pytest
import torch

from ganvas.config import ModelConfig
from ganvas.losses import NONSAT
from ganvas.models import MODELS, DataInfo
from ganvas.utils.device import autocast


def _step(G, D, precision, channels_last):
    G, D = copy.deepcopy(G), copy.deepcopy(D)
    real = torch.rand(16, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    z = torch.randn(16, G.z_dim, generator=torch.Generator().manual_seed(2))
    if channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
        real = real.contiguous(memory_format=torch.channels_last)
    with autocast(torch.device("cpu"), precision):
        fake = G(z)
        loss_d = NONSAT.d_loss(D(real).float(), D(fake.detach()).float()).mean()
        loss_g = NONSAT.g_loss(D(fake).float()).mean()
    return loss_d.item(), loss_g.item()


@pytest.mark.parametrize("precision,channels_last,tol", [("fp32", True, 1e-5), ("bf16", False, 0.02),
                                                         ("bf16", True, 0.02)])
def test_losses_within_tolerance_of_fp32(precision, channels_last, tol):
    torch.manual_seed(0)
    G, D = MODELS.get("dcgan").build(ModelConfig(z_dim=16, width=16), DataInfo("image", resolution=16))
    ref = _step(G, D, "fp32", False)
    got = _step(G, D, precision, channels_last)
    for r, g in zip(ref, got):
        assert abs(r - g) <= tol * max(1.0, abs(r)), (ref, got)
