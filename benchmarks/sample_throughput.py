"""Generation throughput: seeds -> uint8 images through ganvas's sampling path, with FLOPs and memory.

    python benchmarks/sample_throughput.py --resolution 64 --width 64 --z-dim 100 --batch 64
    python benchmarks/sample_throughput.py --preset auto --resolution 256 --precision fp32,bf16 --device cuda

Uses a freshly initialised generator (speed does not depend on the weights), built from the same config
as training would build it, wrapped in the same `GeneratorHandle` that `ganvas generate` and `ganvas.load`
use; bf16 wraps the `generate_array` call in `torch.autocast`. Each precision runs in a fresh child process,
so peak memory is per setting. Alongside: model FLOPs per generated image (one eval-mode G forward counted
with FlopCounterMode: matmul and conv FLOPs, 2 x MACs), the achieved FLOP/s, this process's measured
matmul and 3x3 convolution ceiling, utilisation against the convolution ceiling of the same precision,
and on CUDA the MFU against the GPU's dense bf16 peak.
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

SETTINGS = ("fp32", "bf16", "fp32-sysmalloc")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _perf.add_config_args(p, batch_help="images per generator call (default 64)")
    p.add_argument("--images", type=int, default=2048, help="seeds generated in the timed span")
    _perf.add_report_args(p, "fp32", "comma list of fp32, bf16 (autocast around the generator), fp32-sysmalloc "
                          "(fp32 with the system's malloc settings, not the CLI's)")
    args = p.parse_args(argv)
    for s in args.precision.split(","):
        if s not in SETTINGS:
            p.error(f"unknown precision setting {s!r}; choose from {', '.join(SETTINGS)}")
    args.batch = args.batch or 64
    return args


def build_generator(args: argparse.Namespace):
    """(config, G, number of classes): G built as the training loop builds it, in eval mode."""
    cfg = _perf.build_run_config(args)
    n_classes = _perf.num_classes(cfg)
    G, D = _perf.build_models(cfg, n_classes)
    return cfg, G.eval(), D, n_classes


def measure(args: argparse.Namespace, setting: str) -> dict:
    """Child process: warm up, then time --images seeds through GeneratorHandle.generate_array."""
    import torch

    from ganvas.generate.api import GeneratorHandle

    cfg, G, _, n_classes = build_generator(args)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    labels = [f"class{i}" for i in range(n_classes)]
    handle = GeneratorHandle(G, {"kind": "image", "fingerprint": "benchmark", "resolution": cfg.data.resolution,
                                 "label_names": labels}, device=args.device)
    ctx = (lambda: torch.autocast(args.device, dtype=torch.bfloat16)) if setting == "bf16" else contextlib.nullcontext
    rss_before = _perf.reset_peak_memory(args.device)
    with ctx():
        handle.generate_array(range(args.batch), batch_size=args.batch)  # warm-up: kernels, allocator
    t0 = time.perf_counter()
    with ctx():
        handle.generate_array(range(args.images), batch_size=args.batch)  # returns CPU uint8: synchronised
    seconds = time.perf_counter() - t0
    return {"precision": setting, "img_per_sec": round(args.images / seconds, 1),
            **_perf.peak_memory(args.device, rss_before)}


def run(args: argparse.Namespace) -> dict:
    import torch

    _perf.check_cuda(args, needs_train_device=False)
    cfg, G, D, n_classes = build_generator(args)  # fail fast (exit 2) on a bad config
    argv = _perf.config_argv(args) + ["--images", str(args.images)]
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)

    def ceiling_now() -> dict:
        return _perf.measure_ceiling(args.device, _perf.typical_width(G, D), args.ceiling_size, args.ceiling_batch,
                                     args.ceiling_seconds)

    before = ceiling_now()
    results = [_perf.run_child(Path(__file__), argv, s) for s in args.precision.split(",")]
    flops = _perf.sample_flops(G, n_classes, args.device, _perf.default_flops_batch(args, args.batch))
    ceiling = _perf.best_ceiling(before, ceiling_now())
    peak = _perf.peak_tflops_for(args.device, args.peak_tflops)
    _perf.add_efficiency(results, flops["flops_per_img"], ceiling, peak)
    desc = _perf.describe_model(cfg)
    desc["batch"] = args.batch
    return {"benchmark": "sample_throughput", **desc, "preset": args.preset, "num_classes": n_classes,
            "images": args.images, "device": args.device, "sets": args.sets, "flops": flops, "ceiling": ceiling,
            "peak_bf16_tflops": peak, "machine": machine(), "results": results}


def print_table(report: dict) -> None:
    print(f"machine: {report['machine']}")
    print(f"{report['model']} {report['resolution']}px width {report['width']} (max {report['max_width']}), "
          f"z {report['z_dim']}, batch {report['batch']}, preset {report['preset']}, {report['images']} seeds -> "
          f"uint8 images on {report['device']}")
    print(f"model FLOPs per generated image: {report['flops']['flops_per_img'] / 1e9:.4f} GFLOP "
          f"(matmul+conv, 2 x MACs)")
    _perf.print_ceiling(report["ceiling"])
    cuda = report["device"] == "cuda"
    print(f"{'precision':<11}{'img/s':>10}{'GFLOP/s':>10}{'util':>7}{'peak MiB':>10}"
          + (f"{'GPU MiB':>9}{'MFU':>7}" if cuda else ""))
    for r in report["results"]:
        if "error" in r:
            print(f"{r['precision']:<11} failed: {r['error']}")
            continue
        util = f"{100 * r['utilisation']:>6.1f}%" if "utilisation" in r else f"{'-':>7}"
        line = f"{r['precision']:<11}{r['img_per_sec']:>10.1f}{_perf.fmt(r.get('achieved_gflops'), '.1f', 10)}" \
               f"{util}{r['peak_rss_mib']:>10.0f}"
        if cuda:
            line += _perf.fmt(r.get("cuda_max_allocated_mib"), ".0f", 9)
            line += f"{100 * r['mfu']:>6.2f}%" if "mfu" in r else f"{'-':>7}"
        print(line)


def main() -> None:
    args = parse_args()
    _perf.process_setup()
    if args.one_setting:
        print(json.dumps(measure(args, args.one_setting)))
        return
    report = run(args)
    _perf.emit(report, args, print_table)
    if any("error" in r for r in report["results"]):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
