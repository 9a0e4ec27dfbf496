"""`ganvas bench modes`: the mode-collapse benchmark on ring8 / grid25, beside published results.

Each run trains the 2-D MLP GAN with a named recipe and its own seed, draws 2,500 samples from the EMA
generator, and scores them with `ganvas.metrics.modes.mode_stats`. Results are the mean and standard
error over runs (PacGAN / VEEGAN protocol, see REFERENCES section 2).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

import torch

from ganvas.checkpoint import load_generator
from ganvas.config import LOSS_RECOMMENDS, build_config
from ganvas.data.toy import load_toy
from ganvas.errors import ConfigError
from ganvas.losses import LOSSES
from ganvas.metrics.modes import mode_stats
from ganvas.models.base import synthesize
from ganvas.train import train
from ganvas.utils.seeding import latents_from_seeds

NUM_SAMPLES = 2500

# Published rows: (modes, high-quality fraction, reverse KL or None), per data set.
PUBLISHED: list[tuple[str, dict[str, tuple[float, float, float | None]]]] = [
    ("PacGAN Table 1, GAN", {"ring8": (6.3, 0.982, 0.45), "grid25": (17.3, 0.948, 0.70)}),
    ("PacGAN4", {"ring8": (7.8, 0.959, 0.07), "grid25": (24.8, 0.936, 0.04)}),
    ("VEEGAN (Table 1)", {"ring8": (8.0, 0.529, None), "grid25": (24.6, 0.40, None)}),
]

# Recipes are config overrides (data), found by experiment on grid25 (see the README's evaluation
# section). Samples that miss every mode are mostly "bridges" between modes, and they thin out with the
# number of G updates and with less noisy ones, so the recipes favour many steps on large batches: a
# 128-wide MLP, a half-cosine learning-rate ramp-down, a light R1 penalty on D (on one D step in 4, weighted
# by 4) and a generator EMA; the networks work on the points at unit scale (model.point_scale auto:
# grid25's coordinates divided by 4). Adam without momentum (betas (0, 0.99), as StyleGAN2) lands 96.5% of
# grid25's samples on a mode against 94.8% with (0.5, 0.999).
# "default" (batch 256, 6,600 kimg) trains G on the D step's fakes (train.reuse_fakes), which makes a step
# 1.19x faster; the time saved buys 10% more steps, within 2 minutes per run on 2 CPU cores. "long" is the
# same without reuse_fakes for 6,000 kimg (a little over 2 minutes); "short" (batch 128, 3,000 kimg, R1 on
# every D step) takes about 100 s.
RECIPES: dict[str, dict[str, object]] = {
    "short": {"train.batch": 128, "train.kimg": 3000.0, "model.hidden": 128, "model.depth": 3,
              "model.z_dim": 8, "optim.G.lr": 2e-3, "optim.D.lr": 2e-3, "optim.lr_rampdown": 0.5,
              "optim.G.betas": (0.0, 0.99), "optim.D.betas": (0.0, 0.99),
              "loss.r1_gamma": 0.1, "train.ema_kimg": 20.0},
}
RECIPES["long"] = {**RECIPES["short"], "train.batch": 256, "train.kimg": 6000.0, "loss.r1_interval": 4}
RECIPES["default"] = {**RECIPES["long"], "train.kimg": 6600.0, "train.reuse_fakes": True}


def run_modes_bench(data: str, runs: int = 10, loss: str = "nonsat", recipe: str = "default",
                    overrides: dict | None = None, jobs: int = 1, log: Callable[[str], None] = print) -> dict:
    """Train and score `runs` runs with seeds 0 .. runs-1. With `jobs` > 1 the runs go to that many worker
    processes at once, each with its share of the CPU threads (unless `train.threads` is set): the same
    runs, in less wall time; a run's result differs from a one-process one only by float rounding of the
    thread count."""
    if data not in ("ring8", "grid25"):
        raise ConfigError(f"bench modes runs on ring8 or grid25, not {data!r}")
    if recipe not in RECIPES:
        raise ConfigError(f"unknown recipe {recipe!r}; choose one of: {', '.join(RECIPES)}")
    if runs < 1:
        raise ConfigError("--runs must be at least 1")
    if jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    jobs = min(jobs, runs)
    values = {**recipe_for_loss(recipe, loss), **(overrides or {})}
    if jobs > 1 and "train.threads" not in values:
        values["train.threads"] = max(1, _cpu_count() // jobs)
    checked = build_config(overrides={"data.source": data, "loss.name": loss, **values})  # bad settings fail here
    rows: list[dict] = [{} for _ in range(runs)]

    def report(r: int, stats: dict) -> None:
        rows[r] = stats
        done = sum(1 for row in rows if row)
        log(f"run {r + 1} ({done}/{runs} done): {stats['modes']}/{stats['num_modes']} modes, "
            f"{100 * stats['high_quality']:.1f}% high-quality, reverse KL {stats['reverse_kl']:.4f}, "
            f"{stats['seconds']:.0f} s")

    if jobs == 1:
        for r in range(runs):
            report(r, one_run(data, loss, r, values))
    else:
        context = multiprocessing.get_context("spawn")  # no forked copies of torch's thread pools
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = {pool.submit(one_run, data, loss, r, values): r for r in range(runs)}
            try:
                for future in as_completed(futures):
                    report(futures[future], future.result())
            except BaseException:  # a failed run (or Ctrl-C) stops the runs not yet started
                pool.shutdown(cancel_futures=True)
                raise
    return {"data": data, "loss": loss, "recipe": recipe, "settings": _plain(values), "runs": runs,
            "samples": NUM_SAMPLES, "jobs": jobs,
            "threads_per_run": checked.train.threads or torch.get_num_threads(),
            "modes": _mean_se([r["modes"] for r in rows]),
            "high_quality": _mean_se([r["high_quality"] for r in rows]),
            "reverse_kl": _mean_se([r["reverse_kl"] for r in rows]),
            "seconds_per_run": _mean_se([r["seconds"] for r in rows]), "per_run": rows}


def one_run(data: str, loss: str, r: int, values: dict) -> dict:
    """Run r of the benchmark: train with seed r, then score NUM_SAMPLES samples of seeds r * 10^6 + i."""
    cfg = build_config(overrides={
        "data.source": data, "loss.name": loss, "train.seed": r, "train.tensorboard": False,
        "train.snapshot_kimg": 1e9, "train.checkpoint_kimg": 1e9, "train.log_kimg": 1e9, **values})
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        train(cfg, Path(tmp) / "run", progress=False, log=lambda m: None)
        G, _ = load_generator(Path(tmp) / "run")
    dist = load_toy(data)
    z = latents_from_seeds(range(r * 1_000_000, r * 1_000_000 + NUM_SAMPLES), G.z_dim)
    stats = mode_stats(synthesize(G, z, batch_size=NUM_SAMPLES).numpy(), dist.means.numpy(), dist.std)
    stats["seconds"] = time.perf_counter() - t0
    return stats


def _cpu_count() -> int:
    """CPUs this process may run on (affinity, e.g. under taskset or a container limit, where supported)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def recipe_for_loss(recipe: str, loss: str) -> dict[str, object]:
    """The recipe's settings, minus those a loss brings its own of: its recommended optimizer settings
    (WGAN-GP: lr 1e-4, betas (0, 0.9), 5 critic steps) and, for a loss with its own gradient penalty,
    R1."""
    values = dict(RECIPES[recipe])
    for key in LOSS_RECOMMENDS.get(loss, {}):
        values.pop(key, None)
    if LOSSES.get(loss).penalty:
        values.pop("loss.r1_gamma", None)
        values.pop("loss.r1_interval", None)
    return values


