"""Exponential moving average of G's weights, with its half-life counted in images (STYLE: time)."""

from __future__ import annotations

import torch
from torch import nn

from ganvas.nn import state_buffers


def ema_beta(batch_images: int, nimg: int, ema_kimg: float, rampup: float) -> float:
    """Per-step decay for a half-life of ema_kimg thousand images.

    With rampup r > 0 the half-life is at most r * nimg, so early, rapidly changing weights are not
    averaged with the random initialisation (StyleGAN2-ADA, training_loop.py).
    """
    ema_nimg = ema_kimg * 1000
    if rampup > 0:
        ema_nimg = min(ema_nimg, nimg * rampup)
    return 0.5 ** (batch_images / max(ema_nimg, 1e-8))


class EmaUpdater:
    """Moves G_ema's weights toward G's, p_ema <- p + beta (p_ema - p), in one fused call.

    The tensor lists are gathered once: walking the modules every step costs more than the update itself
    on a small network. Loading a state dict later copies in place, so the lists stay valid.
    """

    def __init__(self, G_ema: nn.Module, G: nn.Module):
        self.ema_params = list(G_ema.parameters())
        self.params = [p.detach() for p in G.parameters()]
        self.ema_buffers, self.buffers = state_buffers(G_ema), state_buffers(G)

    @torch.no_grad()
    def __call__(self, beta: float) -> None:
        torch._foreach_lerp_(self.ema_params, self.params, 1.0 - beta)  # lerp from p_ema toward p by 1 - beta
        if self.buffers:
            torch._foreach_copy_(self.ema_buffers, self.buffers)  # one multi-tensor copy
