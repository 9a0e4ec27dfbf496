"""Write a seeded set of synthetic scenes with an unmistakable orientation, for augmentation-leak experiments.

    python benchmarks/oriented_scenes.py --num 100 --out /tmp/scenes100             # the training set
    python benchmarks/oriented_scenes.py --num 1000 --seed 1 --out /tmp/scenes-ref   # held-out references

Each image is a flag on a pole on a hill under a sky: sky at the top (a light colour fading to pale at
the horizon), ground at the bottom, the pole in the left half and the flag to its right at the top. So a
90-degree rotation, a half turn, an upside-down flip and a mirror image each look wrong at a glance,
unlike the emoji set, whose faces are left-right symmetric and whose shapes a CPU-budget generator draws
too loosely for the leak check to read their orientation. A small generator learns these scenes in
minutes, so its samples come close enough to the data for `ganvas leak` to reach a verdict, and a leak
shows as sideways, upside-down or mirrored scenes in a grid.

Colours, sizes and positions vary per image (the seed fixes them all). Drawn with Pillow at 4x and
reduced with a box filter, so edges are anti-aliased. Generated here; no licence terms beyond the
project's.
"""

from __future__ import annotations

import argparse
import colorsys
from pathlib import Path

import numpy as np


def hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return round(r * 255), round(g * 255), round(b * 255)


def scene(rng: np.random.Generator, size: int):
    """One scene as a PIL image of size x size."""
    from PIL import Image, ImageDraw

    big = size * 4
    img = Image.new("RGB", (big, big))
    draw = ImageDraw.Draw(img)
    horizon = int(big * rng.uniform(0.62, 0.75))  # ground from here down
    sky_top = np.array(hsv(rng.uniform(0.5, 0.68), rng.uniform(0.35, 0.7), rng.uniform(0.75, 0.95)), float)
    pale = np.array((245, 245, 240), float)
    for y in range(horizon):
        t = y / max(horizon - 1, 1)
        draw.line([(0, y), (big, y)], fill=tuple(int(c) for c in sky_top * (1 - t) + pale * t))
    ground = hsv(rng.uniform(0.2, 0.36), rng.uniform(0.5, 0.8), rng.uniform(0.35, 0.6))
    bump = big * rng.uniform(0.02, 0.08)  # a gentle hill
    centre = big * rng.uniform(0.2, 0.8)
    xs = np.arange(big + 1)
    hill = horizon - bump * np.exp(-((xs - centre) / (big * 0.3)) ** 2)
    draw.polygon([(0, big), *[(int(x), int(y)) for x, y in zip(xs, hill)], (big, big)], fill=ground)
    pole_x = int(big * rng.uniform(0.22, 0.42))
    pole_w = max(int(big * 0.06), 2)
    top = int(big * rng.uniform(0.1, 0.2))
    draw.rectangle([pole_x, top, pole_x + pole_w, horizon + int(big * 0.05)], fill=(60, 50, 45))
    flag_w, flag_h = int(big * rng.uniform(0.26, 0.36)), int(big * rng.uniform(0.16, 0.22))
    flag = hsv(rng.choice([0.0, 0.08, 0.14, 0.78, 0.9]) + rng.uniform(-0.03, 0.03), 0.85, 0.9)
    draw.rectangle([pole_x + pole_w, top, pole_x + pole_w + flag_w, top + flag_h], fill=flag)
    return img.resize((size, size), Image.Resampling.BOX)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num", type=int, default=100)
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    if args.num < 1 or args.resolution < 8:
        p.error("--num must be at least 1 and --resolution at least 8")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    for i in range(args.num):
        scene(rng, args.resolution).save(out / f"scene-{args.seed}-{i:04d}.png")
    print(f"wrote {args.num} scenes to {out}")


if __name__ == "__main__":
    main()