def _plain(values: dict) -> dict:
    """The settings a result was measured with, as JSON values (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in sorted(values.items())}


def _mean_se(values: list[float]) -> dict[str, float]:
    if any(math.isinf(v) for v in values):  # a run with no high-quality sample has an infinite reverse KL
        return {"mean": math.inf, "se": math.inf}
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return {"mean": mean, "se": se}


def format_table(result: dict) -> str:
    data = result["data"]
    lines = [f"{'':<28}{'modes':>14}{'high-quality':>16}{'reverse KL':>18}"]
    m, hq, kl = result["modes"], result["high_quality"], result["reverse_kl"]
    name = f"ganvas {result['loss']} ({result['runs']} runs)"
    lines.append(f"{name:<28}{m['mean']:>8.2f} ± {m['se']:<4.2f}{100 * hq['mean']:>9.1f} ± {100 * hq['se']:<4.1f}"
                 f"{kl['mean']:>11.4f} ± {kl['se']:<6.4f}")
    for pub, values in PUBLISHED:
        pm, phq, pkl = values[data]
        kl_text = f"{pkl:>11.2f}" if pkl is not None else f"{'—':>11}"
        lines.append(f"{pub:<28}{pm:>8.1f}{'':7}{100 * phq:>9.1f}{'':7}{kl_text}")
    return "\n".join(lines)
