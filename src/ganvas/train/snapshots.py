"""Fixed-seed sample grids written during training (and a real-image grid at the start)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import torch

from ganvas.models.base import Generator, synthesize
from ganvas.utils.image import float_to_uint8, make_grid, to_pil
from ganvas.utils.provenance import provenance, save_png
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
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from PIL import Image

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.6)
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    buf.seek(0)
    save_png(Image.open(buf).convert("RGB"), path, meta)
    return Path(path)
