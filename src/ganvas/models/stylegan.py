"""A style-based G and a residual D in the StyleGAN2 family (Karras et al. 2020), sized for CPUs and GPUs.

G = synthesis(mapping(z, c)):
- mapping: normalised z (and an embedded, normalised class c) -> `map_layers` equalised-lr layers with
  lr multiplier 0.01 -> w. G keeps a running mean `w_avg` of w for truncation.
- synthesis: a learned 4x4 constant, then per resolution an upsampling modulated conv and a modulated
  conv, each with a noise input; every resolution adds its RGB output to the upsampled image so far
  ("skip" architecture). Every conv reads its own w from ws [N, num_ws, w_dim], which is what makes
  style mixing (different w per layer) and truncation with a layer cutoff possible.
D: residual blocks (two 3x3 convs + a 1x1 skip, averaged with 1/sqrt(2)), a minibatch-stddev channel,
and a projection onto an embedded class for conditional training (as StyleGAN2-ADA).

Channels at spatial size r are width * resolution / r, capped at max_width (like dcgan). Differences
from the reference, for speed without custom ops: bilinear up/downsampling instead of FIR filters, and
no path-length regulariser. Outputs are unbounded while training (as in StyleGAN2) and clamped to
[-1, 1] in eval mode.
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from torch import nn

from ganvas.models.base import Discriminator, Generator
from ganvas.nn.resample import downsampler
from ganvas.nn.style import SQRT2, EqualConv2d, EqualLinear, SynthesisLayer, ToRGB, minibatch_stddev


def _channels(resolution: int, width: int, max_width: int, r: int) -> int:
    return max(1, min(max_width, width * resolution // r))


def _normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


def _carry_over(mine: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> tuple[dict, list[str]]:
    """`mine` with every tensor of `theirs` (already renamed to my keys) that this network has; the keys
    that stay fresh. A shared key whose shape differs means the widths differ."""
    for k, v in theirs.items():
        if k in mine and tuple(v.shape) != tuple(mine[k].shape):
            raise ValueError(f"{k} is {tuple(v.shape)} there and {tuple(mine[k].shape)} here: the channels at each "
                             f"size must match, so keep model.width x resolution the same as the other run's (the "
                             f"auto preset does from 64 px up)")
    state = dict(mine)
    state.update({k: v for k, v in theirs.items() if k in mine})
    return state, [k for k in mine if k not in theirs]


def _layer_names(keys: list[str]) -> list[str]:
    """What the keys of fresh tensors amount to, in order: 'blocks.0.conv0.weight' -> 'blocks.0' (a whole block
    below 'synthesis'), 'from_rgb.bias' -> 'from_rgb'; new noise inputs (their strengths start at 0) as one
    entry, 'noise inputs'."""
    names: list[str] = []
    noise = False
    for k in keys:
        parts = k.split(".")
        if parts[-1] in ("noise_strength", "noise_const"):
            noise = True
            continue
        depth = next((i + 2 for i, p in enumerate(parts) if p == "blocks"), 1)
        if ".".join(parts[:depth]) not in names:
            names.append(".".join(parts[:depth]))
    return names + (["noise inputs"] if noise else [])


def _num_blocks(state: dict[str, torch.Tensor], prefix: str) -> int:
    found = [int(m[1]) for k in state if (m := re.match(re.escape(prefix) + r"(\d+)\.", k))]
    return max(found) + 1 if found else 0


class MappingNetwork(nn.Module):
    """z [N, z_dim] (+ c [N, c_dim]) -> w [N, w_dim]; tracks w_avg while training."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_layers: int, w_avg_beta: float = 0.995):
        super().__init__()
        self.embed = EqualLinear(c_dim, w_dim) if c_dim else None
        dims = [z_dim + (w_dim if c_dim else 0)] + [w_dim] * num_layers
        self.layers = nn.Sequential(*[EqualLinear(a, b, lr_mul=0.01, activation=True)
                                      for a, b in zip(dims[:-1], dims[1:])])
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.w_avg_beta = w_avg_beta

    def forward(self, z: torch.Tensor, c: torch.Tensor | None, update_w_avg: bool = True) -> torch.Tensor:
        x = _normalize_2nd_moment(z.float())
        if self.embed is not None:
            x = torch.cat([x, _normalize_2nd_moment(self.embed(c.float()))], dim=1)
        w = self.layers(x).float()  # [N, w_dim]
        if self.training and update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        return w


