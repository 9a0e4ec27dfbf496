"""Can a trained orientation probe see what nearest-neighbour votes cannot? An experiment, not a check.

    python benchmarks/leak_probe.py RUN_DIR [RUN_DIR ...] --ref emoji [--num 500] [--inject 0.5] [--out F]

`ganvas leak` votes with nearest neighbours, and on CPU-budget samples it is often inconclusive: their
votes barely move when they are rotated on purpose. This script tries a stronger reader of orientation.
For each transform T (rot90, rot180, vflip) and feature space (16x16 pixels, EfficientNet-Lite0) it fits a
logistic regression (L2, standardised features, classes weighted equally) on half of the real images
(label 0) and their transformed copies (label 1), then reads the share labelled "transformed" of:

- B: the other half of the real images (no leak);
- C: one transformed copy of each of those (a leak on every image);
- L: the run's samples (seeds 0 .. num-1); L': the same samples transformed on purpose.

As in `ganvas.metrics.leak`: share ~ (L - B) / (C - B), power = (L' - L) / (C - B) (about 1 where the
probe reads the samples' orientation as well as real images'), and the smallest share it could flag at
3 standard errors. --inject rotates that share of the samples by 90 degrees first (a leak on purpose).
Prints one line per (run, space, T), and the machine; --out writes JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine  # noqa: E402


def fit_probe(pos_neg: tuple[np.ndarray, np.ndarray], l2: float = 1e-2):
    """Logistic regression of transformed (first) against upright (second) features; returns a function
    from features [N, D] to logits [N]."""
    pos, neg = (torch.from_numpy(a).double() for a in pos_neg)
    x = torch.cat([neg, pos])
    y = torch.cat([torch.zeros(len(neg)), torch.ones(len(pos))]).double()
    w = torch.cat([torch.full((len(neg),), 0.5 / len(neg)), torch.full((len(pos),), 0.5 / len(pos))]).double()
    mean, std = x.mean(0), x.std(0) + 1e-6
    xs = (x - mean) / std
    beta = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([beta, bias], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        per_row = torch.nn.functional.binary_cross_entropy_with_logits(xs @ beta + bias, y, reduction="none")
        loss = (w * per_row).sum() + l2 * beta.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    beta, bias = beta.detach(), bias.detach()
    return lambda f: (((torch.from_numpy(f).double() - mean) / std) @ beta + bias).numpy()


def one_variant(images: torch.Tensor, name: str, rng: np.random.Generator) -> torch.Tensor:
    """T(x) for each image, one of T's variants at random (rot90: 90 or 270 degrees)."""
    from ganvas.metrics.leak import LEAK_TRANSFORMS

    variants = torch.stack(LEAK_TRANSFORMS[name](images))  # [k, N, 3, H, W]
    return variants[torch.from_numpy(rng.integers(0, len(variants), len(images))), torch.arange(len(images))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+")
    p.add_argument("--ref", required=True, help="the data set the runs learned (all of it is used)")
    p.add_argument("--num", type=int, default=500, help="samples per run")
    p.add_argument("--inject", type=float, default=0.0, help="share of samples rotated by 90 degrees on purpose")
    p.add_argument("--transforms", default="rot90,rot180,vflip")
    p.add_argument("--spaces", default="pixels,effnet-lite0")
    p.add_argument("--out", default=None)
    args = p.parse_args()

    from ganvas.checkpoint import load_generator
    from ganvas.config import DataConfig
    from ganvas.data.sources import load_data
    from ganvas.metrics.evaluate import _generated_batches
    from ganvas.metrics.features import build_extractor, extract

    info = machine()
    print(f"machine: {info}")
    rows = []
    for run in args.runs:
        G, record = load_generator(run)
        data = load_data(DataConfig(source=args.ref, resolution=int(record["resolution"])), progress=False)
        real = torch.from_numpy(np.asarray(data.images))
        rng = np.random.default_rng(0)
        order = torch.from_numpy(rng.permutation(len(real)))
        train, held = real[order[: len(real) // 2]], real[order[len(real) // 2:]]
        gen = torch.from_numpy(np.concatenate([b.numpy() for b in _generated_batches(G, args.num, 64)]))
        k = round(args.inject * len(gen))
        gen[:k] = gen[:k].rot90(1, dims=(2, 3))
        for space in args.spaces.split(","):
            fx = build_extractor(space)

            def feats(x: torch.Tensor) -> np.ndarray:
                return extract(fx, x, batch_size=64)

            f_train, f_held, f_gen = feats(train), feats(held), feats(gen)
            for name in args.transforms.split(","):
                probe = fit_probe((feats(one_variant(train, name, rng)), f_train))
                share = {key: float(np.mean(probe(f) > 0)) for key, f in
                         [("B", f_held), ("C", feats(one_variant(held, name, rng))), ("L", f_gen),
                          ("L_transformed", feats(one_variant(gen, name, rng)))]}
                contrast = share["C"] - share["B"]
                se = math.sqrt(share["L"] * (1 - share["L"]) / len(gen) + share["B"] * (1 - share["B"]) / len(held))
                row = {"run": run, "space": space, "transform": name, "inject_rot90": args.inject,
                       **{key: round(v, 3) for key, v in share.items()},
                       "share": round((share["L"] - share["B"]) / contrast, 3),
                       "power": round((share["L_transformed"] - share["L"]) / contrast, 3),
                       "min_share": round(3 * se / contrast, 3)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"experiment": "orientation probe leak reading", "command":
                                              " ".join(sys.argv), "machine": info, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
