"""Training step time with and without one config setting, measured side by side (A/B).

    python benchmarks/ab_step.py --set train.reuse_fakes=true                 # mlp, dcgan64, style64
    python benchmarks/ab_step.py --set train.reuse_fakes=true --workloads mlp --reps 4 \
        --out benchmarks/results/<date>-cpu2-ab-reuse-fakes.json

Each measurement is a fresh child process running the real training loop (`ganvas.train.train`) on a
workload's config, without (A) or with (B) the `--set` overrides; A and B alternate --reps times, so their
ratio is measured side by side on a machine whose speed drifts by 10-20% within an hour. A child reports
the median step time of its log ticks after the first. Quote the paired ratios, not the milliseconds.

Workloads: `mlp` (grid25, the `long` modes recipe at batch 256, one thread), `dcgan64` (the classic
DCGAN-64 shapes, batch 64, on the emoji set), `style64` (`--preset auto` at 64 px on the emoji set).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine  # noqa: E402

WORKLOADS = ("mlp", "dcgan64", "style64")


def workload_config(name: str, threads: int, sets: dict):
    """(config, batch) for one workload: a short run with ten log ticks, plus the B side's overrides."""
    from ganvas.apps.bench_modes import recipe_for_loss
    from ganvas.config import build_config

    common = {"train.tensorboard": False, "train.seed": 0, "train.snapshot_kimg": 1e9,
              "train.checkpoint_kimg": 1e9, "train.threads": threads}
    preset, num_images = "default", None
    if name == "mlp":  # the `long` modes recipe on grid25
        batch, steps = 256, 2000
        overrides = {**recipe_for_loss("long", "nonsat"), "data.source": "grid25", "loss.name": "nonsat"}
    elif name == "dcgan64":  # the classic DCGAN-64 shapes
        batch, steps = 64, 60
        overrides = {"data.source": "emoji", "data.resolution": 64, "model.name": "dcgan", "model.width": 64,
                     "model.z_dim": 100}
    elif name == "style64":
        batch, steps = 32, 40
        overrides = {"data.source": "emoji", "data.resolution": 64}
        preset, num_images = "auto", 1636  # the emoji set's size
    else:
        raise SystemExit(f"unknown workload {name!r}: choose {', '.join(WORKLOADS)}")
    kimg = steps * batch / 1000
    overrides.update(common, **{"train.batch": batch, "train.kimg": kimg, "train.log_kimg": kimg / 10}, **sets)
    return build_config(preset, overrides, num_images=num_images), batch


def child(name: str, threads: int, sets: dict) -> None:
    import torch

    from ganvas.train import train
    from ganvas.train.stats import read_stats

    torch.set_num_threads(threads)
    cfg, batch = workload_config(name, threads, sets)
    with tempfile.TemporaryDirectory() as tmp:
        train(cfg, Path(tmp) / "run", progress=False, log=lambda m: None)
        rates = [r["Timing/img_per_sec"] for r in read_stats(Path(tmp) / "run" / "stats.jsonl")
                 if "Timing/img_per_sec" in r]
    print(json.dumps({"ms_per_step": 1000 * batch / statistics.median(rates[1:] or rates)}))


def run_child(name: str, threads: int, sets: dict) -> float:
    out = subprocess.run([sys.executable, __file__, "--child", name, "--threads", str(threads),
                          "--child-sets", json.dumps(sets)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{name} child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["ms_per_step"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="the B side's config override (repeatable)")
    p.add_argument("--workloads", default=",".join(WORKLOADS), help="comma list of " + ", ".join(WORKLOADS))
    p.add_argument("--reps", type=int, default=3, help="alternations of A and B per workload")
    p.add_argument("--threads", type=int, default=None, help="default: 1 for mlp, 2 for the image models")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--child-sets", default="{}", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child, args.threads or 1, json.loads(args.child_sets))
        return
    from ganvas.config import parse_set

    if not args.sets:
        p.error("give the B side's setting with --set KEY=VALUE")
    sets = parse_set(args.sets)
    info = machine()
    print(f"machine: {info}\nB: {sets}")
    rows = []
    for name in args.workloads.split(","):
        threads = args.threads or (1 if name == "mlp" else 2)
        a, b = [], []
        for _ in range(args.reps):
            a.append(run_child(name, threads, {}))
            b.append(run_child(name, threads, sets))
        row = {"workload": name, "threads": threads, "a_ms_per_step": round(statistics.median(a), 3),
               "b_ms_per_step": round(statistics.median(b), 3),
               "paired_speedups": [round(x / y, 3) for x, y in zip(a, b)]}
        row["median_paired_speedup"] = round(statistics.median(row["paired_speedups"]), 3)
        rows.append(row)
        print(f"{name:8s} ({threads} thr): A {row['a_ms_per_step']:9.3f} ms/step, B {row['b_ms_per_step']:9.3f} "
              f"ms/step; B speedup {row['median_paired_speedup']:.3f} (pairs {row['paired_speedups']})", flush=True)
    if args.out:
        result = {"benchmark": "ab_step", "machine": info, "b_sets": {k: str(v) for k, v in sets.items()},
                  "reps": args.reps, "rows": rows}
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
