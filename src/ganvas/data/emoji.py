"""The built-in emoji set: 1,636 Twemoji images in 8 categories, shipped with ganvas (no network).

The file `builtin/emoji.npz` is made by `scripts/build_emoji.py` (see there for its layout and
`builtin/NOTICE` for the CC-BY 4.0 attribution): 64x64 RGB tiles, composited on white, in one lossless
WebP sprite sheet, with a category label per emoji.
"""

from __future__ import annotations

import hashlib
import io
from importlib import resources

import numpy as np
from PIL import Image

from ganvas.data.dataset import ImageDataset
from ganvas.errors import ConfigError, DataError

EMOJI_FILE = "emoji.npz"
MIN_RESOLUTION, MAX_RESOLUTION = 8, 256
_LOADER_VERSION = 1  # part of the fingerprint: bump when the same file gives different arrays


def emoji_file_bytes() -> bytes:
    try:
        return resources.files("ganvas.data").joinpath("builtin", EMOJI_FILE).read_bytes()
    except (FileNotFoundError, OSError) as e:
        raise DataError(f"the built-in emoji file ganvas/data/builtin/{EMOJI_FILE} is missing ({e}); "
                        "reinstall ganvas, or rebuild it with scripts/build_emoji.py") from None


def load_emoji(resolution: int = 32) -> ImageDataset:
    """The emoji set at `resolution` (8..256): uint8 [1636, 3, R, R], labels = category indices.

    Downscaling is antialiased (Lanczos); above the native 64 px the tiles are enlarged with bicubic.

    >>> ds = load_emoji(32)
    >>> ds.images.shape, ds.num_classes
    ((1636, 3, 32, 32), 8)
    """
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) \
            or not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise ConfigError(f"emoji resolution must be an integer from {MIN_RESOLUTION} to {MAX_RESOLUTION}, "
                          f"got {resolution!r}")
    resolution = int(resolution)
    data = emoji_file_bytes()
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        tile, cols, count = int(z["tile"]), int(z["cols"]), int(z["count"])
        sheet = np.asarray(Image.open(io.BytesIO(z["atlas"].tobytes())).convert("RGB"))  # [rows*T, cols*T, 3]
        labels = z["labels"].astype(np.int64)
        label_names = [str(c) for c in z["categories"].tolist()]

    rows = sheet.shape[0] // tile
    tiles = sheet.reshape(rows, tile, cols, tile, 3).transpose(0, 2, 1, 3, 4).reshape(-1, tile, tile, 3)[:count]
    if resolution != tile:
        resample = Image.Resampling.LANCZOS if resolution < tile else Image.Resampling.BICUBIC
        tiles = np.stack([np.asarray(Image.fromarray(t).resize((resolution, resolution), resample))
                          for t in tiles])
    images = np.ascontiguousarray(tiles.transpose(0, 3, 1, 2))  # [N, 3, R, R]

    fingerprint = hashlib.sha256(data + f"|emoji|{resolution}|{_LOADER_VERSION}".encode()).hexdigest()
    return ImageDataset(images, labels, label_names, "emoji", fingerprint)
