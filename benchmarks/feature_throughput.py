"""Feature-extraction throughput for FID/KID (`ganvas.metrics.features.extract`).

    python benchmarks/feature_throughput.py --extractor effnet-lite0 --resolution 32 --batch 64

Extracts features of the first --batches x --batch emoji (uint8, at --resolution; the extractor resizes
to its own input size) for each precision, after one warm-up batch, and reports img/s. bf16 means
`torch.autocast(dtype=torch.bfloat16)` around the fp32 extractor; its features are compared with the
fp32 ones image by image (cosine similarity), and it is only fit for metrics if the minimum is > 0.999.
Figures from one invocation are measured side by side and may be compared as ratios. Like the `ganvas`
command, it keeps freed memory for reuse (`ganvas.utils.malloc`); GANVAS_MALLOC=system measures glibc's
defaults instead.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _perf  # noqa: E402
from _machine import machine  # noqa: E402

COSINE_OK = 0.999


def measure(fx, images, batch_size: int, precision: str):
    import torch

    from ganvas.metrics.features import extract

    def run(x):
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
        with ctx:
            return extract(fx, x, batch_size=batch_size)

    run(images[:batch_size])  # warm-up: oneDNN primitive creation, allocator
    t0 = time.perf_counter()
    feats = run(images)
    seconds = time.perf_counter() - t0
    return {"precision": precision, "img_per_sec": round(len(images) / seconds, 1)}, feats


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--extractor", default="effnet-lite0")
    p.add_argument("--weights", default=None, help="weights file for extractors that need one (inception)")
    p.add_argument("--resolution", type=int, default=32, help="input image size (emoji set)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--batches", type=int, default=4, help="timed batches per precision")
    p.add_argument("--precision", default="fp32,bf16", help="comma list of fp32, bf16 (autocast)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    malloc = _perf.process_setup()  # as the CLI does (GANVAS_MALLOC=system: off)

    import numpy as np

    from ganvas.data.emoji import load_emoji
    from ganvas.metrics.features import build_extractor

    images = load_emoji(args.resolution).images[: args.batch * args.batches]  # uint8 [N, 3, R, R]
    t0 = time.perf_counter()
    fx = build_extractor(args.extractor, weights=args.weights)
    build_sec = time.perf_counter() - t0
    results, feats = [], {}
    for precision in args.precision.split(","):
        r, feats[precision] = measure(fx, images, args.batch, precision)
        results.append(r)
    if "fp32" in feats:  # agreement of reduced precision with fp32
        ref = feats["fp32"]
        for r in results:
            f = feats[r["precision"]]
            cos = (f * ref).sum(1) / (np.linalg.norm(f, axis=1) * np.linalg.norm(ref, axis=1) + 1e-12)
            r["cosine_min"], r["cosine_mean"] = round(float(cos.min()), 6), round(float(cos.mean()), 6)
            r["ok_for_metrics"] = bool(cos.min() > COSINE_OK)

    report = {"benchmark": "feature_throughput", "extractor": args.extractor, "label": fx.label,
              "dim": fx.dim, "resolution": args.resolution, "batch": args.batch, "images": len(images),
              "build_sec": round(build_sec, 2), "malloc": malloc, "machine": machine(), "results": results}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"machine: {report['machine']}")
    print(f"{args.extractor} ({fx.dim}-d), {len(images)} emoji at {args.resolution} px, batch {args.batch}; "
          f"build {build_sec:.2f} s; malloc {malloc}")
    base = results[0]["img_per_sec"]
    print(f"{'precision':<12}{'img/s':>10}{'ratio':>8}{'cos min':>10}{'cos mean':>10}")
    for r in results:
        cos = f"{r['cosine_min']:>10.5f}{r['cosine_mean']:>10.5f}" if "cosine_min" in r else ""
        flag = "" if r.get("ok_for_metrics", True) else f"  (cosine below {COSINE_OK}: not fit for metrics)"
        print(f"{r['precision']:<12}{r['img_per_sec']:>10.1f}{r['img_per_sec'] / base:>8.2f}{cos}{flag}")


if __name__ == "__main__":
    main()
