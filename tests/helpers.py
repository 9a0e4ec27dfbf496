"""Shared test helpers: tiny synthetic art folders and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]


def make_art_folder(root: Path, n: int = 32, size: int = 24, classes: tuple[str, ...] = ()) -> Path:
    """Coloured discs and squares on white: a tiny learnable image set, optionally in class subfolders."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = Image.new("RGB", (size, size), "white")
        d = ImageDraw.Draw(img)
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        r = int(rng.integers(size // 4, size // 2))
        box = (size // 2 - r, size // 2 - r, size // 2 + r, size // 2 + r)
        (d.ellipse if i % 2 else d.rectangle)(box, fill=colour)
        folder = root / classes[i % len(classes)] if classes else root
        folder.mkdir(exist_ok=True)
        img.save(folder / f"art{i:03d}.png")
    return root


TINY_TRAIN = ["--resolution", "16", "--batch", "16", "--set", "model.width=8", "--set", "model.z_dim=8",
              "--set", "train.tensorboard=false", "--set", "train.grid_size=16", "--set", "train.log_kimg=0.128",
              "--no-progress"]


def run_cli(*args: str, env: dict | None = None, check: bool = False) -> subprocess.CompletedProcess:
    """Run `python -m ganvas ARGS` in a subprocess (a real process: exit codes, signals, stderr)."""
    full_env = {**os.environ, **(env or {})}
    full_env.setdefault("OMP_NUM_THREADS", "1")
    proc = subprocess.run([sys.executable, "-m", "ganvas", *args], capture_output=True, text=True, env=full_env,
                          cwd=REPO, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"ganvas {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc
