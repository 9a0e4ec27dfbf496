"""2x resampling in the style-based networks: torch's kernels against other ways to compute the same thing.

    python benchmarks/resample_kernels.py --device cuda --resolution 256 --width 64 --max-width 512 --batch 64
    python benchmarks/resample_kernels.py                      # CPU, the 64 px preset's sizes

A profile of the style-based training step at 256 px on an H200 put 26% of the GPU time in bilinear 2x
upsampling (torch's generic kernel, in fp32 under autocast) and 20% in average pooling, forward and
backward, against 13% in the convolutions. `model.resample=conv` is the alternative ganvas offers. This
script times, at the shapes of one G and one D of the given sizes, forward plus backward of:

- upsampling, bilinear 2x (align_corners=False), G's feature maps (model dtype, channels_last) and RGB
  images (float32, 3 channels):
  `interpolate-autocast` (as the model runs it), `interpolate-dtype` (autocast off, in the input's dtype),
  `convT` (`ganvas.nn.resample.Upsample2x`, model.resample=conv: a depthwise transposed convolution with
  the [1, 3, 3, 1] / 4 kernel on a replicate-padded input), `lerp` (separable: neighbours by
  concatenation, blended, interleaved);
- average pooling 2x2, D's feature maps (model dtype, channels_last):
  `avg_pool2d`, `avg_pool2d-nearest-bwd` (model.resample=torch: avg_pool2d with ganvas's backward, a
  nearest 2x upsampling of grad / 4), `reshape-mean` (a view as 2x2 blocks, then a mean), `strided-sum`
  (the four strided sub-grids summed), `conv-stride2` (`ganvas.nn.resample.Downsample2x`: a depthwise 2x2 convolution of
  1/4s, stride 2).

Each variant's largest difference from the first one is printed with its time, so that a faster variant
is also seen to be the same function. One process, side by side; figures are for choosing a formulation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _perf  # noqa: E402
from _machine import machine  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--width", type=int, default=32, help="channels at the full resolution")
    p.add_argument("--max-width", type=int, default=256)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--dtype", choices=("bf16", "fp32"), default="bf16", help="the feature maps' dtype (autocast)")
    p.add_argument("--seconds", type=float, default=0.2, help="timing window per variant and shape")
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", default=None, metavar="PATH")
    args = p.parse_args(argv)
    r = args.resolution
    if r < 8 or r & (r - 1):
        p.error(f"--resolution must be a power of two, at least 8 (got {r})")
    return args


def upsample_variants(torch, F, autocast_dtype, conv_module) -> dict[str, Callable]:
    def interpolate_autocast(x):
        with torch.autocast(x.device.type, dtype=autocast_dtype, enabled=autocast_dtype != torch.float32):
            return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)

    def interpolate_dtype(x):
        with torch.autocast(x.device.type, enabled=False):
            return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


    def lerp(x):
        for dim in (2, 3):  # rows, then columns
            n = x.shape[dim]
            before = torch.cat([x.narrow(dim, 0, 1), x.narrow(dim, 0, n - 1)], dim)  # x[i-1], clamped
            after = torch.cat([x.narrow(dim, 1, n - 1), x.narrow(dim, n - 1, 1)], dim)  # x[i+1], clamped
            even, odd = torch.lerp(x, before, 0.25), torch.lerp(x, after, 0.25)
            x = torch.stack([even, odd], dim + 1).flatten(dim, dim + 1)
        return x

    return {"interpolate-autocast": interpolate_autocast, "interpolate-dtype": interpolate_dtype,
            "convT": conv_module, "lerp": lerp}


def pool_variants(torch, F, conv_module, ganvas_pool) -> dict[str, Callable]:
    def reshape_mean(x):
        n, c, h, w = x.shape
        return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(dim=(3, 5))

    def strided_sum(x):
        return (x[:, :, 0::2, 0::2] + x[:, :, 1::2, 0::2] + x[:, :, 0::2, 1::2] + x[:, :, 1::2, 1::2]) * 0.25

    return {"avg_pool2d": lambda x: F.avg_pool2d(x, 2), "avg_pool2d-nearest-bwd": ganvas_pool,
            "reshape-mean": reshape_mean, "strided-sum": strided_sum, "conv-stride2": conv_module}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch
    import torch.nn.functional as F

    from ganvas.nn.resample import Downsample2x, Upsample2x, downsampler

    if args.device == "cuda" and not torch.cuda.is_available():
        _perf.die("--device cuda, but torch sees no CUDA device")
    dev = args.device
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    R = args.resolution

    def ch(r: int) -> int:
        return max(1, min(args.max_width, args.width * R // r))

    gen = torch.Generator().manual_seed(0)
    cl = torch.channels_last

    def tensor(shape, dt):
        return torch.randn(shape, generator=gen).to(dev, dt).contiguous(memory_format=cl)

    cases = []  # (op, what, shape, dtype, variants)
    ups, pools = upsample_variants(torch, F, dtype, Upsample2x), pool_variants(torch, F, Downsample2x,
                                                                                downsampler(1, "torch"))
    r = 8
    while r <= R:
        cases.append(("upsample", "G features", (args.batch, ch(r // 2), r // 2, r // 2), dtype, ups))
        cases.append(("upsample", "G RGB", (args.batch, 3, r // 2, r // 2), torch.float32, ups))
        cases.append(("avgpool", "D features", (args.batch, ch(r), r, r), dtype, pools))
        r *= 2

    totals: dict[tuple[str, str], dict[str, float]] = {}
    rows = []
    for op, what, shape, dt, variants in cases:
        x = tensor(shape, dt).requires_grad_(True)
        ref = None
        for name, fn in variants.items():
            if isinstance(fn, type):  # ganvas's module: built once per shape, on the device
                fn = fn(shape[1]).to(dev)
            y = fn(x)
            g = torch.randn(y.shape, generator=torch.Generator().manual_seed(1)).to(dev, y.dtype)
            if ref is None:
                ref = y.detach().float()
            diff = (y.detach().float() - ref).abs().max().item()

            def fwd_bwd(fn=fn, g=g):
                x.grad = None
                fn(x).backward(g)

            sec = _perf._time_call(fwd_bwd, dev, args.seconds)
            rows.append({"op": op, "what": what, "shape": list(shape), "dtype": str(dt).removeprefix("torch."),
                         "variant": name, "ms_fwd_bwd": round(sec * 1e3, 4), "max_abs_diff": diff,
                         "out_channels_last": y.is_contiguous(memory_format=cl)})
            key = (op, what)
            totals.setdefault(key, {})
            totals[key][name] = totals[key].get(name, 0.0) + sec * 1e3
    report = {"machine": machine(), "device": dev, "resolution": R, "width": args.width, "max_width": args.max_width,
              "batch": args.batch, "dtype": args.dtype,
              "totals_ms": {f"{op} {what}": {k: round(v, 3) for k, v in t.items()} for (op, what), t in totals.items()},
              "rows": rows}
    _perf.emit(report, args, print_report)
    return 0


def print_report(r: dict) -> None:
    print(f"machine: {r['machine']}")
    print(f"{r['device']}, {r['resolution']} px, width {r['width']} doubling to {r['max_width']}, batch {r['batch']}, "
          f"feature maps {r['dtype']}; forward + backward, summed over the network's 2x steps")
    for what, t in r["totals_ms"].items():
        base = next(iter(t.values()))
        print(f"  {what}: " + ", ".join(f"{k} {v:.3f} ms ({v / base:.2f}x)" for k, v in t.items()))
    worst: dict[str, float] = {}
    for row in r["rows"]:
        worst[row["variant"]] = max(worst.get(row["variant"], 0.0), row["max_abs_diff"])
    print("largest difference from the first variant: " + ", ".join(f"{k} {v:.2g}" for k, v in worst.items()))


if __name__ == "__main__":
    raise SystemExit(main())
