"""Training throughput of the real ganvas training loop (data, D and G steps, EMA, stats).

    python benchmarks/train_throughput.py --model dcgan --resolution 64 --batch 64 --width 64 --z-dim 100

Runs `ganvas.train.train` for --kimg on the built-in emoji set in a temporary folder for each
precision, and reports the median img/s over the log ticks after the first (warm-up) one. Figures
from one invocation are measured side by side and may be compared as ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine  # noqa: E402


def measure(args, precision: str) -> dict:
    from ganvas.config import build_config
    from ganvas.train import train
    from ganvas.train.stats import read_stats

    overrides = {"data.source": "emoji", "data.resolution": args.resolution, "model.name": args.model,
                 "model.width": args.width, "model.z_dim": args.z_dim, "train.batch": args.batch,
                 "train.kimg": args.kimg, "train.log_kimg": args.kimg / 8, "train.snapshot_kimg": 1e6,
                 "train.checkpoint_kimg": 1e6, "train.tensorboard": False, "train.precision": precision,
                 "train.channels_last": precision != "fp32-nchw"}
    if precision == "fp32-nchw":
        overrides["train.precision"] = "fp32"
    cfg = build_config(overrides=overrides)
    with tempfile.TemporaryDirectory() as tmp:
        train(cfg, Path(tmp) / "run", progress=False, log=lambda m: None)
        rows = [r for r in read_stats(Path(tmp) / "run" / "stats.jsonl") if "Timing/img_per_sec" in r]
    rates = [r["Timing/img_per_sec"] for r in rows[1:]] or [rows[-1]["Timing/img_per_sec"]]
    rate = statistics.median(rates)
    return {"precision": precision, "img_per_sec": round(rate, 1), "sec_per_kimg": round(1000 / rate, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="dcgan")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--z-dim", type=int, default=100)
    p.add_argument("--kimg", type=float, default=4.0)
    p.add_argument("--precision", default="fp32-nchw,fp32,bf16",
                   help="comma list of fp32-nchw (fp32, NCHW), fp32 (channels_last), bf16 (autocast, channels_last)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    results = [measure(args, prec) for prec in args.precision.split(",")]
    report = {"benchmark": "train_throughput", "model": args.model, "resolution": args.resolution,
              "batch": args.batch, "width": args.width, "z_dim": args.z_dim, "machine": machine(),
              "results": results}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"machine: {report['machine']}")
    print(f"{args.model} {args.resolution}px width {args.width} batch {args.batch}, {args.kimg:g} kimg per setting")
    base = results[0]["img_per_sec"]
    print(f"{'precision':<12}{'img/s':>10}{'sec/kimg':>10}{'ratio':>8}")
    for r in results:
        print(f"{r['precision']:<12}{r['img_per_sec']:>10.1f}{r['sec_per_kimg']:>10.2f}{r['img_per_sec'] / base:>8.2f}")


if __name__ == "__main__":
    main()
