"""Step time of the 2-D MLP GAN (the `ganvas bench modes` recipes) against a hand-written minimal loop.

    python benchmarks/mlp_step.py                      # batches 128, 256, 512, one thread
    python benchmarks/mlp_step.py --batch 256 --threads 2 --out benchmarks/results/<date>-cpu2-mlp-step.json

For each batch size it times (a) ganvas's real training loop (`ganvas.train.train` on grid25 with the
`long` recipe's settings at that batch: median of its log ticks after the first), and (b) the same
arithmetic written out by hand with nothing around it: G and D MLPs of the same shapes, non-saturating
loss, R1 on one D step in 4, fused Adam, and a generator EMA. The two alternate, --reps times each, in
one process with the same thread count, so their ratio is measured side by side; this machine's speed
drifts by 10-20% within an hour, so quote the ratio, not the milliseconds. A ratio near 1 says the
loop adds nothing worth removing, and a faster run needs fewer or cheaper matrix products.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine  # noqa: E402


def ganvas_ms_per_step(batch: int, steps: int) -> float:
    from ganvas.apps.bench_modes import recipe_for_loss
    from ganvas.config import build_config
    from ganvas.train import train
    from ganvas.train.stats import read_stats

    kimg = steps * batch / 1000
    cfg = build_config(overrides={
        **recipe_for_loss("long", "nonsat"), "data.source": "grid25", "loss.name": "nonsat", "train.batch": batch,
        "train.kimg": kimg, "train.log_kimg": kimg / 10, "train.tensorboard": False, "train.seed": 0,
        "train.snapshot_kimg": 1e9, "train.checkpoint_kimg": 1e9, "train.threads": torch.get_num_threads()})
    with tempfile.TemporaryDirectory() as tmp:
        train(cfg, Path(tmp) / "run", progress=False, log=lambda m: None)
        rates = [r["Timing/img_per_sec"] for r in read_stats(Path(tmp) / "run" / "stats.jsonl")
                 if "Timing/img_per_sec" in r]
    return 1000 * batch / statistics.median(rates[1:] or rates)


def _mlp(d_in: int, d_out: int, act) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, 128), act(), nn.Linear(128, 128), act(), nn.Linear(128, 128), act(),
                         nn.Linear(128, d_out))


def minimal_ms_per_step(batch: int, steps: int) -> float:
    """The same arithmetic as ganvas's step, written out with nothing around it; median of 10 blocks."""
    torch.manual_seed(0)
    G = _mlp(8, 2, lambda: nn.ReLU(inplace=True))
    D = _mlp(2, 1, lambda: nn.LeakyReLU(0.2, inplace=True))
    G_ema = copy.deepcopy(G).requires_grad_(False)
    opt_G = torch.optim.Adam(G.parameters(), 2e-3, betas=(0.0, 0.99), fused=True)
    opt_D = torch.optim.Adam(D.parameters(), 2e-3, betas=(0.0, 0.99), fused=True)
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    means = torch.cartesian_prod(axis, axis)
    softplus = nn.functional.softplus

    def step(i: int) -> None:
        real = means[torch.randint(0, 25, (batch,))] + 0.05 * torch.randn(batch, 2)
        opt_D.zero_grad(set_to_none=True)
        with torch.no_grad():
            fake = G(torch.randn(batch, 8))
        if i % 4 == 0:  # R1 (gamma 0.1) on one D step in 4, weighted by 4
            real.requires_grad_(True)
            logits_real, logits_fake = D(real).flatten(), D(fake).flatten()
            grad, = torch.autograd.grad(logits_real.sum(), real, create_graph=True)
            loss = softplus(-logits_real).sum() + softplus(logits_fake).sum() + 0.2 * grad.square().sum()
        else:
            logits = D(torch.cat([real, fake])).flatten()
            loss = softplus(-logits[:batch]).sum() + softplus(logits[batch:]).sum()
        (loss / batch).backward()
        opt_D.step()
        opt_G.zero_grad(set_to_none=True)
        (softplus(-D(G(torch.randn(batch, 8))).flatten()).sum() / batch).backward()
        opt_G.step()
        with torch.no_grad():
            torch._foreach_lerp_(list(G_ema.parameters()), list(G.parameters()), 0.01)

    for i in range(min(200, steps)):  # warm-up
        step(i)
    block = max(1, steps // 10)
    times = []
    for b in range(10):
        t0 = time.perf_counter()
        for i in range(block):
            step(b * block + i)
        times.append((time.perf_counter() - t0) / block)
    return 1000 * statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", default="128,256,512", help="comma list of batch sizes")
    p.add_argument("--steps", type=int, default=2000, help="steps per measurement")
    p.add_argument("--reps", type=int, default=2, help="alternations of the two loops per batch size")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="write the results as JSON here")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    info = machine()
    print(f"machine: {info}")
    rows = []
    for batch in [int(b) for b in args.batch.split(",")]:
        ours, minimal = [], []
        for _ in range(args.reps):
            ours.append(ganvas_ms_per_step(batch, args.steps))
            minimal.append(minimal_ms_per_step(batch, args.steps))
        row = {"batch": batch, "ganvas_ms_per_step": round(statistics.median(ours), 3),
               "minimal_ms_per_step": round(statistics.median(minimal), 3)}
        row["ratio"] = round(row["ganvas_ms_per_step"] / row["minimal_ms_per_step"], 3)
        rows.append(row)
        print(f"batch {batch:4d}: ganvas {row['ganvas_ms_per_step']:.3f} ms/step, minimal loop "
              f"{row['minimal_ms_per_step']:.3f} ms/step, ratio {row['ratio']:.3f}", flush=True)
    if args.out:
        result = {"benchmark": "mlp_step", "machine": info, "steps": args.steps, "reps": args.reps, "rows": rows}
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
