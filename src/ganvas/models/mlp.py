"""An MLP pair for 2-D point data (ring8, grid25): the standard setting of mode-collapse studies."""

from __future__ import annotations

import torch
from torch import nn

from ganvas.models.base import Discriminator, Generator


class MLPGenerator(Generator):
    def __init__(self, z_dim: int = 128, hidden: int = 256, depth: int = 3, dims: int = 2, c_dim: int = 0,
                 scale: float = 1.0):
        super().__init__(z_dim=z_dim, hidden=hidden, depth=depth, dims=dims, c_dim=c_dim, scale=scale)
        self.z_dim, self.c_dim, self.out_shape, self.scale = z_dim, c_dim, (dims,), scale
        layers: list[nn.Module] = []
        d_in = z_dim + c_dim
        for _ in range(depth):
            layers += [nn.Linear(d_in, hidden), nn.ReLU(inplace=True)]
            d_in = hidden
        layers.append(nn.Linear(d_in, dims))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        self.check_inputs(z, c)
        x = self.net(torch.cat([z, c.to(z.dtype)], dim=1) if self.c_dim else z)  # [N, dims], unit scale
        return x * self.scale if self.scale != 1.0 else x


class MLPDiscriminator(Discriminator):
    per_sample = True  # no normalisation layers

    def __init__(self, hidden: int = 256, depth: int = 3, dims: int = 2, c_dim: int = 0, scale: float = 1.0):
        super().__init__(hidden=hidden, depth=depth, dims=dims, c_dim=c_dim, scale=scale)
        self.dims, self.c_dim, self.scale = dims, c_dim, scale
        layers: list[nn.Module] = []
        d_in = dims + c_dim
        for _ in range(depth):
            layers += [nn.Linear(d_in, hidden), nn.LeakyReLU(0.2, inplace=True)]
            d_in = hidden
        layers.append(nn.Linear(d_in, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        self.check_inputs(x, (self.dims,))
        if self.scale != 1.0:
            x = x / self.scale  # unit scale (R1 is still taken on the points as given)
        return self.net(torch.cat([x, c.to(x.dtype)], dim=1) if self.c_dim else x).flatten()  # [N]
