"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

D is shown T(x) for real and generated images alike, with T differentiable, so G learns through the
augmentation while D cannot memorise a small training set. Because every D input is augmented the
same way, the augmentations do not leak into G's outputs.

Every random draw comes from an explicit `torch.Generator` (STYLE: randomness), so a step's
augmentation is a function of (seed, nimg) and resumed runs repeat it exactly. Images are float
[-1, 1] NCHW; the ops below follow the paper's colour / translation / cutout policy.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ganvas.errors import ConfigError
from ganvas.registry import Registry

Tensor = torch.Tensor


def _uniform(n: int, gen: torch.Generator, lo: float, hi: float, like: Tensor) -> Tensor:
    return (torch.rand(n, 1, 1, 1, generator=gen) * (hi - lo) + lo).to(like, non_blocking=True)


def brightness(x: Tensor, gen: torch.Generator) -> Tensor:
    """Add U(-0.5, 0.5) to every pixel of an image (in [-1, 1] units: a quarter of the range)."""
    return x + _uniform(len(x), gen, -0.5, 0.5, x)


def saturation(x: Tensor, gen: torch.Generator) -> Tensor:
    """Scale each pixel's deviation from its grey value by U(0, 2)."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * _uniform(len(x), gen, 0.0, 2.0, x) + mean


def contrast(x: Tensor, gen: torch.Generator) -> Tensor:
    """Scale the deviation from the image mean by U(0.5, 1.5)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * _uniform(len(x), gen, 0.5, 1.5, x) + mean


def translation(x: Tensor, gen: torch.Generator, ratio: float = 0.125) -> Tensor:
    """Shift each image by up to ratio * size pixels in x and y, filling with zeros (mid-grey)."""
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (n, 1, 1), generator=gen)
    dx = torch.randint(-sx, sx + 1, (n, 1, 1), generator=gen)
    # Output pixel (i, j) reads input (i - dy, j - dx); indices past the edge land on a 1-pixel zero pad.
    iy = (torch.arange(h)[None, :, None] - dy + 1).clamp(0, h + 1)  # [n, h, 1]
    ix = (torch.arange(w)[None, None, :] - dx + 1).clamp(0, w + 1)  # [n, 1, w]
    padded = F.pad(x, (1, 1, 1, 1))  # [n, c, h+2, w+2]
    batch = torch.arange(n, device=x.device)[:, None, None]
    iy, ix = iy.to(x.device, non_blocking=True), ix.to(x.device, non_blocking=True)
    out = padded.permute(0, 2, 3, 1)[batch, iy, ix]  # [n, h, w, c]
    return out.permute(0, 3, 1, 2)


def cutout(x: Tensor, gen: torch.Generator, ratio: float = 0.5) -> Tensor:
    """Zero one square of ratio * size per image at a random position (may cross the border)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=gen)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=gen)
    # The square covers rows cy - ch//2 .. cy - ch//2 + ch - 1 (likewise columns), clipped at the border.
    ys = torch.arange(h)[None, :, None] - (cy - ch // 2)
    xs = torch.arange(w)[None, None, :] - (cx - cw // 2)
    inside = (ys >= 0) & (ys < ch) & (xs >= 0) & (xs < cw)  # [n, h, w]
    return x * (~inside).to(x, non_blocking=True)[:, None]


OPS: dict[str, list[Callable[[Tensor, torch.Generator], Tensor]]] = {
    "color": [brightness, saturation, contrast],
    "translation": [translation],
    "cutout": [cutout],
}


def augment_policy(policy: str) -> list[Callable[[Tensor, torch.Generator], Tensor]]:
    ops = []
    for name in [p.strip() for p in policy.split(",") if p.strip()]:
        if name not in OPS:
            raise ConfigError(f"unknown DiffAugment op {name!r}; choose from: {', '.join(OPS)}")
        ops.extend(OPS[name])
    return ops


class DiffAugment:
    """T(x): the policy's ops in order, each drawing from the given generator.

    >>> aug = DiffAugment("translation,cutout")
    >>> x = torch.zeros(2, 3, 8, 8)
    >>> aug(x, torch.Generator().manual_seed(0)).shape
    torch.Size([2, 3, 8, 8])
    """

    def __init__(self, policy: str = "color,translation,cutout"):
        self.policy = policy
        self.ops = augment_policy(policy)

    def __call__(self, x: Tensor, gen: torch.Generator) -> Tensor:
        fmt = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) and x.ndim == 4 else None
        for op in self.ops:
            x = op(x, gen)
        return x.contiguous(memory_format=fmt) if fmt is not None else x


AUGMENTS: Registry[Callable[[str], DiffAugment | None]] = Registry("augmentation")
AUGMENTS.register("none", help="no augmentation")(lambda policy: None)
AUGMENTS.register("diffaugment", help="DiffAugment: colour, translation, cutout on every D input (Zhao et al. 2020)")(
    lambda policy: DiffAugment(policy))
