"""Write a seeded subset of the built-in emoji set as a folder of PNGs (one subfolder per category).

    python benchmarks/emoji_subset.py --num 100 --out /tmp/emoji100

Used for the small-data experiments (adaptive augmentation on 100 images). The images keep their
source's licence (see the emoji set's NOTICE).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num", type=int, default=100)
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    from PIL import Image

    from ganvas.data.emoji import load_emoji

    data = load_emoji(args.resolution)
    idx = np.sort(np.random.default_rng(args.seed).permutation(len(data))[: args.num])
    out = Path(args.out)
    for i in idx:
        folder = out / data.label_names[int(data.labels[i])]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(data.images[i].transpose(1, 2, 0)).save(folder / f"{i:04d}.png")
    print(f"wrote {len(idx)} images to {out}")


if __name__ == "__main__":
    main()