class SynthesisBlock(nn.Module):
    """One resolution: [upsampling conv], conv, and the RGB skip output. Reads num_conv + 1 ws."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 noise: bool = True, resample: str = "torch"):
        super().__init__()
        self.first = in_channels == 0
        if self.first:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True, noise=noise,
                                        resample=resample)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, noise=noise)
        self.torgb = ToRGB(out_channels, img_channels, w_dim)
        self.num_conv = 1 if self.first else 2

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor,
                noise_gen: torch.Generator | None, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        # ws: [N, num_conv + 1, w_dim]
        # Synthesis layers return leaky ReLU without its sqrt(2) gain; the next modulated conv applies it.
        if self.first:
            x = self.const.to(dtype)[None].expand(ws.shape[0], -1, -1, -1)  # [N, C, 4, 4]
            x = self.conv1(x, ws[:, 0], noise_gen)  # [N, C, R, R]
        else:
            x = self.conv0(x, ws[:, 0], noise_gen, in_gain=SQRT2)
            x = self.conv1(x, ws[:, 1], noise_gen, in_gain=SQRT2)  # [N, C, R, R]
        y = self.torgb(x, ws[:, self.num_conv], in_gain=SQRT2).float()  # [N, 3, R, R]
        if img is not None:
            # torch's bilinear kernel in float32 whatever model.resample says: the skip outputs add up in full
            # precision (a convolution could run in TF32 on a GPU).
            y = y + F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False)
        return x, y


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> images [N, C, R, R]."""

    def __init__(self, w_dim: int, resolution: int, width: int, max_width: int, img_channels: int,
                 noise: bool = True, resample: str = "torch"):
        super().__init__()
        ch = lambda r: _channels(resolution, width, max_width, r)  # noqa: E731
        self.resolutions = [2 ** i for i in range(2, int(math.log2(resolution)) + 1)]
        self.blocks = nn.ModuleList()
        for r in self.resolutions:
            self.blocks.append(SynthesisBlock(0 if r == 4 else ch(r // 2), ch(r), w_dim, r, img_channels, noise,
                                              resample))
        # Block b reads ws[start_b : start_b + num_conv + 1]: its RGB layer shares a w with the next block's first conv.
        self.starts = []
        start = 0
        for block in self.blocks:
            self.starts.append(start)
            start += block.num_conv
        self.num_ws = start + 1

    def forward(self, ws: torch.Tensor, noise_gen: torch.Generator | None = None,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
        x = img = None
        for start, block in zip(self.starts, self.blocks):
            x, img = block(x, img, ws[:, start: start + block.num_conv + 1], noise_gen, dtype)
        return img


class StyleGenerator(Generator):
    """G(z, c) = synthesis(mapping(z, c)), with truncation and per-layer w for style mixing."""

    def __init__(self, z_dim: int = 128, w_dim: int = 256, map_layers: int = 2, resolution: int = 64,
                 width: int = 32, max_width: int = 256, c_dim: int = 0, channels: int = 3,
                 mixing_prob: float = 0.9, noise: bool = True, resample: str = "torch"):
        super().__init__(z_dim=z_dim, w_dim=w_dim, map_layers=map_layers, resolution=resolution, width=width,
                         max_width=max_width, c_dim=c_dim, channels=channels, mixing_prob=mixing_prob,
                         noise=noise, resample=resample)
        if resolution < 4 or resolution & (resolution - 1):
            raise ValueError(f"the style-based model needs a power-of-two resolution >= 4, not {resolution}")
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.out_shape = (channels, resolution, resolution)
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, map_layers)
        self.synthesis = SynthesisNetwork(w_dim, resolution, width, max_width, channels, noise, resample)
        self.num_ws = self.synthesis.num_ws
        self.mixing_prob = mixing_prob
        # Set by the training loop before each training forward pass: noise inputs and style-mixing draws
        # come from it. None (the default, and always in eval mode) means fixed noise and no mixing.
        self.noise_gen: torch.Generator | None = None

    def map(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
            truncation_cutoff: int | None = None, update_w_avg: bool = True) -> torch.Tensor:
        """ws [N, num_ws, w_dim]; truncation pulls w toward w_avg by psi in the first `cutoff` layers."""
        self.check_inputs(z, c)
        w = self.mapping(z, c, update_w_avg)  # [N, w_dim]
        ws = w[:, None].repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            cutoff = self.num_ws if truncation_cutoff is None else truncation_cutoff
            ws[:, :cutoff] = self.mapping.w_avg.lerp(ws[:, :cutoff], truncation_psi)
        return ws

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, mix: tuple | None | bool = True) -> torch.Tensor:
        """`mix`: style mixing while training with a `noise_gen`. True draws it here (`draw_mixing`); the
        training loop draws it outside instead and passes (z2, cutoff) or None, so that a compiled G sees
        tensors only (no host-side random draws to break the graph, no cutoff value to specialise on)."""
        ws = self.map(z, c, truncation_psi, truncation_cutoff)
        gen = self.noise_gen if self.training else None
        if mix is True:
            mix = self.draw_mixing(z, gen)
        if mix:  # from layer `cutoff` on, the w of another z
            z2, cutoff = mix
            cutoff = cutoff.to(ws.device, non_blocking=True)
            later = (torch.arange(self.num_ws, device=ws.device) >= cutoff)[None, :, None]
            ws = torch.where(later, self.map(z2, c, update_w_avg=False), ws)
        return self.render(ws, gen)

    def draw_mixing(self, z: torch.Tensor, gen: torch.Generator | None,
                    z_gen: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Style-mixing regularisation (StyleGAN sec. 3.1): with probability mixing_prob, (another z [N, z_dim],
        the first layer to take its w, a 0-d tensor); None otherwise or without a generator. The decision
        and the layer come from `gen`, which should be a CPU generator (they are read on the host); the
        other z from `z_gen` (default `gen`), which may live on z's device."""
        if gen is None or not self.training or self.mixing_prob <= 0:
            return None
        if torch.rand([], generator=gen).item() >= self.mixing_prob:
            return None
        cutoff = torch.randint(1, self.num_ws, [], generator=gen)
        z_gen = z_gen or gen
        return torch.randn(z.shape, generator=z_gen, device=z_gen.device).to(z, non_blocking=True), cutoff

    def state_at_my_resolution(self, theirs: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
        """Blocks are numbered from 4 px up, so every block keeps its name at any resolution. A larger G takes
        all of a smaller one's layers and adds blocks on top whose RGB outputs start at zero: it first draws
        the smaller model's images, upsampled. A smaller G keeps the lower blocks: it draws the larger
        model's image as it stands at this size in the skip sum."""
        if _num_blocks(theirs, "synthesis.blocks.") == len(self.synthesis.blocks):
            raise ValueError("both are at the same resolution, so something else differs")
        state, new = _carry_over(self.state_dict(), theirs)
        for k in new:
            if re.fullmatch(r"synthesis\.blocks\.\d+\.torgb\.(conv\.weight|bias)", k):
                state[k] = torch.zeros_like(state[k])
        return state, _layer_names(new)

    def render(self, ws: torch.Tensor, noise_gen: torch.Generator | None = None) -> torch.Tensor:
        """Images from per-layer styles ws [N, num_ws, w_dim]: the entry point for style mixing."""
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must be [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        dtype = torch.get_autocast_dtype(ws.device.type) if torch.is_autocast_enabled(ws.device.type) \
            else torch.float32
        img = self.synthesis(ws, noise_gen, dtype)  # [N, C, R, R] float32
        return img if self.training else img.clamp(-1, 1)


class DBlock(nn.Module):
    """Residual D block at resolution r: 3x3 conv, 2x average pool, 3x3 conv; 1x1 skip; sum / sqrt(2).

    StyleGAN2's block computes (skip(down x) + g lrelu(conv1(pool(g lrelu(conv0(x)))))) / g with
    g = sqrt(2). Here the gains sit in the weight scales instead (conv1's in_gain g, the skip's 1/g, the
    final g / g = 1), which is the same function without three elementwise passes. `in_gain` is the
    gain x still owes (sqrt(2) after fromRGB, whose activation leaves it off).
    """

    def __init__(self, in_channels: int, out_channels: int, in_gain: float = 1.0, resample: str = "torch"):
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3, activation=True, in_gain=in_gain, act_gain=False)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3, activation=True, in_gain=SQRT2, act_gain=False)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False, in_gain=in_gain / SQRT2)
        self.down = downsampler(in_channels, resample)  # 2x2 average pooling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        down = self.down(x)  # [N, C_in, R/2, R/2]
        y = self.conv1(self.down(self.conv0(x)))  # convolving after pooling: a quarter of the FLOPs
        return self.skip(down) + y  # [N, C_out, R/2, R/2]


