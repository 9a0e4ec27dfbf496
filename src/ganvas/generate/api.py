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
from ganvas.utils.device import autocast, resolve_precision
from ganvas.utils.image import float_to_uint8, make_grid, to_pil
from ganvas.utils.provenance import provenance, save_png
from ganvas.utils.seeding import latents_from_seeds


MAX_GRID = 4096


class GeneratorHandle:
    """A loaded generator with its record (fingerprint, labels, training facts)."""

    def __init__(self, G: torch.nn.Module, record: dict, device: str = "cpu", precision: str = "fp32"):
        self.G = G.to(device, memory_format=torch.channels_last)  # the fast layout for convolutions, as trained
        self.record = record
        self.device = device
        # fp32 (the default: a seed gives the same pixels on any machine) or bf16 autocast, about twice as
        # fast on CPUs with AVX512-BF16/AMX and on GPUs; auto picks bf16 where the hardware runs it natively.
        self.precision = resolve_precision(precision, torch.device(device))

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

    @property
    def style_based(self) -> bool:
        """True for generators with a w space (truncation toward w_avg, style mixing)."""
        return hasattr(self.G, "num_ws")

    @staticmethod
    def check_truncation(truncation: float) -> None:
        if not 0.0 <= truncation <= 2.0:
            raise GanvasError(f"truncation {truncation:g} is out of range: use 0 (mean image) to 1 (full variety)")

    def latents(self, seeds: Sequence[int]) -> torch.Tensor:
        """z [N, z_dim] for the seeds (a seed always gives the same z)."""
        return latents_from_seeds(list(seeds), self.z_dim)

    def render(self, z: torch.Tensor, c: torch.Tensor | None = None, batch_size: int = 64,
               truncation: float = 1.0) -> np.ndarray:
        """uint8 images [N, 3, H, W] for latents z.

        Truncation psi pulls each latent toward the average: for a style-based G, w toward the tracked
        w_avg (StyleGAN); otherwise z toward the prior's mean 0. psi = 0 gives the average image.
        """
        self._require_images()
        self.check_truncation(truncation)
        with autocast(torch.device(self.device), self.precision):
            if self.style_based:
                out = synthesize(self.G, z, c, batch_size=batch_size, truncation_psi=truncation)
            else:
                out = synthesize(self.G, z * truncation, c, batch_size=batch_size)
        return float_to_uint8(out).numpy()

    def generate_array(self, seeds: Sequence[int], truncation: float = 1.0, class_name: str | None = None,
                       batch_size: int = 64) -> np.ndarray:
        self.check_truncation(truncation)
        return self.render(self.latents(seeds), self.class_vector(seeds, class_name), batch_size, truncation)

    @torch.no_grad()
    def style_mix(self, base_seeds: Sequence[int], style_seeds: Sequence[int], layers: Sequence[int],
                  truncation: float = 1.0, class_name: str | None = None) -> np.ndarray:
        """A style-mixing table, uint8 [(B+1)*(S+1), 3, H, W] in row-major order (StyleGAN fig. 3).

        Row 0 holds the style sources (after a blank corner), column 0 the base images; cell (b, s) is
        base b rendered with style s's w in `layers` (0 = the coarsest 4 px layer). Early layers carry
        pose and shape, late ones colour and texture.
        """
        self._require_images()
        if not self.style_based:
            raise GanvasError("style mixing needs a style-based generator (train with --model stylegan)")
        self.check_truncation(truncation)
        num_ws = self.G.num_ws
        bad = [i for i in layers if not 0 <= i < num_ws]
        if bad or not layers:
            got = "none" if not bad else str(bad[0]) if len(bad) == 1 else f"{len(bad)} outside ({bad[0]}..{bad[-1]})"
            raise GanvasError(f"--layers must be within 0-{num_ws - 1} for this generator (it has {num_ws} style "
                              f"layers); got {got}")
        device = next(self.G.parameters()).device
        seeds = [*base_seeds, *style_seeds]
        c = self.class_vector(seeds, class_name)
        ws = self.G.map(self.latents(seeds).to(device), None if c is None else c.to(device),
                        truncation_psi=truncation)  # [B+S, num_ws, w_dim]
        base, style = ws[: len(base_seeds)], ws[len(base_seeds):]
        mixed = base[:, None].repeat(1, len(style_seeds), 1, 1)  # [B, S, num_ws, w_dim]
        idx = torch.tensor(sorted(set(layers)), device=device)
        mixed[:, :, idx] = style[None, :, idx]
        base_imgs = self.G.render(base)  # [B, 3, H, W]
        grid = [torch.ones_like(base_imgs[:1]), self.G.render(style)]  # a white corner, then the style sources
        for b in range(len(base_seeds)):
            grid += [base_imgs[b: b + 1], self.G.render(mixed[b])]  # [1 + S, 3, H, W] per row
        return float_to_uint8(torch.cat(grid).float().cpu()).numpy()

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
            meta = provenance(self.fingerprint, seeds, truncation, **meta)
            save_png(to_pil(make_grid(np.concatenate(kept))), p, meta)
            paths.append(p)
        return paths

    def save_class_grid(self, seeds: Sequence[int], out_dir: str | os.PathLike, truncation: float = 1.0) -> Path:
        """classes.png: one row per class (in label order), the same seeds as columns."""
        rows = [self.generate_array(seeds, truncation, name) for name in self.label_names]
        path = Path(out_dir) / "classes.png"
        meta = provenance(self.fingerprint, list(seeds), truncation, classes=",".join(self.label_names))
        save_png(to_pil(make_grid(np.concatenate(rows), cols=len(seeds))), path, meta)
        return path

    @staticmethod
    def _class_meta(class_name: str | None) -> dict:
        return {"class": class_name} if class_name else {}


def load(run_dir: str | os.PathLike, device: str = "cpu", precision: str = "fp32") -> GeneratorHandle:
    G, record = checkpoint.load_generator(run_dir)
    return GeneratorHandle(G, record, device, precision)
