"""2-D toy distributions for stability work (PacGAN / VEEGAN protocol).

ring8: 8 Gaussians with means (cos 2*pi*i/8, sin 2*pi*i/8), std 0.01 (note: i/8 for i in 0..7, not
linspace(0, 2*pi, 8), which would duplicate a mode). grid25: 25 Gaussians on {-4,-2,0,2,4}^2, std 0.05.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ganvas.errors import ConfigError


@dataclass(frozen=True)
class PointDistribution:
    """A mixture of equal-weight isotropic Gaussians in 2-D."""

    name: str
    means: torch.Tensor  # [K, 2]
    std: float

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """[n, 2] float32 samples, drawn only from `generator`."""
        k = torch.randint(len(self.means), (n,), generator=generator)
        return self.means[k] + self.std * torch.randn(n, 2, generator=generator)

    def __len__(self) -> int:  # an endless distribution; len is only used for reporting
        return 0

    @property
    def num_modes(self) -> int:
        return len(self.means)


def ring8() -> PointDistribution:
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    means = torch.stack([angles.cos(), angles.sin()], dim=1).float()
    return PointDistribution("ring8", means, 0.01)


def grid25() -> PointDistribution:
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    means = torch.cartesian_prod(axis, axis)
    return PointDistribution("grid25", means, 0.05)


TOY_SETS = {"ring8": ring8, "grid25": grid25}


def load_toy(name: str) -> PointDistribution:
    if name not in TOY_SETS:
        raise ConfigError(f"unknown 2-D set {name!r}; choose one of: {', '.join(TOY_SETS)}")
    return TOY_SETS[name]()
