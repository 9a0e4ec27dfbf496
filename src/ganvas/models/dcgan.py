"""DCGAN-class convolutional G and D (Radford et al. 2016), any power-of-two resolution >= 8.

Channels at spatial size r are width * (resolution/2) / r, capped at max_width: the classic 64 px
DCGAN (width 64) has 512-256-128-64 channels at 4-8-16-32 px in G and the mirror image in D.
Conditional variants concatenate a one-hot c to z in G and use a projection term in D (Miyato &
Koyama 2018).
"""

from __future__ import annotations

import torch
from torch import nn

from ganvas.models.base import Discriminator, Generator
from ganvas.nn import conv_transpose_subpixel, dcgan_init, norm_2d


def _channels(resolution: int, width: int, max_width: int, r: int) -> int:
    return max(1, min(max_width, width * (resolution // 2) // r))


class DCGANGenerator(Generator):
    def __init__(self, z_dim: int = 128, resolution: int = 32, width: int = 64, max_width: int = 512,
                 norm: str = "batch", c_dim: int = 0, channels: int = 3):
        super().__init__(z_dim=z_dim, resolution=resolution, width=width, max_width=max_width, norm=norm,
                         c_dim=c_dim, channels=channels)
        self.z_dim, self.c_dim, self.out_shape = z_dim, c_dim, (channels, resolution, resolution)
        ch = lambda r: _channels(resolution, width, max_width, r)  # noqa: E731
        bias = norm != "batch"  # a bias before BatchNorm is cancelled by its mean
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim + c_dim, ch(4), 4, 1, 0, bias=bias),
                                   norm_2d(norm, ch(4)), nn.ReLU(inplace=True)]
        r = 4
        while r < resolution // 2:  # 4 -> 8 -> ... -> resolution/2
            layers += [nn.ConvTranspose2d(ch(r), ch(2 * r), 4, 2, 1, bias=bias), norm_2d(norm, ch(2 * r)),
                       nn.ReLU(inplace=True)]
            r *= 2
        layers += [nn.ConvTranspose2d(ch(r), channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        self.check_inputs(z, c)
        x = torch.cat([z, c.to(z.dtype)], dim=1) if self.c_dim else z
        # The first layer, a 4x4 transposed convolution of a 1x1 input, is one matrix product (the same sums):
        # 8x faster than the convolution kernels on a CPU, forward and backward.
        first = self.net[0]
        w = first.weight  # [z_dim + c_dim, C4, 4, 4]
        if w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous():
            # The layout the model runs in: the weight's memory is [z_dim + c_dim, 4, 4, C4], so the product is
            # [N, 4, 4, C4] in memory, a channels_last [N, C4, 4, 4] (no copy of either).
            h = (x @ w.permute(0, 2, 3, 1).reshape(w.shape[0], -1)).view(-1, 4, 4, w.shape[1]).permute(0, 3, 1, 2)
        else:
            h = (x @ w.reshape(w.shape[0], -1)).view(-1, *w.shape[1:])  # [N, C4, 4, 4]
        if first.bias is not None:
            h = h + first.bias.to(h.dtype)[:, None, None]
        h = self.net[1:-2](h)
        rgb = self.net[-2]
        # The RGB layer on a CPU: the same sums as a 2x2 convolution + pixel shuffle, 2x as fast forward there.
        # (On a GPU the small step is bound by kernel launches, which the extra ops would add to.)
        h = conv_transpose_subpixel(h, rgb) if h.device.type == "cpu" and rgb.out_channels <= 4 else rgb(h)
        return self.net[-1](h)  # tanh: [N, C, R, R] in [-1, 1]


class DCGANDiscriminator(Discriminator):
    def __init__(self, resolution: int = 32, width: int = 64, max_width: int = 512, norm: str = "batch",
                 c_dim: int = 0, channels: int = 3, style_classes: int = 0):
        super().__init__(resolution=resolution, width=width, max_width=max_width, norm=norm, c_dim=c_dim,
                         channels=channels, style_classes=style_classes)
        self.in_shape = (channels, resolution, resolution)
        self.c_dim = c_dim
        ch = lambda r: _channels(resolution, width, max_width, r)  # noqa: E731
        r = resolution // 2
        # No normalisation on the first layer (DCGAN sec. 3).
        layers: list[nn.Module] = [nn.Conv2d(channels, ch(r), 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        bias = norm != "batch"
        while r > 4:
            layers += [nn.Conv2d(ch(r), ch(r // 2), 4, 2, 1, bias=bias),
                       norm_2d("none" if norm == "spectral" else norm, ch(r // 2)),
                       nn.LeakyReLU(0.2, inplace=True)]
            r //= 2
        self.features = nn.Sequential(*layers)  # [N, ch(4), 4, 4]
        self.out = nn.Conv2d(ch(4), 1, 4, 1, 0)
        self.embed = nn.Linear(c_dim, ch(4), bias=False) if c_dim else None
        # Creative mode (CAN): a style classifier on the same features as the real/fake score.
        self.style_head = nn.Linear(ch(4) * 16, style_classes) if style_classes else None
        dcgan_init(self)
        if norm == "spectral":  # Miyato et al. 2018: every weight scaled to spectral norm 1
            for m in list(self.modules()):
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.utils.parametrizations.spectral_norm(m)

    def input_layers(self) -> list[nn.Module]:
        """Each strided conv with its normalisation, from the image side, then the output layers."""
        groups: list[nn.Module] = []
        for m in self.features:
            if isinstance(m, nn.Conv2d):
                groups.append(nn.ModuleList([m]))
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                groups[-1].append(m)
        return groups + [self.out] + [m for m in (self.embed, self.style_head) if m is not None]

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None, styles: bool = False):
        self.check_inputs(x, self.in_shape)
        h = self.features(x)  # [N, C4, 4, 4]
        return self.head_4x4(h, c, styles)