class StyleDiscriminator(Discriminator):
    def __init__(self, resolution: int = 64, width: int = 32, max_width: int = 256, c_dim: int = 0,
                 channels: int = 3, mbstd_group: int = 4, style_classes: int = 0, resample: str = "torch"):
        super().__init__(resolution=resolution, width=width, max_width=max_width, c_dim=c_dim, channels=channels,
                         mbstd_group=mbstd_group, style_classes=style_classes, resample=resample)
        self.in_shape = (channels, resolution, resolution)
        self.c_dim, self.mbstd_group = c_dim, mbstd_group
        ch = lambda r: _channels(resolution, width, max_width, r)  # noqa: E731
        # Activations leave StyleGAN's sqrt(2) gain to the next layer's weight scale (see DBlock).
        deferred = resolution > 4  # (at 4 px fromRGB feeds the epilogue directly and keeps its gain)
        self.from_rgb = EqualConv2d(channels, ch(resolution), 1, activation=True, act_gain=not deferred)
        blocks, r = [], resolution
        while r > 4:
            blocks.append(DBlock(ch(r), ch(r // 2), in_gain=SQRT2 if not blocks else 1.0, resample=resample))
            r //= 2
        self.blocks = nn.Sequential(*blocks)
        c4 = ch(4)
        self.conv = EqualConv2d(c4 + 1, c4, 3, activation=True, act_gain=False)
        self.fc = EqualLinear(c4 * 16, c4, activation=True, in_gain=SQRT2, act_gain=False)
        self.cmap_dim = c4 if c_dim else 1
        self.out = EqualLinear(c4, self.cmap_dim, in_gain=SQRT2)
        self.embed = EqualLinear(c_dim, self.cmap_dim) if c_dim else None
        # Creative mode (CAN): a style classifier on the same features as the real/fake score.
        self.style_head = EqualLinear(c4, style_classes, in_gain=SQRT2) if style_classes else None

    def state_at_my_resolution(self, theirs: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
        """Blocks are numbered from the top resolution down: block i of a D with k more blocks than the other
        is the other's block i - k. fromRGB reads the image at the top resolution, so it starts fresh, as do
        the blocks above the other's resolution; the blocks below it and the 4x4 epilogue carry over."""
        shift = len(self.blocks) - _num_blocks(theirs, "blocks.")
        if shift == 0:
            raise ValueError("both are at the same resolution, so something else differs")
        renamed = {}
        for k, v in theirs.items():
            if k.startswith("from_rgb."):
                continue
            if m := re.match(r"blocks\.(\d+)\.(.*)", k):
                if int(m[1]) + shift < 0:
                    continue  # a block above this D's resolution
                k = f"blocks.{int(m[1]) + shift}.{m[2]}"
            renamed[k] = v
        state, new = _carry_over(self.state_dict(), renamed)
        return state, _layer_names(new)

    def input_layers(self) -> list[nn.Module]:
        """fromRGB, each resolution's block from the top, then the 4x4 epilogue's layers."""
        return [self.from_rgb, *self.blocks, self.conv, self.fc, self.out] + [
            m for m in (self.embed, self.style_head) if m is not None]

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None, styles: bool = False):
        self.check_inputs(x, self.in_shape)
        h = self.blocks(self.from_rgb(x))  # [N, C4, 4, 4]
        h = self.conv(minibatch_stddev(h, self.mbstd_group))
        feats = self.fc(h.flatten(1))  # [N, C4]
        h = self.out(feats)  # [N, cmap_dim]
        if self.embed is None:
            logits = h.float().flatten()  # [N]
        elif c is None:
            raise ValueError(f"this discriminator is conditional: c must be [N, {self.c_dim}]")
        else:
            # Projection (Miyato & Koyama 2018) onto the embedded class, normalised as in StyleGAN2-ADA.
            cmap = self.embed(c.to(h.dtype))
            logits = ((h * cmap).sum(dim=1) / math.sqrt(self.cmap_dim)).float()  # [N]
        if styles:
            return logits, self.style_logits(feats)
        return logits
