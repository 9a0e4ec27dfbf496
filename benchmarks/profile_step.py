"""Where a training iteration's time goes: the profile of what is left after the speed work.

    python benchmarks/profile_step.py --preset auto --resolution 256 --batch 64 --precision bf16 --device cuda
    python benchmarks/profile_step.py --model dcgan --resolution 64 --width 64 --z-dim 100 --batch 64 --device cuda

Builds G, D, optimizers and data exactly as `ganvas train` does (`build_setup`), runs warm-up iterations
(D steps, G step, EMA, as the loop runs them), then profiles --iters iterations with `torch.profiler`.
It reports, per iteration:

- the wall time (synchronised at both ends of the profiled span) and the images per second it implies;
- on CUDA, the GPU busy time (the union of all kernel intervals) and its share of the wall time: a low share
  means the step is bound by launches or the host, not by the GPU's arithmetic;
- kernels launched per iteration;
- the top kernels (CUDA) or operators (CPU) by self time, grouped into families (convolution, resampling,
  matmul, element-wise, reductions, copies, optimizer, other).

One process, one setting; figures are for reading where time goes, not for quoting throughput
(`train_throughput.py` measures that on the full loop). The profiler slows the host, so for a host-bound
step the busy share reads low: divide the GPU busy time by an unprofiled iteration's time instead.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _perf  # noqa: E402
from _machine import machine  # noqa: E402

FAMILIES = (  # first match wins; kernel names (CUDA) and aten op names (CPU)
    ("convolution", r"conv|cudnn|implicit_gemm|wgrad|dgrad|fprop|xmma|sm\d+_.*nhwc|winograd"),
    ("resampling", r"upsample|interpolate|avg_pool|grid_sampler|pixel_(un)?shuffle"),  # ("bilinear" is no matmul)
    ("matmul", r"gemm|matmul|addmm|\bmm\b|bmm|cublas|cutlass|linear"),
    ("optimizer", r"adam|foreach|multi_tensor|lerp"),
    ("copy / layout", r"copy|memcpy|memset|contiguous|transpose|permute|cat|fill|to_copy|nchwToNhwc|nhwcToNchw"),
    ("reduction", r"reduce|sum|mean|norm|softmax|std|var"),
    ("element-wise", r"elementwise|vectorized|unrolled|pointwise|mul|add|leaky|relu|sigmoid|tanh|pow|sqrt|rsqrt|"
                     r"div|exp|where|clamp|sign|softplus|triton"),
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _perf.add_config_args(p, batch_help="train.batch; default: the preset's")
    p.add_argument("--precision", choices=tuple(_perf.PRECISIONS), default="bf16")
    p.add_argument("--warmup", type=int, default=5, help="iterations before profiling")
    p.add_argument("--iters", type=int, default=5, help="profiled iterations")
    p.add_argument("--top", type=int, default=15, help="rows in the top-kernels table")
    _perf.add_output_args(p)
    args = p.parse_args(argv)
    if args.warmup < 1 or args.iters < 1:
        p.error("--warmup and --iters must be at least 1")
    return args


def family(name: str) -> str:
    low = name.lower()
    for fam, pattern in FAMILIES:
        if re.search(pattern, low):
            return fam
    return "other"


def union_us(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of [start, end) intervals, in their unit."""
    total, end = 0.0, float("-inf")
    for s, e in sorted(intervals):
        if s > end:
            total += e - s
            end = e
        elif e > end:
            total += e - end
            end = e
    return total


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    cfg, s, step, drain = _perf.training_iteration(args)
    batch, n_critic = cfg.train.batch, cfg.train.n_critic
    nimg = 0

    def iteration() -> None:
        nonlocal nimg
        step(nimg)
        nimg += n_critic * batch

    def sync() -> None:
        if args.device == "cuda":
            torch.cuda.synchronize()

    for _ in range(args.warmup):
        iteration()
    drain()
    sync()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device == "cuda" else [])
    with profile(activities=activities) as prof:
        t0 = time.perf_counter()
        for _ in range(args.iters):
            iteration()
        sync()
        wall = (time.perf_counter() - t0) / args.iters
    drain()

    rows: dict[str, list[float]] = {}
    if args.device == "cuda":
        kernels = [e for e in prof.events() if e.device_type == DeviceType.CUDA]
        for e in kernels:
            rows.setdefault(e.name, [0.0, 0])
            rows[e.name][0] += e.time_range.elapsed_us()
            rows[e.name][1] += 1
        busy = union_us([(e.time_range.start, e.time_range.end) for e in kernels]) / 1e6 / args.iters
        launches = len(kernels) / args.iters
    else:
        for a in prof.key_averages():
            if a.self_cpu_time_total > 0:
                rows[a.key] = [float(a.self_cpu_time_total), a.count]
        busy, launches = None, None
    total_us = sum(v[0] for v in rows.values()) or 1.0
    families: dict[str, float] = {}
    for name, (us, _) in rows.items():
        families[family(name)] = families.get(family(name), 0.0) + us
    top = sorted(rows.items(), key=lambda kv: -kv[1][0])[:args.top]
    report = {
        "machine": machine(), "setting": args.precision, **_perf.describe_model(cfg),
        "n_critic": n_critic, "r1_interval": cfg.loss.r1_interval, "aug": cfg.aug.name, "iters": args.iters,
        "wall_ms_per_iter": round(wall * 1e3, 3), "img_per_sec": round(n_critic * batch / wall, 1),
        "gpu_busy_ms_per_iter": None if busy is None else round(busy * 1e3, 3),
        "gpu_busy_share": None if busy is None else round(busy / wall, 4),
        "kernels_per_iter": launches,
        "time_basis": "CUDA kernel time" if args.device == "cuda" else "operator self CPU time",
        "families_share": {k: round(v / total_us, 4) for k, v in sorted(families.items(), key=lambda kv: -kv[1])},
        "top": [{"name": name[:160], "family": family(name), "ms_per_iter": round(us / 1e3 / args.iters, 3),
                 "calls_per_iter": round(n / args.iters, 2), "share": round(us / total_us, 4)}
                for name, (us, n) in top],
    }
    _perf.emit(report, args, print_report)
    return 0


def print_report(r: dict) -> None:
    m = r["machine"]
    print(f"machine: {m}")
    print(f"{r['model']} {r['resolution']} px, batch {r['batch']}, {r['setting']}, n_critic {r['n_critic']}, "
          f"aug {r['aug']}; {r['iters']} profiled iterations")
    line = f"wall {r['wall_ms_per_iter']:.2f} ms/iter ({r['img_per_sec']:g} img/s under the profiler)"
    if r["gpu_busy_ms_per_iter"] is not None:
        line += (f"; GPU busy {r['gpu_busy_ms_per_iter']:.2f} ms/iter ({100 * r['gpu_busy_share']:.1f}%), "
                 f"{r['kernels_per_iter']:.0f} kernels/iter")
    print(line)
    print(f"by family ({r['time_basis']}): " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in r["families_share"].items()))
    print(f"{'ms/iter':>9} {'calls':>7} {'share':>6}  family         name")
    for t in r["top"]:
        print(f"{t['ms_per_iter']:>9.3f} {t['calls_per_iter']:>7g} {100 * t['share']:>5.1f}%  {t['family']:<14} "
              f"{t['name'][:90]}")


if __name__ == "__main__":
    raise SystemExit(main())
