"""A light few-shot GAN in the FastGAN family (Liu et al. 2021, "Towards Faster and Stabilized GAN
Training for High-fidelity Few-shot Image Synthesis"), any power-of-two resolution >= 16.

G: z (+ a one-hot class) -> 4x4 -> per resolution: nearest upsampling, two 3x3 convs with batch norm
and gated linear units (GLU), and noise. Skip-layer excitation (SLE) lets a coarse feature map gate
the channels of one 16 times finer (below 64 px: the 4x4 map gates the top resolution), so global
layout steers fine texture cheaply. D: "DownBlockComp" blocks (a strided conv path averaged with a
pooled 1x1 path) down to 4x4, a real/fake logit, a projection onto the class, and a small decoder
that reconstructs the real image (at up to 32 px) from D's 8x8 features: the self-supervised loss
that keeps D learning useful features on very few images. FastGAN uses LPIPS for it; without shipped
LPIPS weights ganvas uses the mean squared error.

Channels at spatial size r are width * resolution / r, capped at max_width (like the other models).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganvas.models.base import Discriminator, Generator
from ganvas.nn import GLU, glu


def _channels(resolution: int, width: int, max_width: int, r: int) -> int:
    return max(1, min(max_width, width * resolution // r))


class _GLUConv(nn.Module):
    """3x3 conv to 2C channels, (optional noise), batch norm, GLU -> C channels."""

    def __init__(self, cin: int, cout: int, noise: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, 2 * cout, 3, 1, 1, bias=False)
        self.noise_strength = nn.Parameter(torch.zeros([])) if noise else None
        self.norm = nn.BatchNorm2d(2 * cout)

    def forward(self, x: torch.Tensor, noise_gen: torch.Generator | None = None) -> torch.Tensor:
        x = self.conv(x)
        if self.noise_strength is not None and noise_gen is not None:
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], generator=noise_gen,
                                device=noise_gen.device).to(x, non_blocking=True)
            x = x + self.noise_strength * noise
        return glu(self.norm(x))


class _UpBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv0 = _GLUConv(cin, cout)
        self.conv1 = _GLUConv(cout, cout)

    def forward(self, x: torch.Tensor, noise_gen: torch.Generator | None) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv1(self.conv0(x, noise_gen), noise_gen)


class _SLE(nn.Module):
    """Skip-layer excitation: channel gates for a fine map from a coarse one (FastGAN eq. 1)."""

    def __init__(self, c_low: int, c_high: int):
        super().__init__()
        self.net = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Conv2d(c_low, c_high, 4, 1, 0, bias=False),
                                 nn.LeakyReLU(0.1), nn.Conv2d(c_high, c_high, 1, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        return high * self.net(low)  # [N, C_high, R, R] * [N, C_high, 1, 1]


def _sle_pairs(resolution: int) -> dict[int, int]:
    """Fine resolution -> the coarse one that gates it: r/16 from 64 px up (as FastGAN at 256 px: 4 -> 64,
    8 -> 128, 16 -> 256); below 64 px, the 4x4 map gates the top resolution."""
    pairs = {r: r // 16 for r in (2 ** i for i in range(6, int(math.log2(resolution)) + 1))}
    return pairs or {resolution: 4}


class FastGANGenerator(Generator):
    def __init__(self, z_dim: int = 128, resolution: int = 64, width: int = 16, max_width: int = 512,
                 c_dim: int = 0, channels: int = 3):
        super().__init__(z_dim=z_dim, resolution=resolution, width=width, max_width=max_width, c_dim=c_dim,
                         channels=channels)
        if resolution < 16 or resolution & (resolution - 1):
            raise ValueError(f"fastgan needs a power-of-two resolution >= 16, not {resolution}")
        self.z_dim, self.c_dim, self.out_shape = z_dim, c_dim, (channels, resolution, resolution)
        ch = lambda r: _channels(resolution, width, max_width, r)  # noqa: E731
        self.init = nn.Sequential(nn.ConvTranspose2d(z_dim + c_dim, 2 * ch(4), 4, 1, 0, bias=False),
                                  nn.BatchNorm2d(2 * ch(4)), GLU())  # [N, ch(4), 4, 4]
        self.resolutions = [2 ** i for i in range(3, int(math.log2(resolution)) + 1)]
        self.ups = nn.ModuleDict({str(r): _UpBlock(ch(r // 2), ch(r)) for r in self.resolutions})
        self.pairs = _sle_pairs(resolution)
        self.sle = nn.ModuleDict({str(hi): _SLE(ch(lo), ch(hi)) for hi, lo in self.pairs.items()})
        self.to_rgb = nn.Conv2d(ch(resolution), channels, 3, 1, 1)
        self.noise_gen: torch.Generator | None = None  # set by the training loop; None = no noise

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        self.check_inputs(z, c)
        x = torch.cat([z, c.to(z.dtype)], dim=1) if self.c_dim else z
        gen = self.noise_gen if self.training else None
        feats = {4: self.init(x[:, :, None, None])}
        for r in self.resolutions:
            h = self.ups[str(r)](feats[r // 2], gen)
            if r in self.pairs:
                h = self.sle[str(r)](feats[self.pairs[r]], h)
            feats[r] = h
        return torch.tanh(self.to_rgb(feats[self.resolutions[-1]]))  # [N, C, R, R] in [-1, 1]


class _DownBlock(nn.Module):
    """FastGAN's DownBlockComp: (strided conv path + pooled 1x1 path) / 2."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.main = nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2),
                                  nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout),
                                  nn.LeakyReLU(0.2))
        self.direct = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(cin, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout),
                                    nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.direct(x)) / 2


