"""Deterministic training batches: what D sees at image count `nimg` depends only on (seed, nimg).

Images are an endless stream of epochs; epoch e is a permutation drawn from (seed, "order", e), and
stream position i is image perm_{i // N}[i % N]. So a run resumed at any nimg continues with exactly
the batches an uninterrupted run would have drawn, whatever happened before.
"""

from __future__ import annotations

import numpy as np
import torch

from ganvas.data.dataset import ImageDataset
from ganvas.data.toy import PointDistribution
from ganvas.utils.image import uint8_to_float
from ganvas.utils.seeding import make_generator


class ImageBatches:
    """Batches from an in-memory uint8 image set; images stay uint8 until they are drawn."""

    def __init__(self, dataset: ImageDataset, seed: int):
        self.images = torch.from_numpy(np.ascontiguousarray(dataset.images))  # [N, 3, H, W] uint8
        self.labels = None if dataset.labels is None else torch.from_numpy(dataset.labels).long()
        self.num_classes = dataset.num_classes
        self.seed = seed
        self._perm_cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.images)

    def _perm(self, epoch: int) -> torch.Tensor:
        p = self._perm_cache.get(epoch)
        if p is None:
            if len(self._perm_cache) > 4:
                self._perm_cache.clear()
            p = torch.randperm(len(self.images), generator=make_generator(self.seed, "order", epoch))
            self._perm_cache[epoch] = p
        return p

    def indices(self, nimg: int, n: int) -> torch.Tensor:
        """Dataset indices of stream positions nimg .. nimg+n-1."""
        size = len(self.images)
        parts, pos, end = [], nimg, nimg + n
        while pos < end:  # a slice of each epoch's permutation the window touches (one or two, usually)
            epoch, offset = divmod(pos, size)
            take = min(size - offset, end - pos)
            parts.append(self._perm(epoch)[offset:offset + take])
            pos += take
        return torch.cat(parts) if parts else torch.empty(0, dtype=torch.long)  # (a copy: the cache stays intact)

    def to(self, device: torch.device) -> "ImageBatches":
        """Keep the uint8 images on `device` (a GPU): batches are then gathered there, with no copies."""
        self.images = self.images.to(device)
        return self

    def batch(self, nimg: int, n: int, rows: slice | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """real_img float [-1, 1] [n, 3, H, W], and labels [n] (or None), for stream positions nimg..nimg+n-1.

        `rows` selects part of that batch (a process's or micro-batch's share) without loading the rest.
        """
        idx = self.indices(nimg, n)
        if rows is not None:
            idx = idx[rows]
        real_img = uint8_to_float(self.images[idx.to(self.images.device, non_blocking=True)])
        return real_img, (None if self.labels is None else self.labels[idx])


class PointBatches:
    """Batches drawn fresh from a 2-D distribution with noise keyed by (seed, nimg)."""

    num_classes = 0

    def __init__(self, dist: PointDistribution, seed: int):
        self.dist = dist
        self.seed = seed

    def __len__(self) -> int:
        return 0

    def batch(self, nimg: int, n: int, rows: slice | None = None) -> tuple[torch.Tensor, None]:
        points = self.dist.sample(n, make_generator(self.seed, "points", nimg))  # [n, 2]
        return (points if rows is None else points[rows]), None
