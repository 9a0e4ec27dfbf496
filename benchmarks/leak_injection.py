"""Would `ganvas leak` catch a leak in these very samples? Inject one and check.

    python benchmarks/leak_injection.py RUN_DIR --ref TRAINING_FOLDER [--num 500] [--shares 0,0.25,0.5]

Generates --num samples of the run's generator (seeds 0 .. num-1, as `ganvas leak` does), then for each
transform T and each share q rotates or flips a random q of them by T on purpose and runs the leak check
in pixel features (16x16) against --ref. A check that works reports "ok" at q = 0 and flags T with an
estimated share near q once q reaches its min_fraction (0.2). Prints one line per (T, q), and the
machine; --out writes JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run")
    p.add_argument("--ref", required=True, help="the images the run trained on")
    p.add_argument("--num", type=int, default=500)
    p.add_argument("--shares", default="0,0.25,0.5")
    p.add_argument("--transforms", default="rot90,rot180,vflip")
    p.add_argument("--out", default=None)
    args = p.parse_args()

    from ganvas.checkpoint import load_generator
    from ganvas.config import DataConfig
    from ganvas.data.sources import load_data
    from ganvas.metrics.evaluate import _generated_batches, _subset
    from ganvas.metrics.features import build_extractor
    from ganvas.metrics.leak import LEAK_TRANSFORMS, leak_check

    G, record = load_generator(args.run)
    data = load_data(DataConfig(source=args.ref, resolution=int(record["resolution"])))
    real = _subset(data, max(args.num, 4), 0)
    gen = torch.from_numpy(np.concatenate([b.numpy() for b in _generated_batches(G, args.num, 64)]))
    fx = build_extractor("pixels")
    info = machine()
    print(f"machine: {info}\n{args.run}: {len(gen)} samples against {len(real)} images of {args.ref}")
    rows = []
    rng = np.random.default_rng(0)
    for name in args.transforms.split(","):
        for q in [float(s) for s in args.shares.split(",")]:
            leaked = gen.clone()
            pick = torch.from_numpy(rng.permutation(len(gen))[: round(q * len(gen))])
            if len(pick):
                variants = torch.stack(LEAK_TRANSFORMS[name](gen[pick]))  # [k, n, 3, H, W]
                which = torch.from_numpy(rng.integers(0, len(variants), len(pick)))
                leaked[pick] = variants[which, torch.arange(len(pick))]
            t = leak_check(real, leaked, fx, transforms=[name], seed=0).transforms[name]
            rows.append({"transform": name, "injected_share": q, "state": t.state,
                         "estimated_share": round(t.fraction, 3), "power_ratio": round(t.power_ratio, 3),
                         "margin_ratio": round(t.margin_ratio, 3), "distance_ratio": round(t.distance_ratio, 3),
                         "min_share": round(t.min_share, 3)})
            print(f"{name:<7} injected {q:4.0%}: {t.state:<13} estimated share {t.fraction:4.0%}  power "
                  f"x{t.power_ratio:.2f}  margin x{t.margin_ratio:.2f}  distance x{t.distance_ratio:.2f}  flags from "
                  f"~{t.min_share:.0%}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"benchmark": "leak_injection", "run": args.run, "ref": args.ref,
                                              "num": args.num, "machine": info, "rows": rows}, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