class FastGANDiscriminator(Discriminator):
    reconstructs = True  # the loop adds reconstruction_loss on real images

    def __init__(self, resolution: int = 64, width: int = 16, max_width: int = 512, c_dim: int = 0,
                 channels: int = 3, style_classes: int = 0):
        super().__init__(resolution=resolution, width=width, max_width=max_width, c_dim=c_dim, channels=channels,
                         style_classes=style_classes)
        self.in_shape = (channels, resolution, resolution)
        self.c_dim = c_dim
        ch = lambda r: _channels(resolution, width, max_width, r)  # noqa: E731
        self.from_rgb = nn.Sequential(nn.Conv2d(channels, ch(resolution), 3, 1, 1), nn.LeakyReLU(0.2))
        blocks, r = [], resolution
        while r > 8:
            blocks.append(_DownBlock(ch(r), ch(r // 2)))
            r //= 2
        self.to_8 = nn.Sequential(*blocks)  # [N, ch(8), 8, 8]
        self.to_4 = _DownBlock(ch(8), ch(4))
        self.out = nn.Conv2d(ch(4), 1, 4, 1, 0)
        self.embed = nn.Linear(c_dim, ch(4), bias=False) if c_dim else None
        self.style_head = nn.Linear(ch(4) * 16, style_classes) if style_classes else None
        # Decoder: 8x8 features -> an image of min(resolution, 32) px.
        self.recon_size = min(resolution, 32)
        dec: list[nn.Module] = []
        r, c_in = 8, ch(8)
        while r < self.recon_size:
            c_out = max(8, c_in // 2)
            dec += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, 2 * c_out, 3, 1, 1, bias=False),
                    nn.BatchNorm2d(2 * c_out), GLU()]
            r, c_in = 2 * r, c_out
        dec += [nn.Conv2d(c_in, channels, 3, 1, 1), nn.Tanh()]
        self.decoder = nn.Sequential(*dec)

    def input_layers(self) -> list[nn.Module]:
        return [self.from_rgb, *self.to_8, self.to_4, self.out] + [
            m for m in (self.embed, self.style_head) if m is not None]

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None, styles: bool = False):
        self.check_inputs(x, self.in_shape)
        h = self.to_4(self.to_8(self.from_rgb(x)))  # [N, C4, 4, 4]
        return self.head_4x4(h, c, styles)

    def reconstruction_loss(self, real_img: torch.Tensor) -> torch.Tensor:
        """Per-sample mean squared error [N] of the decoder's reconstruction of real images from D's 8x8
        features (FastGAN sec. 3.2; MSE stands in for LPIPS)."""
        recon = self.decoder(self.to_8(self.from_rgb(real_img)))  # [N, C, S, S]
        target = F.interpolate(real_img.detach().float(), size=self.recon_size, mode="area") \
            if real_img.shape[-1] != self.recon_size else real_img.detach().float()
        return (recon.float() - target).square().mean(dim=(1, 2, 3))  # (no flatten: it would copy to NCHW)
