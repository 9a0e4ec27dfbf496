"""The Python API for creating: `ganvas.load(run_dir).generate(seeds=[...])`.

    >>> import ganvas
    >>> G = ganvas.load("runs/demo")                          # doctest: +SKIP
    >>> imgs = G.generate(seeds=[1, 2, 3], truncation=0.8)    # doctest: +SKIP
    >>> imgs[0].size                                          # doctest: +SKIP
    (32, 32)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from ganvas import checkpoint
from ganvas.errors import GanvasError
from ganvas.models.base import synthesize
from ganvas.utils.image import float_to_uint8, make_grid, to_pil
from ganvas.utils.provenance import provenance, save_png
from ganvas.utils.seeding import latents_from_seeds


MAX_GRID = 4096


class GeneratorHandle:
    """A loaded generator with its record (fingerprint, labels, training facts)."""

    def __init__(self, G: torch.nn.Module, record: dict, device: str = "cpu"):
        self.G = G.to(device)
        self.record = record
        self.device = device

    # Properties a caller needs without reading JSON.
    @property
    def fingerprint(self) -> str:
        return self.record["fingerprint"]

    @property
    def z_dim(self) -> int:
        return self.G.z_dim

    @property
    def label_names(self) -> list[str]:
        return list(self.record.get("label_names", []))

    @property
    def resolution(self) -> int:
        return int(self.record.get("resolution", 0))

    def _require_images(self) -> None:
        if self.record.get("kind") != "image":
            raise GanvasError("this generator makes 2-D points, not images")

    def class_vector(self, seeds: Sequence[int], class_name: str | None) -> torch.Tensor | None:
        """One-hot c [N, c_dim] for a class name; without one, seed s gets class s % c_dim.

        Either way an image depends only on its seed (and the class), never on its place in the list.
        """
        c_dim = self.G.c_dim
        if not c_dim:
            if class_name is not None:
                raise GanvasError("this generator was trained without labels, so --class does not apply")
            return None
        n = len(seeds)
        if class_name is None:
            idx = torch.tensor([int(s) % c_dim for s in seeds], dtype=torch.long)
        else:
            if class_name not in self.label_names:
                raise GanvasError(f"unknown class {class_name!r}; this generator knows: {', '.join(self.label_names)}")
            idx = torch.full((n,), self.label_names.index(class_name))
        return torch.nn.functional.one_hot(idx, c_dim).float()

    def latents(self, seeds: Sequence[int], truncation: float = 1.0) -> torch.Tensor:
        """z [N, z_dim] for the seeds, truncated toward the prior's mean (0) by psi = truncation."""
        if not 0.0 <= truncation <= 2.0:
            raise GanvasError(f"truncation {truncation:g} is out of range: use 0 (mean image) to 1 (full variety)")
        return latents_from_seeds(list(seeds), self.z_dim) * truncation

    def render(self, z: torch.Tensor, c: torch.Tensor | None = None, batch_size: int = 64) -> np.ndarray:
        """uint8 images [N, 3, H, W] for latents z."""
        self._require_images()
        return float_to_uint8(synthesize(self.G, z, c, batch_size=batch_size)).numpy()

    def generate_array(self, seeds: Sequence[int], truncation: float = 1.0, class_name: str | None = None,
                       batch_size: int = 64) -> np.ndarray:
        z = self.latents(seeds, truncation)
        return self.render(z, self.class_vector(seeds, class_name), batch_size)

    def generate(self, seeds: Iterable[int], truncation: float = 1.0, class_name: str | None = None,
                 batch_size: int = 64) -> list:
        """PIL images, one per seed; a seed gives the same image whatever the batch size."""
        seeds = [int(s) for s in seeds]
        arr = self.generate_array(seeds, truncation, class_name, batch_size)
        return [to_pil(a) for a in arr]

    def save(self, seeds: Sequence[int], out_dir: str | os.PathLike, truncation: float = 1.0,
             class_name: str | None = None, grid: bool = False, batch_size: int = 64,
             progress: bool = False) -> list[Path]:
        """Write seedNNNN.png per seed (and grid.png), each stamped with provenance metadata.

        Seeds are rendered and written a batch at a time, so memory stays flat for long seed lists.
        """
        seeds = [int(s) for s in seeds]
        if grid and len(seeds) > MAX_GRID:
            raise GanvasError(f"--grid holds at most {MAX_GRID} images; you asked for {len(seeds)} seeds")
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise GanvasError(f"--out {out} is a file; give a folder")
        out.mkdir(parents=True, exist_ok=True)
        meta = self._class_meta(class_name)
        paths, kept = [], []
        bar = None
        if progress and len(seeds) > batch_size:
            from tqdm import tqdm

            bar = tqdm(total=len(seeds), unit="img", desc="generate")
        for i in range(0, len(seeds), batch_size):
            chunk = seeds[i : i + batch_size]
            arr = self.generate_array(chunk, truncation, class_name, batch_size)
            for s, a in zip(chunk, arr):
                p = out / f"seed{s:04d}.png"
                save_png(to_pil(a), p, provenance(self.fingerprint, s, truncation, **meta))
                paths.append(p)
            if grid:
                kept.append(arr)
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
        if grid:
            p = out / "grid.png"
            save_png(to_pil(make_grid(np.concatenate(kept))), p, provenance(self.fingerprint, seeds, truncation, **meta))
            paths.append(p)
        return paths

    @staticmethod
    def _class_meta(class_name: str | None) -> dict:
        return {"class": class_name} if class_name else {}


def load(run_dir: str | os.PathLike, device: str = "cpu") -> GeneratorHandle:
    G, record = checkpoint.load_generator(run_dir)
    return GeneratorHandle(G, record, device)
