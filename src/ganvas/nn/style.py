"""Layers of style-based networks (Karras et al. 2019 "StyleGAN", 2020 "StyleGAN2"), in plain PyTorch.

- Equalised learning rate: weights are stored as N(0, 1) and scaled by 1/sqrt(fan_in) at run time, so
  Adam's per-parameter step is the same relative size for every layer (Karras et al. 2018, sec. 4.1).
- Modulated convolution (StyleGAN2, eq. 1-3): the style s scales the input channels, and demodulation
  rescales each output channel by 1/sqrt(sum_i (w_oi * s_i)^2). We compute it as scale -> shared
  convolution -> rescale, which StyleGAN2 (sec. 2.2, and its "non-fused" code path) shows is the same
  function as convolving with a per-sample weight. It needs only ordinary convolutions, so it runs at
  full speed with oneDNN on CPUs and cuDNN on GPUs, with no custom ops and no grouped convolutions.
- Noise inputs are drawn from an explicit `torch.Generator` during training and are fixed buffers
  otherwise, so a seed always gives the same image.
- Without autograd (generation) the demodulation, bias, noise and activation write into the convolution's
  output instead of new tensors: the same values (bit for bit), 1.10x to 1.18x the images per second of
  the 64 px preset on a 2-core CPU (six alternated pairs), as big fresh buffers cost page faults there.
  With autograd, the noise and bias are added without forming their full-size sum, so a layer's output
  keeps the convolution's memory layout: a channels_last model stays channels_last through training.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganvas.nn.resample import upsampler

SQRT2 = math.sqrt(2.0)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU(0.2) with gain sqrt(2), which keeps activations at unit variance (StyleGAN)."""
    return F.leaky_relu(x, 0.2) * SQRT2


# Both equalised layers take `in_gain`, a constant folded into the weight scale, and `act_gain`: False
# leaves the sqrt(2) off the activation for the next layer's in_gain to apply. The function is the same;
# a full-size elementwise multiply per layer (forward and backward) is saved.

class EqualLinear(nn.Module):
    """A linear layer with equalised learning rate; `lr_mul` slows it (0.01 in the mapping network)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, bias_init: float = 0.0,
                 lr_mul: float = 1.0, activation: bool = False, in_gain: float = 1.0, act_gain: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init) / lr_mul)) if bias else None
        self.weight_gain = in_gain * lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul
        self.activation, self.act_gain = activation, act_gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.lr_mul if self.bias is not None else None
        x = F.linear(x, self.weight * self.weight_gain, bias)
        if not self.activation:
            return x
        return lrelu(x) if self.act_gain else F.leaky_relu(x, 0.2)


class EqualConv2d(nn.Module):
    """A k x k convolution with equalised learning rate and 'same' padding."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, bias: bool = True,
                 activation: bool = False, in_gain: float = 1.0, act_gain: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = in_gain / math.sqrt(in_channels * kernel * kernel)
        self.padding = kernel // 2
        self.activation, self.act_gain = activation, act_gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.padding)
        if not self.activation:
            return x
        return lrelu(x) if self.act_gain else F.leaky_relu(x, 0.2)


