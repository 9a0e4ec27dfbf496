"""Generation throughput: seeds -> uint8 images through ganvas's sampling path.

    python benchmarks/sample_throughput.py --resolution 64 --width 64 --z-dim 100 --batch 64

Uses a freshly initialised generator (speed does not depend on the weights) wrapped in the same
`GeneratorHandle` that `ganvas generate` and `ganvas.load` use.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="dcgan")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--z-dim", type=int, default=100)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--images", type=int, default=2048)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    import torch

    from ganvas.config import ModelConfig
    from ganvas.generate.api import GeneratorHandle
    from ganvas.models import MODELS, DataInfo

    torch.manual_seed(0)
    G, _ = MODELS.get(args.model).build(ModelConfig(z_dim=args.z_dim, width=args.width),
                                        DataInfo("image", resolution=args.resolution))
    handle = GeneratorHandle(G.eval(), {"kind": "image", "fingerprint": "benchmark"})
    handle.generate_array(range(args.batch), batch_size=args.batch)  # warm-up
    t0 = time.perf_counter()
    handle.generate_array(range(args.images), batch_size=args.batch)
    dt = time.perf_counter() - t0
    report = {"benchmark": "sample_throughput", "model": args.model, "resolution": args.resolution,
              "width": args.width, "batch": args.batch, "images": args.images,
              "img_per_sec": round(args.images / dt, 1), "machine": machine()}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"machine: {report['machine']}")
        print(f"{args.model} {args.resolution}px width {args.width}: {report['img_per_sec']} img/s "
              f"(batch {args.batch}, {args.images} seeds -> uint8 images)")


if __name__ == "__main__":
    main()
