"""Looping latent walks: spherical interpolation through seeds' latents, written as a GIF or an MP4."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import torch

from ganvas.errors import GanvasError
from ganvas.generate.api import GeneratorHandle
from ganvas.utils.image import to_pil
from ganvas.utils.provenance import provenance, save_gif, save_mp4


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows a [D] and b [D] at fractions t [T] -> [T, D].

    Interpolates the direction on the sphere and the norm linearly, so midpoints keep the typical norm
    of Gaussian latents (a straight line would pass through low-norm, washed-out images).
    """
    na, nb = a.norm(), b.norm()
    ua, ub = a / na, b / nb
    omega = torch.arccos((ua * ub).sum().clamp(-1.0, 1.0))
    t = t[:, None]
    if omega.abs() < 1e-6:
        direction = ua.expand(len(t), -1)
    else:
        so = torch.sin(omega)
        direction = (torch.sin((1 - t) * omega) / so) * ua + (torch.sin(t * omega) / so) * ub
    return direction * ((1 - t) * na + t * nb)


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Straight-line interpolation between rows a [D] and b [D] at fractions t [T] -> [T, D]."""
    return a + t[:, None] * (b - a)


def walk_latents(z: torch.Tensor, frames: int, interp=slerp, what: str = "seeds") -> torch.Tensor:
    """A closed loop through the rows of z [K, D]: frames [frames, D], starting at z[0], never repeating it."""
    k = len(z)
    if k < 2:
        example = "--seeds 1,7,3" if what == "seeds" else "--classes cats,dogs"
        raise GanvasError(f"an interpolation needs at least two {what}, e.g. {example}")
    if frames < k:
        raise GanvasError(f"--frames {frames} is fewer than the {k} {what}; use at least {k}")
    # Frame f sits at position f * k / frames along the loop: segment floor(pos), fraction pos % 1.
    pos = torch.arange(frames, dtype=torch.float64) * k / frames
    seg, frac = pos.floor().long(), (pos - pos.floor()).float()
    out = torch.empty(frames, z.shape[1])
    for i in range(k):
        m = seg == i
        if m.any():
            out[m] = interp(z[i], z[(i + 1) % k], frac[m])
    return out


def interpolate(handle: GeneratorHandle, seeds: Sequence[int], frames: int, out_path: str | os.PathLike,
                truncation: float = 1.0, fps: float = 20.0, class_name: str | None = None,
                scale: int | None = None) -> Path:
    """Write a looping GIF or MP4 (by the suffix of `out_path`) walking through the seeds' latents (the
    last frame flows back to the first). `scale` enlarges frames by nearest neighbour; None: 1 for a GIF,
    and for an MP4 the least factor that makes the frames at least MP4_MIN_SIDE pixels high and wide."""
    check_video_out(out_path, fps)
    handle.check_truncation(truncation)
    z = walk_latents(handle.latents(list(seeds)), frames)
    if class_name is None and handle.G.c_dim:  # a conditional walk stays within one class
        class_name = handle.label_names[0]
    imgs = handle.render(z, handle.class_vector(range(frames), class_name), truncation=truncation)
    meta = provenance(handle.fingerprint, list(seeds), truncation, frames=str(frames))
    return _write_video(imgs, out_path, meta, fps, scale)


MP4_MIN_SIDE = 256  # an MP4 of 32-px frames plays as a speck, with its colours smeared by 4:2:0 chroma


def check_video_out(out_path: str | os.PathLike, fps: float) -> None:
    if Path(out_path).suffix.lower() not in (".gif", ".mp4"):
        raise GanvasError(f"--out {out_path} must end in .gif (a looping GIF) or .mp4 (an H.264 video)")
    if fps <= 0 or fps > 100:
        raise GanvasError("--fps must be between 0 and 100")


def _write_video(imgs, out_path: str | os.PathLike, meta: dict, fps: float, scale: int | None) -> Path:
    """Frames uint8 [T, 3, H, W] to a GIF or an MP4, by the suffix of out_path."""
    mp4 = Path(out_path).suffix.lower() == ".mp4"
    if scale is None:
        scale = max(1, math.ceil(MP4_MIN_SIDE / min(imgs.shape[-2:]))) if mp4 else 1
    if scale > 1:
        imgs = imgs.repeat(scale, axis=-2).repeat(scale, axis=-1)  # nearest neighbour
    if mp4:
        save_mp4(list(imgs.transpose(0, 2, 3, 1)), out_path, meta, fps=fps)
    else:
        save_gif([to_pil(a) for a in imgs], out_path, meta, duration_ms=max(10, round(1000 / fps)))
    return Path(out_path)


def class_walk(handle: GeneratorHandle, seed: int, classes: Sequence[str], frames: int,
               out_path: str | os.PathLike, truncation: float = 1.0, fps: float = 20.0,
               scale: int | None = None) -> Path:
    """A looping GIF or MP4 of one seed morphing through classes (styles): the class input moves in a
    straight line between one-hot vectors, so the midpoints are blends the training data never showed."""
    if not handle.G.c_dim:
        raise GanvasError("a class walk needs a conditional generator (train with --labels subdirs)")
    unknown = [c for c in classes if c not in handle.label_names]
    if unknown:
        raise GanvasError(f"unknown class {unknown[0]!r}; this generator knows: {', '.join(handle.label_names)}")
    check_video_out(out_path, fps)
    eye = torch.eye(handle.G.c_dim)
    c = walk_latents(eye[[handle.label_names.index(n) for n in classes]], frames, lerp, what="classes")
    z = handle.latents([seed]).repeat(frames, 1)
    imgs = handle.render(z, c, truncation=truncation)
    meta = provenance(handle.fingerprint, seed, truncation, frames=str(frames), classes=",".join(classes))
    return _write_video(imgs, out_path, meta, fps, scale)