class ModulatedConv2d(nn.Module):
    """Style-modulated k x k convolution, optionally demodulated, optionally upsampling x2 first.

    forward(x [N, C_in, H, W], w [N, w_dim]) -> [N, C_out, H', W'] (H' = 2H with `up`).
    `in_gain` scales x for free inside the modulation (the sqrt(2) of the previous leaky ReLU, see
    SynthesisLayer). `noise` [N or 1, 1, H', W'] and `bias` [C_out] are added to the (demodulated) output
    without ever forming their full-size sum: the output keeps the convolution's memory layout (a full-size
    NCHW addend would turn a channels_last output back into NCHW, and every later op with it).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, w_dim: int, demodulate: bool = True,
                 up: bool = False, resample: str = "torch"):
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)  # styles start at 1: plain convolution
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel * kernel)
        self.padding = kernel // 2
        self.demodulate = demodulate
        self.up = upsampler(in_channels, resample) if up else None  # bilinear 2x before the convolution

    def forward(self, x: torch.Tensor, w: torch.Tensor, in_gain: float = 1.0, noise: torch.Tensor | None = None,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        styles = self.affine(w)  # [N, C_in]
        weight = self.weight * self.weight_gain  # [C_out, C_in, k, k]
        x = x * (styles * in_gain)[:, :, None, None].to(x.dtype)  # modulation, before upsampling: 4x fewer multiplies
        if self.up is not None:
            x = self.up(x)
        x = F.conv2d(x, weight.to(x.dtype), padding=self.padding)  # a fresh tensor: later ops may write into it
        add, bias = _addends(x, noise, bias)
        grad = torch.is_grad_enabled()
        if self.demodulate:  # eq. 3: sigma_o = sqrt(sum_{i,k} (s_i w_oik)^2), per sample
            sigma_inv = torch.rsqrt(styles.float().square() @ weight.float().square().sum(dim=(2, 3)).T + 1e-8)
            sigma_inv = sigma_inv[:, :, None, None].to(x.dtype)  # [N, C_out, 1, 1]
            # Without autograd into x; with it into a new tensor, as the product's backward needs x.
            if add is None:
                x = x * sigma_inv if grad else x.mul_(sigma_inv)
            else:
                x = torch.addcmul(add, x, sigma_inv) if grad else torch.addcmul(add, x, sigma_inv, out=x)
        elif add is not None:
            x = x.add_(add)  # (the convolution's backward does not need its output)
        return x if bias is None else x.add_(bias)  # [N, C_out, H', W']


def _addends(x: torch.Tensor, noise: torch.Tensor | None,
             bias: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """What to add to a modulated convolution's output x: (an addend for the same pass as the demodulation,
    a bias to add after it, or None). The noise and bias are summed first only if the sum does not grow with
    the batch (no noise, or one noise map for all samples as when generating), in x's memory layout; noise
    per sample [N, 1, H, W] goes alone, and the bias after it."""
    b = None if bias is None else bias.to(x.dtype)[None, :, None, None]  # [1, C, 1, 1]
    if b is None or (noise is not None and noise.shape[0] != 1):
        return noise, b
    if noise is None:
        return b, None
    layout = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    return (noise + b).contiguous(memory_format=layout), None  # [1, C, H, W]


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv + per-pixel noise (learned strength; `noise=False`: none) + bias + leaky ReLU.

    The output is lrelu(x) WITHOUT StyleGAN's sqrt(2) gain: every consumer is a modulated convolution,
    which applies the gain inside its style multiply (`in_gain`), so the same function costs one
    full-size multiply less per layer (forward and backward).
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False,
                 noise: bool = True, resample: str = "torch"):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, up=up, resample=resample)
        self.noise = noise
        if noise:
            self.noise_strength = nn.Parameter(torch.zeros([]))
            # The fixed noise used outside training (StyleGAN's noise_mode="const"), from a fixed seed.
            g = torch.Generator().manual_seed(resolution * 1000 + out_channels)
            self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution, generator=g))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.resolution = resolution

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_gen: torch.Generator | None = None,
                in_gain: float = 1.0) -> torch.Tensor:
        dtype = x.dtype
        noise = None
        if self.noise:
            if noise_gen is not None:
                # Drawn where the generator lives: the training device's own (no host-to-device copy).
                noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution, generator=noise_gen,
                                    device=noise_gen.device)
                noise = noise.to(device=x.device, dtype=dtype, non_blocking=True)
            else:
                noise = self.noise_const.to(dtype)
            noise = noise * self.noise_strength.to(dtype)  # [N|1, 1, R, R]
        x = self.conv(x, w, in_gain, noise, self.bias)  # demodulated conv + noise + bias, [N, C_out, R, R]
        # (its sqrt(2) gain is applied by the next layer, see above). In place, with autograd too: x is this
        # layer's own fresh tensor, and the activation's backward needs only its output.
        return F.leaky_relu(x, 0.2, inplace=True)


class ToRGB(nn.Module):
    """Modulated 1x1 conv to image channels, not demodulated (StyleGAN2's skip outputs)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, in_gain: float = 1.0) -> torch.Tensor:
        return self.conv(x, w, in_gain, bias=self.bias)


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """Append one channel: the std of features across groups of samples, averaged (Karras et al. 2018).

    D sees how varied a group of images is, so a G that collapses to a few images is easy to spot.
    Groups are consecutive samples; a batch that does not divide evenly uses the largest divisor.
    x [N, C, H, W] -> [N, C + 1, H, W].
    """
    n, c, h, w = x.shape
    g = min(group_size, n)
    while n % g:
        g -= 1
    y = x.float().reshape(g, n // g, c, h, w)  # [G, M, C, H, W]: sample i is in group i % M
    # The variance over groups, written out: torch's var over a leading dim takes 70x as long on CPUs.
    y = ((y - y.mean(dim=0)).square().mean(dim=0) + 1e-8).sqrt()  # [M, C, H, W]
    y = y.mean(dim=(1, 2, 3))  # [M]
    y = y.repeat(g)[:, None, None, None].expand(n, 1, h, w).to(x.dtype)  # [N, 1, H, W]
    return torch.cat([x, y], dim=1)
