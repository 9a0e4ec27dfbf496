"""The FID Inception-v3 network of pytorch-fid, written for ganvas so that no torchvision is needed.

FID (Heusel et al. 2017) is defined on the pool3 features of one particular network: TensorFlow's
Inception-v3 graph "inception-2015-12-05" (Szegedy et al. 2016, "Rethinking the Inception Architecture
for Computer Vision"). pytorch-fid (M. Seitzer, https://github.com/mseitzer/pytorch-fid) ported its weights
to a PyTorch state dict, `pt_inception-2015-12-05-6726825d.pth`, laid out like torchvision's `Inception3`
(without the auxiliary classifier, with a 1008-way classifier) but with four blocks patched so that the
network computes what the TF graph computes:

- `FIDInceptionA` / `FIDInceptionC` (Mixed_5b-5d, Mixed_6b-6e) and `FIDInceptionE_1` (Mixed_7b): the 3x3
  average pool of the pool branch ignores the zero padding (`count_include_pad=False`), as TF does;
- `FIDInceptionE_2` (Mixed_7c): the pool branch uses a 3x3 *max* pool, as the TF graph does (the paper
  describes an average pool there);
- `InceptionB` (Mixed_6a) and `InceptionD` (Mixed_7a) are the stock grid-reduction blocks.

Every convolution is `BasicConv2d`: conv without bias, batch norm with eps = 1e-3 (TF's), ReLU.
Module and parameter names (`Conv2d_1a_3x3.conv.weight`, `Mixed_5b.branch_pool.bn.running_var`, ...,
`fc.weight`) are torchvision's, because those are the keys of pytorch-fid's file: `load_state_dict(strict=True)`
accepts it unchanged. The classifier `fc` is kept only so that strict loading works; features do not use it.

Feature path (pytorch-fid's `InceptionV3` with its defaults): float RGB in [0, 1] -> bilinear resize to
299 x 299 (align_corners=False) -> 2x - 1 -> Conv2d_1a_3x3 ... Mixed_7c -> global average pool -> 2048-d.

>>> net = FIDInceptionV3().eval()
>>> net(torch.rand(1, 3, 32, 32)).shape
torch.Size([1, 2048])
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganvas.errors import GanvasError

BN_EPS = 1e-3  # TF batch-norm epsilon the weights were trained with
INPUT_SIZE = 299  # the resolution the TF graph resizes to
NUM_CLASSES = 1008  # TF's 2015 ImageNet head: 1000 classes plus 8 unused outputs
FEATURE_DIM = 2048


class BasicConv2d(nn.Module):
    """Conv (no bias: batch norm follows) -> BatchNorm(eps=1e-3) -> ReLU, named `conv` and `bn` like torchvision."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int = 1, padding: int | tuple[int, int] = 0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _tf_avg_pool_3x3(x: torch.Tensor) -> torch.Tensor:
    """3x3 stride-1 average pool that, like TF's, averages only the pixels inside the image at the borders."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class FIDInceptionA(nn.Module):
    """35 x 35 block (Mixed_5b-5d): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | TF avg pool-1x1; 224 + pool_features out."""

    def __init__(self, in_channels: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)  # [N, 64, 35, 35]
        b5 = self.branch5x5_2(self.branch5x5_1(x))  # [N, 64, 35, 35]
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))  # [N, 96, 35, 35]
        bp = self.branch_pool(_tf_avg_pool_3x3(x))  # [N, pool_features, 35, 35]
        return torch.cat([b1, b5, b3, bp], 1)  # [N, 224 + pool_features, 35, 35]


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17 (Mixed_6a): 3x3/2 | 1x1-3x3-3x3/2 | max pool 3x3/2; 384 + 96 + in out."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)  # [N, 384, 17, 17]
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))  # [N, 96, 17, 17]
        bp = F.max_pool2d(x, kernel_size=3, stride=2)  # [N, in, 17, 17]
        return torch.cat([b3, bd, bp], 1)  # [N, 768, 17, 17] for in = 288


class FIDInceptionC(nn.Module):
    """17 x 17 block (Mixed_6b-6e) with factorised 7x7 convs (1x7 and 7x1); 4 x 192 = 768 channels out."""

    def __init__(self, in_channels: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)  # [N, 192, 17, 17]
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))  # [N, 192, 17, 17]
        bd = self.branch7x7dbl_1(x)  # [N, c7, 17, 17]
        bd = self.branch7x7dbl_3(self.branch7x7dbl_2(bd))  # [N, c7, 17, 17]
        bd = self.branch7x7dbl_5(self.branch7x7dbl_4(bd))  # [N, 192, 17, 17]
        bp = self.branch_pool(_tf_avg_pool_3x3(x))  # [N, 192, 17, 17]
        return torch.cat([b1, b7, bd, bp], 1)  # [N, 768, 17, 17]


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8 (Mixed_7a): 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | max pool 3x3/2; 320 + 192 + in out."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))  # [N, 320, 8, 8]
        b7 = self.branch7x7x3_2(self.branch7x7x3_1(x))  # [N, 192, 17, 17]
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(b7))  # [N, 192, 8, 8]
        bp = F.max_pool2d(x, kernel_size=3, stride=2)  # [N, in, 8, 8]
        return torch.cat([b3, b7, bp], 1)  # [N, 1280, 8, 8] for in = 768


class _InceptionE(nn.Module):
    """8 x 8 block with expanded filter banks (1x3 and 3x1 side by side); 320 + 768 + 768 + 192 = 2048 out.

    The two FID variants differ only in the pool of the pool branch (`_pool`).
    """

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def _pool(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)  # [N, 320, 8, 8]
        b3 = self.branch3x3_1(x)  # [N, 384, 8, 8]
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)  # [N, 768, 8, 8]
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))  # [N, 384, 8, 8]
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)  # [N, 768, 8, 8]
        bp = self.branch_pool(self._pool(x))  # [N, 192, 8, 8]
        return torch.cat([b1, b3, bd, bp], 1)  # [N, 2048, 8, 8]


class FIDInceptionE_1(_InceptionE):  # noqa: N801 - pytorch-fid's name
    """Mixed_7b: the pool branch averages without counting the zero padding, as TF does."""

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return _tf_avg_pool_3x3(x)


class FIDInceptionE_2(_InceptionE):  # noqa: N801 - pytorch-fid's name
    """Mixed_7c: the TF graph max-pools in the pool branch (the paper says average); FID needs the graph's."""

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


