"""How close a training step can get to the ceiling: its own matmuls and convolutions, each timed alone.

    python benchmarks/kernel_bound.py --model dcgan --resolution 64 --width 64 --z-dim 100 --batch 64
    python benchmarks/kernel_bound.py --preset auto --resolution 64 --precision fp32

Utilisation (train_throughput.py) divides a step's model FLOP/s by a 3x3 convolution's rate at the model's
typical width. When a step falls short, the gap has two parts, which this script separates:

- the kernels themselves: the step's own matmuls and convolutions (forward, both gradients, R1's double
  backward), at their own shapes, strides and dtypes, may run below the probe's rate (a 4x4 stride-2
  convolution, a 3-channel RGB layer, a 4x4 feature map);
- everything around them: normalisation, activations, resampling, the optimizer, copies, Python.

It builds the step exactly as `ganvas train` does (`build_setup`), records every FLOP-counted aten call of
one iteration (the same ops and FLOP formulas as `torch.utils.flop_counter.FlopCounterMode`, so the FLOPs
match train_throughput.py's), then replays each distinct call alone on fresh tensors of the same layout,
timed at the machine's best (the fastest of three windows, as the ceiling is). With lazy R1 the
iterations with and without it are recorded and timed separately and weighted by how often each runs.

It reports, per iteration: the step's wall time and achieved FLOP/s, the time the same kernels take alone
and the FLOP/s they reach (the kernel bound), both against the conv3x3 ceiling measured in the same
process before and after; and the calls that lose the most time against the probe's rate. A kernel bound
below a utilisation goal means the goal needs other kernels or other shapes, not less overhead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _perf  # noqa: E402
from _machine import machine  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _perf.add_config_args(p, batch_help="train.batch; default: the preset's")
    p.add_argument("--precision", choices=tuple(k for k in _perf.PRECISIONS if not k.endswith(_perf.SYSMALLOC)),
                   default="fp32")
    p.add_argument("--seconds", type=float, default=0.3,
                   help="time each distinct kernel call at least this long (three windows)")
    p.add_argument("--step-seconds", type=float, default=6.0,
                   help="time each kind of iteration, and its kernels alone, at least this long (over all rounds)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of ceiling, step and kernels, side by side")
    p.add_argument("--top", type=int, default=12, help="rows in the table of calls")
    _perf.add_ceiling_args(p)
    _perf.add_output_args(p)
    args = p.parse_args(argv)
    if args.seconds <= 0 or args.step_seconds <= 0 or args.rounds < 1:
        p.error("--seconds and --step-seconds must be positive, --rounds at least 1")
    return args


def iteration_kinds(batch: int, n_critic: int, r1_on: bool, interval: int) -> list[tuple[int, float, int]]:
    """(first nimg, share of iterations, R1 steps) per kind of iteration: over `interval` iterations every
    kind appears as often as it does in a run (d_step runs R1 when (nimg // batch) % interval == 0)."""
    if not r1_on or interval <= 1:
        return [(0, 1.0, n_critic if r1_on else 0)]
    kinds: dict[int, list[int]] = {}
    for i in range(interval):
        r1 = sum(1 for k in range(n_critic) if (i * n_critic + k) % interval == 0)
        kinds.setdefault(r1, []).append(i)
    return [(its[0] * n_critic * batch, len(its) / interval, r1) for r1, its in sorted(kinds.items(), reverse=True)]


class Recorder:
    """A dispatch mode that notes each FLOP-counted aten call: the op, its arguments with every tensor
    reduced to (shape, stride, dtype, device), and its FLOPs by FlopCounterMode's formula."""

    def __init__(self):
        import torch
        from torch.utils._python_dispatch import TorchDispatchMode
        from torch.utils.flop_counter import FlopCounterMode

        registry = FlopCounterMode(display=False).flop_registry
        calls: dict[tuple, dict] = {}
        self.calls = calls

        def meta(a):
            if isinstance(a, torch.Tensor):
                return ("T", tuple(a.shape), tuple(a.stride()), a.dtype, a.device.type)
            if isinstance(a, (list, tuple)):
                return type(a).__name__, tuple(meta(x) for x in a)
            return ("V", a)

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                kwargs = kwargs or {}
                out = func(*args, **kwargs)
                count = registry.get(func._overloadpacket)
                if count is not None:
                    key = (func, meta(tuple(args)), meta(tuple(sorted(kwargs.items()))))
                    entry = calls.setdefault(key, {"func": func, "args": args, "kwargs": kwargs, "calls": 0,
                                                   "flops": int(count(*args, **kwargs, out_val=out))})
                    entry["calls"] += 1
                return out

        self.mode = Mode()


def fresh_like(a, device: str):
    """The argument with every tensor replaced by a new one of the same shape, strides and dtype."""
    import torch

    if isinstance(a, torch.Tensor):
        t = torch.empty_strided(a.shape, a.stride(), dtype=a.dtype, device=device)
        return t.normal_() if t.is_floating_point() else t.zero_()
    if isinstance(a, (list, tuple)):
        return type(a)(fresh_like(x, device) for x in a)
    return a


def describe(entry: dict) -> str:
    """A short line for a call: op, then the tensor shapes; convolutions add their stride, padding,
    transposition and (for backward) which gradients."""
    import torch

    func, args = entry["func"], entry["args"]
    shapes = [("x".join(map(str, a.shape)) or "scalar") for a in args if isinstance(a, torch.Tensor)]
    text = f"{func._overloadpacket.__name__} " + " ".join(shapes)
    name = func._overloadpacket.__name__
    if name == "convolution":
        text += f" stride {args[3][0]} pad {args[4][0]}" + (" transposed" if args[6] else "")
    elif name == "convolution_backward":
        mask = args[10]
        grads = "+".join(n for n, m in zip(("input", "weight", "bias"), mask) if m)
        text += f" stride {args[4][0]} pad {args[5][0]}" + (" transposed" if args[7] else "") + f" grads {grads}"
    return text


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    cfg, s, iteration, drain = _perf.training_iteration(args)
    batch, n_critic = cfg.train.batch, cfg.train.n_critic
    width = _perf.typical_width(s.G, s.D)

    def ceiling() -> dict:
        return _perf.measure_ceiling(args.device, width, args.ceiling_size, args.ceiling_batch,
                                     args.ceiling_seconds, train=True)

    r1_on = cfg.loss.r1_gamma > 0
    interval = max(1, cfg.loss.r1_interval)
    kinds = []
    for nimg, share, r1_steps in iteration_kinds(batch, n_critic, r1_on, interval):
        iteration(nimg)  # warm-up: first-call allocations and kernel choices
        drain()
        recorder = Recorder()
        with recorder.mode:
            iteration(nimg)
        drain()
        # The recorded tensors (the step's own activations) are let go: only their layouts are kept.
        calls = [{"func": e["func"], "calls": e["calls"], "flops": e["flops"], "call": describe(e),
                  "fresh_args": fresh_like(e["args"], args.device),
                  "fresh_kwargs": {k: fresh_like(v, args.device) for k, v in e["kwargs"].items()}}
                 for e in recorder.calls.values()]
        kinds.append({"first_nimg": nimg, "share": share, "r1_steps": r1_steps, "calls": calls,
                      "seconds": float("inf"), "kernels_seconds": float("inf")})
        del recorder

    def replay(calls: list[dict]) -> None:  # the iteration's kernel calls, each as often as it ran, nothing else
        with torch.no_grad():
            for c in calls:
                for _ in range(c["calls"]):
                    c["func"](*c["fresh_args"], **c["fresh_kwargs"])

    # Rounds of probe, step and replay, side by side: this host's speed drifts by tens of percent over minutes,
    # so the three are compared at their best within the same span, not one after another.
    ceilings = []
    for r in range(args.rounds):
        ceilings.append(ceiling())
        for k in kinds:
            k["seconds"] = min(k["seconds"], _perf._time_call(lambda: iteration(k["first_nimg"]), args.device,
                                                              args.step_seconds / args.rounds))
            drain()
            k["kernels_seconds"] = min(k["kernels_seconds"], _perf._time_call(lambda: replay(k["calls"]), args.device,
                                                                              args.step_seconds / args.rounds))
        print(f"[kernel_bound] round {r + 1}/{args.rounds}: " + ", ".join(
            f"{k['r1_steps']} R1: step {k['seconds'] * 1e3:.1f} ms, kernels alone {k['kernels_seconds'] * 1e3:.1f} ms"
            for k in kinds), file=sys.stderr, flush=True)
    # Each distinct call alone, for the breakdown (the shares of the kernel time, and which calls lose most).
    for k in kinds:
        for c in k["calls"]:
            with torch.no_grad():
                c["seconds_alone"] = _perf._time_call(lambda: c["func"](*c["fresh_args"], **c["fresh_kwargs"]),
                                                      args.device, args.seconds)
    # The model FLOPs as train_throughput.py counts them (a separate pass on a small batch): a check on the
    # recording and on the weighting of the iteration kinds.
    counted = _perf.train_flops(cfg, _perf.num_classes(cfg), args.device, min(batch, 8))["flops_per_img"]
    report = summarise(args, cfg, kinds, _perf.best_ceiling(*ceilings), batch * n_critic, counted)
    _perf.emit(report, args, lambda r: print_report(r, args.top))
    return 0


def summarise(args, cfg, kinds: list[dict], ceiling: dict, images: int, counted_per_img: float) -> dict:
    dtype = "fp32" if args.precision.startswith("fp32") else "bf16"
    conv = ceiling[f"conv3x3_{dtype}_gflops"]
    conv_train = ceiling[f"conv3x3_train_{dtype}_gflops"]
    step = sum(k["share"] * k["seconds"] for k in kinds)
    flops = sum(k["share"] * c["calls"] * c["flops"] for k in kinds for c in k["calls"])
    alone = sum(k["share"] * k["kernels_seconds"] for k in kinds)
    rows: dict[str, dict] = {}  # the same call in several kinds of iteration is one row
    for k in kinds:
        for c in k["calls"]:
            r = rows.setdefault(c["call"], {"call": c["call"], "calls_per_iter": 0.0, "flops_per_call": c["flops"],
                                            "seconds_alone_per_call": c["seconds_alone"]})
            r["calls_per_iter"] += k["share"] * c["calls"]
            r["seconds_alone_per_call"] = min(r["seconds_alone_per_call"], c["seconds_alone"])
    table = []
    for r in rows.values():
        ms = r["calls_per_iter"] * r["seconds_alone_per_call"] * 1e3
        gflops = r["flops_per_call"] / r["seconds_alone_per_call"] / 1e9
        at_probe_ms = r["calls_per_iter"] * r["flops_per_call"] / (conv * 1e9) * 1e3
        table.append({"call": r["call"], "calls_per_iter": round(r["calls_per_iter"], 3),
                      "gflop_per_call": round(r["flops_per_call"] / 1e9, 4), "ms_per_iter_alone": round(ms, 3),
                      "gflops": round(gflops, 1), "of_conv3x3": round(gflops / conv, 3),
                      "ms_lost_vs_conv3x3": round(ms - at_probe_ms, 3)})
    table.sort(key=lambda r: -r["ms_lost_vs_conv3x3"])
    achieved = flops / step / 1e9
    bound = flops / alone / 1e9 if alone else None
    return {
        "benchmark": "kernel_bound", "machine": machine(), "setting": args.precision, **_perf.describe_model(cfg),
        "n_critic": cfg.train.n_critic, "r1_interval": cfg.loss.r1_interval if cfg.loss.r1_gamma > 0 else None,
        "iteration_kinds": [{"first_nimg": k["first_nimg"], "share": round(k["share"], 5), "r1_steps": k["r1_steps"],
                             "step_ms": round(k["seconds"] * 1e3, 2),
                             "kernels_alone_ms": round(k["kernels_seconds"] * 1e3, 2),
                             "distinct_calls": len(k["calls"])} for k in kinds],
        "rounds": args.rounds,
        "ceiling": ceiling,
        "step_ms_per_iter": round(step * 1e3, 2), "img_per_sec": round(images / step, 1),
        "gflop_per_iter": round(flops / 1e9, 3), "achieved_gflops": round(achieved, 1),
        "utilisation": round(achieved / conv, 4), "utilisation_train_ceiling": round(achieved / conv_train, 4),
        "kernels_alone_ms_per_iter": round(alone * 1e3, 2), "kernels_share_of_step": round(alone / step, 4),
        "kernel_bound_gflops": None if bound is None else round(bound, 1),
        "kernel_bound_utilisation": None if bound is None else round(bound / conv, 4),
        "kernel_bound_utilisation_train_ceiling": None if bound is None else round(bound / conv_train, 4),
        "model_flops_per_img_counted": counted_per_img,
        "recorded_vs_counted": round(flops / images / counted_per_img, 4),
        "distinct_calls": len(table),
        "calls": table,
    }


def print_report(r: dict, top: int) -> None:
    print(f"machine: {r['machine']}")
    print(f"{r['model']} {r['resolution']} px, batch {r['batch']}, {r['setting']}, n_critic {r['n_critic']}"
          + (f", R1 every {r['r1_interval']} D steps" if r["r1_interval"] else ""))
    _perf.print_ceiling(r["ceiling"])
    dtype = "fp32" if r["setting"].startswith("fp32") else "bf16"
    conv = r["ceiling"][f"conv3x3_{dtype}_gflops"]
    print(f"step: {r['step_ms_per_iter']:.1f} ms/iter ({r['img_per_sec']:g} img/s), {r['gflop_per_iter']:.2f} GFLOP "
          f"-> {r['achieved_gflops']:g} GFLOP/s = {100 * r['utilisation']:.1f}% of conv3x3 ({conv:g}), "
          f"{100 * r['utilisation_train_ceiling']:.1f}% of it trained")
    if r["kernel_bound_gflops"] is not None:
        print(f"the same kernels alone: {r['kernels_alone_ms_per_iter']:.1f} ms/iter "
              f"({100 * r['kernels_share_of_step']:.1f}% of the step) -> {r['kernel_bound_gflops']:g} GFLOP/s = "
              f"{100 * r['kernel_bound_utilisation']:.1f}% of conv3x3, "
              f"{100 * r['kernel_bound_utilisation_train_ceiling']:.1f}% of it trained (the kernel bound)")
    print(f"(recorded FLOPs / train_throughput.py's count: {r['recorded_vs_counted']:.4f})")
    print(f"{r['distinct_calls']} distinct calls; those losing the most time against conv3x3's rate:")
    print(f"{'calls':>6} {'ms/iter':>8} {'GFLOP/s':>8} {'of 3x3':>7} {'ms lost':>8}  call")
    for c in r["calls"][:top]:
        print(f"{c['calls_per_iter']:>6g} {c['ms_per_iter_alone']:>8.2f} {c['gflops']:>8.1f} "
              f"{100 * c['of_conv3x3']:>6.0f}% {c['ms_lost_vs_conv3x3']:>8.2f}  {c['call'][:100]}")


if __name__ == "__main__":
    raise SystemExit(main())
