"""Small layers shared by models."""

from __future__ import annotations

import torch
from torch import nn


def state_buffers(net: nn.Module) -> list[torch.Tensor]:
    """The buffers that hold state (the persistent ones: batch-norm statistics, w_avg, fixed noise), in
    `net.buffers()` order. Non-persistent buffers are constants built from the architecture (the resampling
    kernels), which the training loop need not copy or roll back."""
    return [b for m in net.modules() for name, b in m._buffers.items()
            if b is not None and name not in m._non_persistent_buffers_set]


class PixelNorm(nn.Module):
    """Normalise each pixel's feature vector to unit RMS (Karras et al. 2018, eq. 2). Batch-independent."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + self.eps)


def norm_2d(kind: str, channels: int) -> nn.Module:
    """batch | pixel | layer (per-sample over C,H,W) | none."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "pixel":
        return PixelNorm()
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown normalisation {kind!r}")


def dcgan_init(module: nn.Module) -> None:
    """Weights ~ N(0, 0.02), norm gains ~ N(1, 0.02), biases 0 (Radford et al. 2016, sec. 4)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