class FIDInceptionV3(nn.Module):
    """pytorch-fid's FID Inception-v3: float RGB [N, 3, H, W] in [0, 1] -> pool3 features [N, 2048].

    Attribute names are torchvision's `Inception3` names, which are the keys of pytorch-fid's state dict.
    """

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = FIDInceptionA(192, pool_features=32)
        self.Mixed_5c = FIDInceptionA(256, pool_features=64)
        self.Mixed_5d = FIDInceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        self.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = FIDInceptionE_1(1280)
        self.Mixed_7c = FIDInceptionE_2(2048)
        self.fc = nn.Linear(FEATURE_DIM, NUM_CLASSES)  # in the file; unused by the features

    @staticmethod
    def preprocess(x: torch.Tensor) -> torch.Tensor:
        """[0, 1] images of any size -> [N, 3, 299, 299] in [-1, 1], as pytorch-fid feeds the network."""
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return 2 * x - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Float RGB [N, 3, H, W] in [0, 1] -> pool3 features [N, 2048]."""
        x = self.preprocess(x)  # [N, 3, 299, 299]
        x = self.Conv2d_1a_3x3(x)  # [N, 32, 149, 149]
        x = self.Conv2d_2a_3x3(x)  # [N, 32, 147, 147]
        x = self.Conv2d_2b_3x3(x)  # [N, 64, 147, 147]
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # [N, 64, 73, 73]
        x = self.Conv2d_3b_1x1(x)  # [N, 80, 73, 73]
        x = self.Conv2d_4a_3x3(x)  # [N, 192, 71, 71]
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # [N, 192, 35, 35]
        x = self.Mixed_5b(x)  # [N, 256, 35, 35]
        x = self.Mixed_5c(x)  # [N, 288, 35, 35]
        x = self.Mixed_5d(x)  # [N, 288, 35, 35]
        x = self.Mixed_6a(x)  # [N, 768, 17, 17]
        x = self.Mixed_6b(x)  # [N, 768, 17, 17]
        x = self.Mixed_6c(x)  # [N, 768, 17, 17]
        x = self.Mixed_6d(x)  # [N, 768, 17, 17]
        x = self.Mixed_6e(x)  # [N, 768, 17, 17]
        x = self.Mixed_7a(x)  # [N, 1280, 8, 8]
        x = self.Mixed_7b(x)  # [N, 2048, 8, 8]
        x = self.Mixed_7c(x)  # [N, 2048, 8, 8]
        return F.adaptive_avg_pool2d(x, 1).flatten(1)  # [N, 2048]

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Classifier logits [N, 1008] of [0, 1] images (for sanity checks; FID uses `forward`)."""
        return self.fc(self.forward(x))


def _first(names: list[str], n: int = 5) -> str:
    """A short list for error messages: the first `n` names and how many more there are."""
    more = f" (+{len(names) - n} more)" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def load_fid_inception(path: str | Path) -> FIDInceptionV3:
    """Load pytorch-fid's state dict from `path` into a `FIDInceptionV3` in eval mode, without gradients.

    Every failure is a `GanvasError` whose message starts with the file and says what is wrong with it
    (unreadable, not a state dict, missing/unexpected keys, wrong shapes), because the file comes from the
    user and a traceback would not tell them which file or why.
    """
    path = Path(path)
    if not path.is_file():
        raise GanvasError(f"{path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling, truncated or foreign file
        # torch's own message suggests weights_only=False, which ganvas never does (it runs pickled code).
        raise GanvasError(f"{path} is not a readable PyTorch state dict ({type(e).__name__}; it is truncated, "
                          f"damaged or of another format)") from None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GanvasError(f"{path} holds a {type(state).__name__}, not a state dict of tensors")
    net = FIDInceptionV3()
    expected = net.state_dict()
    # BatchNorm fills in a missing `num_batches_tracked` from files written before it existed, so those
    # are not reported here; load_state_dict decides.
    missing = [k for k in expected if k not in state and not k.endswith(".num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})"
             for k, v in expected.items() if k in state and state[k].shape != v.shape]
    problems = []
    if missing:
        problems.append(f"missing keys: {_first(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_first(unexpected)}")
    if wrong:
        problems.append(f"tensors of the wrong shape: {_first(wrong, 3)}")
    if problems:
        raise GanvasError(f"{path} is not pytorch-fid's FID Inception-v3 state dict ({'; '.join(problems)})")
    try:
        net.load_state_dict(state, strict=True)
    except Exception as e:  # anything the checks above did not foresee
        raise GanvasError(f"{path} does not load into pytorch-fid's FID Inception-v3 "
                          f"({type(e).__name__}: {str(e)[:300]})") from None
    return net.eval().requires_grad_(False)
