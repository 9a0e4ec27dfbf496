"""Fixed-seed sample grids written during training (and a real-image grid at the start)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ganvas.models.base import Generator, synthesize
from ganvas.utils.image import float_to_uint8, make_grid, to_pil
from ganvas.utils.provenance import new_figure, provenance, save_figure, save_png
from ganvas.utils.seeding import latents_from_seeds


def grid_labels(n: int, num_classes: int) -> torch.Tensor | None:
    """Seed s gets class s % num_classes (as `ganvas generate` does), so a grid shows every class."""
    if not num_classes:
        return None
    return torch.nn.functional.one_hot(torch.arange(n) % num_classes, num_classes).float()


def save_fake_grid(G_ema: Generator, n: int, path: str | os.PathLike, nimg: int, num_classes: int = 0) -> Path:
    seeds = list(range(n))
    z = latents_from_seeds(seeds, G_ema.z_dim)
    out = synthesize(G_ema, z, grid_labels(n, num_classes))
    meta = provenance(generator=f"training-snapshot@{nimg}", seed=seeds, truncation=1.0, nimg=str(nimg))
    if out.ndim == 2:  # 2-D points: a scatter plot instead of a grid
        return _save_scatter(out.numpy(), path, meta)
    save_png(to_pil(make_grid(float_to_uint8(out).numpy())), path, meta)
    return Path(path)


def save_real_grid(images: np.ndarray, path: str | os.PathLike) -> Path:
    """The first images of the dataset, for side-by-side comparison with the fakes."""
    save_png(to_pil(make_grid(images)), path, provenance(kind="training data preview"))
    return Path(path)


def _save_scatter(points: np.ndarray, path: str | os.PathLike, meta: dict[str, str]) -> Path:
    fig, ax = new_figure(4, 4)
    ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.6)
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(alpha=0.3)
    return save_figure(fig, path, meta)
