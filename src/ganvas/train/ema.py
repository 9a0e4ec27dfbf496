"""Exponential moving average of G's weights, with its half-life counted in images (STYLE: time)."""

from __future__ import annotations

import torch
from torch import nn


def ema_beta(batch_images: int, nimg: int, ema_kimg: float, rampup: float) -> float:
    """Per-step decay for a half-life of ema_kimg thousand images.

    With rampup r > 0 the half-life is at most r * nimg, so early, rapidly changing weights are not
    averaged with the random initialisation (StyleGAN2-ADA, training_loop.py).
    """
    ema_nimg = ema_kimg * 1000
    if rampup > 0:
        ema_nimg = min(ema_nimg, nimg * rampup)
    return 0.5 ** (batch_images / max(ema_nimg, 1e-8))


@torch.no_grad()
def update_ema(G_ema: nn.Module, G: nn.Module, beta: float) -> None:
    # p_ema <- p + beta (p_ema - p), i.e. lerp from p_ema toward p by (1 - beta); one fused call for all.
    torch._foreach_lerp_(list(G_ema.parameters()), [p.detach() for p in G.parameters()], 1.0 - beta)
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)
