"""Adversarial losses and penalties (registered by name).

Conventions (STYLE): D returns raw logits [N], real scores positive. A loss is a pair of small pure
functions on logits returning per-sample values [N] that the loop averages and backpropagates:
  d_loss(real_logits, gen_logits) -> [N]      g_loss(gen_logits) -> [N]
Everything is written in softplus form, never sigmoid + log, so no loss saturates to inf.
  softplus(-x) = -log(sigmoid(x))        softplus(x) = -log(1 - sigmoid(x))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ganvas.registry import Registry

Tensor = torch.Tensor


@dataclass(frozen=True)
class Loss:
    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    penalty: str | None = None  # a registered penalty the loop must add to D's loss
    help: str = ""


LOSSES: Registry[Loss] = Registry("loss")


def _register(loss: Loss) -> Loss:
    LOSSES.register(loss.name, help=loss.help)(loss)
    return loss


def _bce_d(real_logits: Tensor, gen_logits: Tensor) -> Tensor:
    # -log D(x) - log(1 - D(G(z)))  (Goodfellow et al. 2014, eq. 1, D maximises)
    return F.softplus(-real_logits) + F.softplus(gen_logits)


# min_G E[log(1 - D(G(z)))]: G minimises -softplus(g) = log(1 - sigmoid(g)). Saturates early in training.
MINIMAX = _register(Loss("minimax", _bce_d, lambda g: -F.softplus(g),
                         help="original minimax BCE objective (Goodfellow et al. 2014)"))
# G maximises log D(G(z)) instead: same fixed point, strong gradients when D wins.
NONSAT = _register(Loss("nonsat", _bce_d, lambda g: F.softplus(-g),
                        help="non-saturating BCE (the usual GAN loss)"))
# Wasserstein critic: D maximises E[D(x)] - E[D(G(z))]; the gradient penalty keeps it ~1-Lipschitz.
WGAN_GP = _register(Loss("wgan-gp", lambda r, g: g - r, lambda g: -g, penalty="gp",
                         help="Wasserstein loss with gradient penalty (Gulrajani et al. 2017)"))
# Hinge: D pushes real logits above +1 and fake below -1; G raises fake logits.
HINGE = _register(Loss("hinge", lambda r, g: F.relu(1 - r) + F.relu(1 + g), lambda g: -g,
                       help="hinge loss (Lim & Ye 2017; SAGAN, BigGAN)"))
# Least squares (Mao et al. 2017) with targets a=-1 (fake), b=+1 (real), c=+1 (what G wants), so that,
# like every loss here, real scores are positive and fake scores negative.
LSGAN = _register(Loss("lsgan", lambda r, g: 0.5 * (r - 1).square() + 0.5 * (g + 1).square(),
                       lambda g: 0.5 * (g - 1).square(), help="least squares GAN (Mao et al. 2017)"))


PENALTIES: Registry[Callable[..., Tensor]] = Registry("penalty")


@PENALTIES.register("gp", help="WGAN-GP: (||grad D(x_hat)|| - 1)^2 on real/fake interpolates")
def gradient_penalty(D: torch.nn.Module, real_img: Tensor, gen_img: Tensor, c: Tensor | None,
                     generator: torch.Generator) -> Tensor:
    """Per-sample (||grad_x D(x_hat)||_2 - 1)^2 with x_hat = a*real + (1-a)*fake, a ~ U(0,1) [N]."""
    n = real_img.shape[0]
    alpha = torch.rand(n, *([1] * (real_img.ndim - 1)), generator=generator).to(real_img, non_blocking=True)
    x_hat = (alpha * real_img.detach() + (1 - alpha) * gen_img.detach()).requires_grad_(True)
    logits = D(x_hat, c)
    (grad,) = torch.autograd.grad(logits.sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).square()


def r1_penalty(real_logits: Tensor, real_img: Tensor) -> Tensor:
    """Per-sample ||grad_x D(x)||^2 at the real images (Mescheder et al. 2018, eq. 9) [N].

    `real_img` must require grad and `real_logits` be computed from it; the loop weights it by gamma/2.
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), real_img, create_graph=True)
    return grad.float().square().flatten(1).sum(dim=1)
