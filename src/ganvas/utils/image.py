"""The one place where pixels change representation (STYLE: pixels).

uint8 [0, 255] NCHW for datasets, metrics and files; float [-1, 1] NCHW inside networks.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from PIL import Image


def uint8_to_float(x: "torch.Tensor") -> "torch.Tensor":
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return x.float().mul_(2.0 / 255.0).sub_(1.0)


def float_to_uint8(x: "torch.Tensor") -> "torch.Tensor":
    """float [-1, 1] -> uint8 [0, 255], rounding to nearest and clamping."""
    return x.detach().float().add(1.0).mul(127.5).round_().clamp_(0, 255).to("cpu").to(dtype=_uint8())


def _uint8():
    import torch

    return torch.uint8


def to_pil(img: "np.ndarray | torch.Tensor") -> "Image.Image":
    """One uint8 image [3, H, W] (or [1, H, W]) to a PIL image."""
    from PIL import Image

    arr = np.asarray(img)
    if arr.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {arr.dtype}")
    arr = arr.transpose(1, 2, 0)
    return Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)


def make_grid(images: np.ndarray, cols: int | None = None, pad: int = 2, pad_value: int = 255) -> np.ndarray:
    """Tile uint8 [N, C, H, W] into one uint8 [C, rows*H', cols*W'] image with `pad` pixel gutters."""
    n, c, h, w = images.shape
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    out = np.full((c, rows * (h + pad) + pad, cols * (w + pad) + pad), pad_value, dtype=np.uint8)
    for i in range(n):
        r, k = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + k * (w + pad)
        out[:, y : y + h, x : x + w] = images[i]
    return out


def png_bytes(img: "Image.Image", text: dict[str, str] | None = None) -> bytes:
    """Encode a PIL image as PNG with tEXt/iTXt metadata."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for k, v in (text or {}).items():
        info.add_itxt(k, str(v))
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=info, optimize=False)
    return buf.getvalue()
