"""Small layers shared by models."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def state_buffers(net: nn.Module) -> list[torch.Tensor]:
    """The buffers that hold state (the persistent ones: batch-norm statistics, w_avg, fixed noise), in
    `net.buffers()` order. Non-persistent buffers are constants built from the architecture (the resampling
    kernels), which the training loop need not copy or roll back."""
    return [b for m in net.modules() for name, b in m._buffers.items()
            if b is not None and name not in m._non_persistent_buffers_set]


class PixelNorm(nn.Module):
    """Normalise each pixel's feature vector to unit RMS (Karras et al. 2018, eq. 2). Batch-independent."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + self.eps)


# Kernel taps of a 4x4, stride-2, padding-1 transposed convolution that reach output phase p (row or column
# parity) from the input at offset a (0: one before, 1: the same position), after padding the input by one:
# tap = p + 2 - 2a. Used by `conv_transpose_subpixel`.
_SUBPIXEL_TAPS = torch.tensor([[2, 0], [3, 1]])
_SUBPIXEL_INDEX = (_SUBPIXEL_TAPS[:, :, None, None] * 4 + _SUBPIXEL_TAPS[None, None, :, :]).flatten()  # (p,a,q,b)


def conv_transpose_subpixel(x: torch.Tensor, layer: nn.ConvTranspose2d) -> torch.Tensor:
    """`layer(x)` for a ConvTranspose2d(C, O, 4, stride 2, padding 1), computed as a 2x2 convolution to 4*O
    channels (one per output phase) followed by a pixel shuffle, then a one-pixel crop: the same sums.

    Each output pixel of the transposed convolution sees a 2x2 window of the input; which four of the 16 taps
    it uses depends only on its row and column parity. With few output channels (an RGB layer) CPU kernels
    handle the 2x2 convolution to 4*O channels about twice as fast as the transposed one (forward).
    """
    if (layer.kernel_size, layer.stride, layer.padding, layer.output_padding, layer.dilation, layer.groups) != \
            ((4, 4), (2, 2), (1, 1), (0, 0), (1, 1), 1):
        raise ValueError(f"conv_transpose_subpixel computes 4x4, stride-2, padding-1 transposed convolutions, "
                         f"not {layer}")
    w = layer.weight  # [C, O, 4, 4]
    c, o = w.shape[:2]
    index = _SUBPIXEL_INDEX.to(w.device)
    w4 = w.reshape(c, o, 16).index_select(2, index).view(c, o, 2, 2, 2, 2)  # [C, O, p, a, q, b]
    w4 = w4.permute(1, 2, 4, 0, 3, 5).reshape(o * 4, c, 2, 2)  # output channel o*4 + p*2 + q
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        w4 = w4.contiguous(memory_format=torch.channels_last)
    bias = layer.bias.repeat_interleave(4) if layer.bias is not None else None
    y = F.pixel_shuffle(F.conv2d(x, w4.to(x.dtype), None if bias is None else bias.to(x.dtype), padding=1), 2)
    return y[:, :, 1:-1, 1:-1]  # [N, O, 2H, 2W]


class _GLU(torch.autograd.Function):
    """The gated linear unit over channels, a * sigmoid(b) for x = [a, b], with a backward that keeps x's
    memory layout: torch's own GLU backward returns NCHW gradients for channels_last inputs, which the batch
    norm and convolution before it then took in their slow mixed-layout paths. The backward is made of
    differentiable ops on the saved input, so a double backward (R1 through D) is exact."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        a, b = x.chunk(2, dim=1)
        return a * torch.sigmoid(b)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        a, b = x.chunk(2, dim=1)
        s = torch.sigmoid(b)
        if torch.is_grad_enabled():  # a graph of the gradient is wanted (R1): differentiable ops
            grad_a = grad * s
            return torch.cat([grad_a, grad_a * a * (1 - s)], dim=1)  # d(a s)/db = a s (1 - s)
        # Otherwise both halves are written straight into the result: no concatenation, no temporaries.
        out = torch.empty_like(x)
        grad_a, grad_b = out.chunk(2, dim=1)
        torch.mul(grad, s, out=grad_a)
        torch.mul(grad_a, a, out=grad_b)
        grad_b.addcmul_(grad_b, s, value=-1)  # grad_a a (1 - s)
        return out


def glu(x: torch.Tensor) -> torch.Tensor:
    """F.glu(x, dim=1) ([N, 2C, ...] -> [N, C, ...]), whose gradient keeps x's memory layout."""
    if x.shape[1] % 2:
        raise ValueError(f"glu needs an even number of channels, got {x.shape[1]}")
    return _GLU.apply(x)


class GLU(nn.Module):
    """`glu` as a layer, for nn.Sequential."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return glu(x)


def norm_2d(kind: str, channels: int) -> nn.Module:
    """batch | pixel | layer (per-sample over C,H,W) | none."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "pixel":
        return PixelNorm()
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown normalisation {kind!r}")


def dcgan_init(module: nn.Module) -> None:
    """Weights ~ N(0, 0.02), norm gains ~ N(1, 0.02), biases 0 (Radford et al. 2016, sec. 4)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
