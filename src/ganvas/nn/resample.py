"""2x resampling for the style-based networks: torch's ops, or the same function as depthwise convolutions.

`model.resample` picks one for G's upsampling convolutions and D's pooling: "torch" (the default) uses
`F.interpolate` and `F.avg_pool2d` (with its own backward, see `_AvgPool2xFunction`); "conv" uses

- `Upsample2x`, bilinear upsampling by 2 with align_corners=False: each output pixel is 3/4 of its nearest
  input pixel plus 1/4 of the next one in each direction, edges clamped. That is a transposed convolution,
  stride 2, with the separable kernel [1, 3, 3, 1] / 4 in each direction, on the input padded by one
  replicated pixel (output index t reads padded index (t + 3) / 2 and its neighbour, hence the transposed
  convolution's padding of 3);
- `Downsample2x`, 2x2 average pooling: a stride-2 convolution with a 2x2 kernel of 1/4s.

Both give the same values to float rounding. Why "conv" exists: on an H200, torch's bilinear kernel and the
average-pool backward took 26% and 15% of a 256 px bf16 training step, the convolutions 13%. Part of the
first was G's own doing, since fixed: its feature maps reached the upsampler in NCHW during training (see
`ganvas.nn.style.ModulatedConv2d`), and torch's CUDA kernel for NCHW input runs one thread per output pixel
over every sample and channel; channels_last input (16 channels or more) gets a kernel with a thread per
value. CUDA autocast still runs the upsampling in fp32 (two full-size casts), which "conv" avoids. Whether
the convolution kernels do better there is for the GPU suite's `resample-sg256p` step and a
`--set model.resample=conv` training run to show; until measured, "torch" stays the default. On a 2-core
CPU in fp32 at the 64 px preset's shapes (`benchmarks/resample_kernels.py --dtype fp32`;
`benchmarks/results/2026-11-30-cpu2-resample-kernels-fp32.json`), forward plus backward of "conv" took
0.56x the time of `F.interpolate` and 0.19x of `F.avg_pool2d`, but a whole training step spends only
about 3% there and ran at the same speed (27.6 img/s against 27.5-27.8, alternated).

G's RGB skip image always uses `F.interpolate` in float32: a convolution there could run in TF32 on a GPU.
The convolution kernels are non-persistent buffers: they follow the module to its device and memory
format, are not part of a checkpoint, and either setting loads the other's weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_BILINEAR_TAPS = (0.25, 0.75, 0.75, 0.25)  # [1, 3, 3, 1] / 4


class Upsample2x(nn.Module):
    """[N, C, H, W] -> [N, C, 2H, 2W], bilinear (align_corners=False)."""

    def __init__(self, channels: int):
        super().__init__()
        taps = torch.tensor(_BILINEAR_TAPS)
        kernel = (taps[:, None] * taps[None, :]).expand(channels, 1, 4, 4).contiguous()
        self.register_buffer("kernel", kernel, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x, (1, 1, 1, 1), mode="replicate")  # (under autocast the convolution casts both alike)
        return F.conv_transpose2d(padded, self.kernel.to(x.dtype), stride=2, padding=3, groups=len(self.kernel))


class Downsample2x(nn.Module):
    """[N, C, H, W] -> [N, C, H/2, W/2], the mean of each 2x2 block."""

    def __init__(self, channels: int):
        super().__init__()
        self.register_buffer("kernel", torch.full((channels, 1, 2, 2), 0.25), persistent=False)  # [C, 1, 2, 2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.kernel.to(x.dtype), stride=2, groups=len(self.kernel))


class _Interpolate2x(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class _AvgPool2xFunction(torch.autograd.Function):
    """F.avg_pool2d(x, 2) for even sizes, whose backward is a nearest-neighbour 2x upsampling of grad / 4: the
    same values, in grad's memory layout at every order. torch's own backward is right too, but its
    derivative (the second order that R1 takes through D) starts from an NCHW tensor of zeros, which turned
    every later gradient of a channels_last D into NCHW, convolutions included."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        # In grad's dtype even under autocast (R1's first backward runs inside it, and CUDA autocast would run
        # the upsampling in fp32): a copy of grad / 4, exact in any dtype.
        with torch.autocast(grad.device.type, enabled=False):
            return F.interpolate(grad * 0.25, scale_factor=2, mode="nearest")


class _AvgPool2x(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 2 or x.shape[-2] % 2:  # (pooling drops the odd row or column)
            return F.avg_pool2d(x, 2)
        return _AvgPool2xFunction.apply(x)


def upsampler(channels: int, kind: str = "torch") -> nn.Module:
    """Bilinear 2x upsampling: "torch" is `F.interpolate`, "conv" is `Upsample2x` (model.resample)."""
    return Upsample2x(channels) if kind == "conv" else _Interpolate2x()


def downsampler(channels: int, kind: str = "torch") -> nn.Module:
    """2x2 average pooling: "torch" is `F.avg_pool2d`, "conv" is `Downsample2x` (model.resample)."""
    return Downsample2x(channels) if kind == "conv" else _AvgPool2x()
