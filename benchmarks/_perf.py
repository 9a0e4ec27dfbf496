"""Shared pieces of the throughput benchmarks: config from flags, FLOP counts, the measured ceiling, peak memory.

Conventions, so that figures from different scripts mean the same thing:

- FLOPs are counted by `torch.utils.flop_counter.FlopCounterMode`, which counts matrix multiplications and
  convolutions (forward, backward, and backward-of-backward) by their shapes, as 2 x multiply-accumulates.
  Element-wise work (activations, normalisation, optimizer steps, EMA, augmentation, resampling) is not
  counted: it is real time but not model FLOPs, as in the usual MFU convention.
- The ceiling is what this process measures on this machine, with its thread count: a square matmul and a
  3x3 convolution (channels_last) at the model's typical width, in fp32 and bf16. Utilisation divides the
  achieved FLOP/s by the convolution ceiling of the same precision, because conv nets spend their FLOPs in
  convolutions, which rarely reach the matmul peak.
- Each precision setting is measured in a fresh child process, so its peak memory is its own.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

EMOJI_NATIVE = 64  # the built-in set's native tile size; its loader goes up to 256 px
EMOJI_MAX = 256
# Dense bf16 tensor-core peaks from the vendors' data sheets (no sparsity), in TFLOP/s.
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0}
PRECISIONS = {  # setting -> (train.precision, train.channels_last)
    "fp32-nchw": ("fp32", False),
    "fp32": ("fp32", True),
    "bf16": ("bf16", True),
    "fp16": ("fp16", True),  # autocast fp16 with loss scaling (a GradScaler per network)
    "fp32-sysmalloc": ("fp32", True),  # fp32 with the system's malloc settings (GANVAS_MALLOC=system)
}
SYSMALLOC = "-sysmalloc"  # a setting with this suffix runs its child with GANVAS_MALLOC=system


def process_setup() -> str:
    """What the CLI does at start-up: glibc keeps freed memory for reuse (ganvas.utils.malloc.
    reuse_freed_memory), unless GANVAS_MALLOC=system (a -sysmalloc setting's child). The parent does it too,
    so the ceiling it measures is the kernels' best, not slowed by page faults. Returns "reuse" or "system"."""
    from ganvas.utils.malloc import reuse_freed_memory

    return "reuse" if reuse_freed_memory() else "system"


def die(message: str, code: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


# Section: flags and config.

def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1 (0 would otherwise read as "the default")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_config_args(p: argparse.ArgumentParser, batch_help: str) -> None:
    p.add_argument("--model", default=None, help="registered model (dcgan, stylegan); default: the preset's")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--batch", type=positive_int, default=None, help=batch_help)
    p.add_argument("--width", type=positive_int, default=None, help="model.width; default: the preset's")
    p.add_argument("--z-dim", type=positive_int, default=None, help="model.z_dim; default: the preset's")
    p.add_argument("--preset", default="default", help="a ganvas preset; auto sizes a stylegan for the emoji set")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="any config key, as `ganvas train --set` (repeatable); beats the script's own settings")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")


def add_report_args(p: argparse.ArgumentParser, precision_default: str, precision_help: str) -> None:
    p.add_argument("--precision", default=precision_default, help=precision_help)
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="CUDA: dense bf16 peak for MFU; default from the GPU name (H200/H100 989, A100 312)")
    add_ceiling_args(p)
    p.add_argument("--flops-batch", type=int, default=None,
                   help="images in the FLOP-counting pass; default: the batch on CUDA, at most 8 on CPU "
                        "(matmul and conv FLOPs are linear in the batch, so FLOPs per image do not change)")
    add_output_args(p)
    p.add_argument("--one-setting", default=None, help=argparse.SUPPRESS)  # a child process: one setting


def add_ceiling_args(p: argparse.ArgumentParser) -> None:
    """The sizes of the ceiling kernels (`measure_ceiling`) and how long each is timed."""
    p.add_argument("--ceiling-size", type=int, default=2048, help="matmul ceiling: N for N x N @ N x N")
    p.add_argument("--ceiling-batch", type=int, default=64, help="conv ceiling: batch of [B, C, 32, 32]")
    p.add_argument("--ceiling-seconds", type=float, default=0.5, help="time each ceiling kernel at least this long")


def add_output_args(p: argparse.ArgumentParser) -> None:
    """--json and --out, as `emit` reads them."""
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", default=None, metavar="PATH", help="also write the JSON report to PATH")


def config_argv(args: argparse.Namespace) -> list[str]:
    """The config flags of `args` as a command line, for the child processes."""
    argv = ["--resolution", str(args.resolution), "--preset", args.preset, "--device", args.device]
    for flag, value in (("--model", args.model), ("--batch", args.batch), ("--width", args.width),
                        ("--z-dim", args.z_dim)):
        if value is not None:
            argv += [flag, str(value)]
    for item in args.sets:
        argv += ["--set", item]
    return argv


def emoji_count() -> int:
    """Images in the built-in emoji set (what `--preset auto` sizes the network for)."""
    from ganvas.data.emoji import load_emoji

    return len(load_emoji(EMOJI_NATIVE))


def build_run_config(args: argparse.Namespace, script: dict[str, Any] | None = None,
                     forced: dict[str, Any] | None = None, num_images: int | None = None):
    """Defaults -> preset -> flags -> the script's settings -> the user's --set -> `forced` (the setting measured).

    Flags like --width are applied only when given, so `--preset auto` keeps its own sizing.
    """
    from ganvas.config import build_config, parse_set
    from ganvas.errors import ConfigError
    from ganvas.train.steps import check_names

    overrides: dict[str, Any] = {"data.source": "emoji", "data.resolution": args.resolution}
    for key, value in (("model.name", args.model), ("train.batch", args.batch), ("model.width", args.width),
                       ("model.z_dim", args.z_dim)):
        if value is not None:
            overrides[key] = value
    overrides.update(script or {})
    try:
        overrides.update(parse_set(args.sets))
        overrides.update(forced or {})
        if args.preset == "auto" and num_images is None:
            num_images = emoji_count()
        cfg = build_config(args.preset, overrides, num_images=num_images)
        check_names(cfg)  # an unknown model, loss or augmentation: one line, before anything is built
        return cfg
    except ConfigError as e:
        die(str(e))


def has_config_key(key: str) -> bool:
    from ganvas.config import all_keys

    return key in all_keys()


def check_cuda(args: argparse.Namespace, needs_train_device: bool) -> None:
    """Refuse --device cuda clearly when torch sees no GPU, or when ganvas's trainer cannot use one."""
    if args.device != "cuda":
        return
    import torch

    if not torch.cuda.is_available():
        die("--device cuda, but torch sees no CUDA device")
    if needs_train_device and not has_config_key("train.device"):
        die("this ganvas has no CUDA training yet (the config has no train.device key)")


def model_name(cfg) -> str:
    from ganvas.models import resolve_model_name

    return resolve_model_name(cfg.model.name, "image")


def num_classes(cfg, num_images: int | None = None) -> int:
    """Classes the models are built for, as the loop decides: the emoji categories (among the first
    `num_images`, when only those are used) when data.labels=subdirs and there are at least two, else none."""
    if cfg.data.labels == "none":
        return 0
    from ganvas.data.emoji import load_emoji

    found = len(set(load_emoji(EMOJI_NATIVE).labels[:num_images].tolist()))
    return found if found > 1 else 0


def build_models(cfg, n_classes: int):
    """G and D exactly as the training loop builds them (including its d_norm=auto rule), on the CPU, fp32."""
    import torch

    from ganvas.losses import LOSSES
    from ganvas.models import MODELS, DataInfo

    model_cfg = cfg.model
    if model_cfg.d_norm == "auto":
        model_cfg = dataclasses.replace(model_cfg, d_norm="layer" if LOSSES.get(cfg.loss.name).penalty else "batch")
    torch.manual_seed(cfg.train.seed)
    info = DataInfo("image", resolution=cfg.data.resolution, num_classes=n_classes)
    return MODELS.get(model_name(cfg)).build(model_cfg, info)


def describe_model(cfg) -> dict[str, Any]:
    m = cfg.model
    out = {"model": model_name(cfg), "resolution": cfg.data.resolution, "batch": cfg.train.batch,
           "width": m.width, "max_width": m.max_width, "z_dim": m.z_dim}
    if out["model"] == "stylegan":
        out.update(w_dim=m.w_dim, map_layers=m.map_layers)
    return out


# Section: the training iteration, as the loop runs it.

def training_iteration(args: argparse.Namespace):
    """(config, setup, iteration(nimg), drain()) for benchmarks that time or inspect the real step, from the
    config flags and --precision: G, D, optimizers and data built by `build_setup` exactly as `ganvas train`
    builds them; an iteration is `n_critic` D steps from stream position nimg, one G step and the EMA update,
    as the loop runs them. drain() empties the step log (the loop reads it every tick), so that repeated
    iterations do not pile it up. Starts the process as the CLI does and refuses a missing GPU first."""
    process_setup()
    check_cuda(args, needs_train_device=True)
    from ganvas.data.sources import load_data
    from ganvas.train.ema import EmaUpdater
    from ganvas.train.stats import StepLog
    from ganvas.train.steps import build_setup, d_step, g_step
    from ganvas.utils.dist import World

    precision, channels_last = PRECISIONS[args.precision]
    cfg = build_run_config(args, {"train.device": args.device},
                           {"train.precision": precision, "train.channels_last": channels_last})
    s = build_setup(cfg, load_data(cfg.data, progress=False), World())
    ema, log = EmaUpdater(s.G_ema, s.G), StepLog()
    batch, n_critic = cfg.train.batch, cfg.train.n_critic

    def iteration(nimg: int) -> None:
        s.D.requires_grad_(True)
        for k in range(n_critic):
            d_step(s, cfg, log, nimg + k * batch)
        s.D.requires_grad_(False)
        g_step(s, cfg, log, nimg)
        ema(0.999)

    return cfg, s, iteration, log.drain


# Section: FLOP counting.

class _GlobalOnly:
    """Stands in for FlopCounterMode's per-module tracker, whose hooks break `torch.autograd.grad` (R1's
    double backward) and forward passes under `no_grad`; we only need the global total."""

    parents = {"Global"}

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def count_flops(fn: Callable[[], Any]) -> tuple[int, dict[str, int]]:
    """(total FLOPs, FLOPs per aten op) of running `fn` once."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _GlobalOnly()
    with counter:
        fn()
    by_op = {str(k): int(v) for k, v in counter.get_flop_counts().get("Global", {}).items()}
    return counter.get_total_flops(), by_op


def default_flops_batch(args: argparse.Namespace, batch: int) -> int:
    if args.flops_batch:
        return args.flops_batch
    return batch if args.device == "cuda" else min(batch, 8)


def train_flops(cfg, n_classes: int, device: str, n: int) -> dict[str, Any]:
    """Model FLOPs per trained image of one training iteration, built as `ganvas.train` builds it.

    Counted, for n images: a D step (G forward without grad, D forward on real and fake, D loss backward),
    the extra of a D step with R1 (the penalty's gradient with create_graph and its double backward, and
    the gradient penalty when the loss has one), and a G step (G forward, D forward, backward through D
    into G, with D's weights frozen as in the loop). An iteration is n_critic D steps and one G step;
    R1 runs on one D step in r1_interval. With train.reuse_fakes the G step trains on the last D step's
    fakes, so one G forward pass per iteration is not made. Divided by the real images D sees,
    n_critic x n, which is how the loop counts images.
    """
    import torch

    from ganvas.losses import LOSSES, PENALTIES, r1_penalty

    G, D = build_models(cfg, n_classes)
    G, D = G.to(device).train(), D.to(device).train()
    loss = LOSSES.get(cfg.loss.name)
    penalty = PENALTIES.get(loss.penalty) if loss.penalty else None
    res, seed = cfg.data.resolution, cfg.train.seed
    c = (torch.nn.functional.one_hot(torch.arange(n) % n_classes, n_classes).float().to(device)
         if n_classes else None)

    def noise() -> None:  # a style-based G draws noise and style mixing only when given a generator
        if hasattr(G, "noise_gen"):
            G.noise_gen = torch.Generator().manual_seed(seed)

    def d_step(with_r1: bool) -> None:
        real_img = torch.randn(n, 3, res, res, device=device).requires_grad_(with_r1)
        z = torch.randn(n, G.z_dim, device=device)
        noise()
        with torch.no_grad():
            gen_img = G(z, c)
        real_logits, gen_logits = D(real_img, c), D(gen_img, c)
        total = loss.d_loss(real_logits, gen_logits).mean()
        if with_r1:
            total = total + r1_penalty(real_logits, real_img).mean()
        if penalty is not None:
            gp = penalty(D, real_img, gen_img, c, torch.Generator().manual_seed(seed))
            total = total + cfg.loss.gp_weight * gp.mean()
        total.backward()

    def g_step() -> None:
        D.requires_grad_(False)
        noise()
        z = torch.randn(n, G.z_dim, device=device)
        loss.g_loss(D(G(z, c), c)).mean().backward()
        D.requires_grad_(True)

    def g_forward() -> None:
        noise()
        with torch.no_grad():
            G(torch.randn(n, G.z_dim, device=device), c)

    d_plain, d_ops = count_flops(lambda: d_step(False))
    g_total, g_ops = count_flops(g_step)
    if cfg.train.reuse_fakes:  # the G step's own G forward pass is not made
        g_fwd, g_fwd_ops = count_flops(g_forward)
        g_total -= g_fwd
        g_ops = {k: v - g_fwd_ops.get(k, 0) for k, v in g_ops.items()}
    r1_on = cfg.loss.r1_gamma > 0
    r1_extra = count_flops(lambda: d_step(True))[0] - d_plain if r1_on else 0
    interval = max(1, cfg.loss.r1_interval)
    n_critic = cfg.train.n_critic
    per_iteration = n_critic * (d_plain + r1_extra / interval) + g_total
    by_op: dict[str, float] = {}
    for ops, weight in ((d_ops, n_critic), (g_ops, 1)):
        for k, v in ops.items():
            by_op[k] = by_op.get(k, 0) + weight * v / (n_critic * n)
    return {
        "flops_per_img": per_iteration / (n_critic * n),
        "d_step_per_img": d_plain / n,
        "r1_extra_per_img": r1_extra / n,  # on the D steps that run R1, before amortising by the interval
        "r1_interval": interval if r1_on else None,
        "g_step_per_img": g_total / n,
        "n_critic": n_critic,
        "by_op_per_img_without_r1": {k: round(v) for k, v in by_op.items()},
        "counted_on_batch": n,
        "convention": "FlopCounterMode: matmul and conv FLOPs = 2 x MACs; element-wise ops not counted",
    }


def sample_flops(G, n_classes: int, device: str, n: int) -> dict[str, Any]:
    """Model FLOPs per generated image: one eval-mode G forward of n images, as generation runs it."""
    import torch

    G = G.to(device).eval()
    z = torch.randn(n, G.z_dim, device=device)
    c = (torch.nn.functional.one_hot(torch.arange(n) % n_classes, n_classes).float().to(device)
         if n_classes else None)

    def forward() -> None:
        with torch.no_grad():
            G(z, c)

    total, by_op = count_flops(forward)
    return {"flops_per_img": total / n, "by_op_per_img": {k: round(v / n) for k, v in by_op.items()},
            "counted_on_batch": n,
            "convention": "FlopCounterMode: matmul and conv FLOPs = 2 x MACs; element-wise ops not counted"}


def typical_width(*nets) -> int:
    """The median output width of the spatial (k >= 3) convolutions of the nets: the width at which a
    conv net does its typical work, used for the convolution ceiling."""
    widths = []
    for net in nets:
        for p in net.parameters():
            if p.ndim == 4 and p.shape[-1] >= 3:
                widths.append(max(p.shape[0], p.shape[1]))  # the wider side: skips RGB in/out, any conv kind
    return int(statistics.median_low(widths)) if widths else 64


# Section: the ceiling.

def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def _time_call(fn: Callable[[], Any], device: str, min_seconds: float, windows: int = 3) -> float:
    """Seconds per call at the machine's best: one warm-up call, then `windows` timed windows of at least
    min_seconds / windows (and two calls) each; the fastest window's mean. A ceiling is what the machine
    can do, so a window slowed by other work on the machine should not lower it."""
    fn()
    _sync(device)
    best = float("inf")
    for _ in range(windows):
        calls, t0 = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            _sync(device)
            elapsed = time.perf_counter() - t0
            if calls >= 2 and elapsed >= min_seconds / windows:
                best = min(best, elapsed / calls)
                break
    return best


def best_ceiling(*ceilings: dict[str, Any]) -> dict[str, Any]:
    """Ceilings measured at several times in one invocation (before and after the timed settings), merged
    into the highest rate seen per kernel: the machine's speed drifts by tens of percent over minutes on
    shared hosts, and utilisation is held against the best it showed."""
    out = dict(ceilings[0])
    for c in ceilings[1:]:
        for k, v in c.items():
            if k.endswith("_gflops"):
                out[k] = max(out[k], v)
    out["measured"] = len(ceilings)
    return out


def cuda_flags() -> dict[str, Any]:
    import torch

    return {"matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "cudnn_benchmark": torch.backends.cudnn.benchmark}


def measure_ceiling(device: str, width: int, size: int, conv_batch: int, min_seconds: float,
                    train: bool = False) -> dict[str, Any]:
    """GFLOP/s this process reaches on a dense matmul and on a 3x3 convolution at `width`, fp32 and bf16.

    With `train`, also the same convolution as a training step runs it: forward, then the gradients of
    the input and of the weight (3x the forward FLOPs), `conv3x3_train_*`. Backward kernels are slower
    than the forward one on most CPUs, so this is the ceiling a training step's convolutions can reach;
    the forward ceiling stays the headline yardstick.

    On CUDA, fp32 runs with the TF32 flags as they are (reported); the convolution lets cuDNN pick its
    fastest algorithm.
    """
    import torch
    import torch.nn.functional as F

    out: dict[str, Any] = {"matmul_size": size, "conv_shape": [conv_batch, width, 32, 32], "conv_kernel": 3,
                           "conv_layout": "channels_last"}
    old_benchmark = torch.backends.cudnn.benchmark
    if device == "cuda":
        out["cuda_flags"] = cuda_flags()
        torch.backends.cudnn.benchmark = True
    try:
        for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            a = torch.randn(size, size, device=device, dtype=dtype)
            b = torch.randn(size, size, device=device, dtype=dtype)
            sec = _time_call(lambda: a @ b, device, min_seconds)
            out[f"matmul_{name}_gflops"] = round(2 * size ** 3 / sec / 1e9, 1)
            cl = torch.channels_last
            x = torch.randn(conv_batch, width, 32, 32, device=device, dtype=dtype).contiguous(memory_format=cl)
            w = torch.randn(width, width, 3, 3, device=device, dtype=dtype).contiguous(memory_format=cl)
            sec = _time_call(lambda: F.conv2d(x, w, padding=1), device, min_seconds)
            conv_flops = 2 * conv_batch * width * width * 9 * 32 * 32
            out[f"conv3x3_{name}_gflops"] = round(conv_flops / sec / 1e9, 1)
            if train:
                xg, wg = x.detach().requires_grad_(), w.detach().requires_grad_()

                def step() -> None:
                    y = F.conv2d(xg, wg, padding=1)
                    torch.autograd.grad(y, (xg, wg), torch.ones_like(y))

                sec = _time_call(step, device, min_seconds)
                out[f"conv3x3_train_{name}_gflops"] = round(3 * conv_flops / sec / 1e9, 1)
    finally:
        torch.backends.cudnn.benchmark = old_benchmark
    return out


def peak_tflops_for(device: str, given: float | None) -> float | None:
    """The bf16 dense peak used for MFU: --peak-tflops, else looked up from the GPU's name."""
    if given:
        return given
    if device != "cuda":
        return None
    import torch

    name = torch.cuda.get_device_name()
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def add_efficiency(results: list[dict], flops_per_img: float, ceiling: dict, peak_tflops: float | None) -> None:
    """Achieved GFLOP/s, utilisation against the conv ceiling of the same precision, and MFU on CUDA."""
    for r in results:
        if "img_per_sec" not in r:
            continue
        achieved = flops_per_img * r["img_per_sec"]
        r["achieved_gflops"] = round(achieved / 1e9, 2)
        # fp16 is held against the bf16 ceiling: the same 16-bit tensor-core (or AMX) rate.
        dtype = "fp32" if r["precision"].startswith("fp32") else "bf16"
        ceil = ceiling.get(f"conv3x3_{dtype}_gflops")
        if ceil:
            r["utilisation"] = round(achieved / 1e9 / ceil, 4)
        ceil_train = ceiling.get(f"conv3x3_train_{dtype}_gflops")
        if ceil_train:
            r["utilisation_train_ceiling"] = round(achieved / 1e9 / ceil_train, 4)
        if peak_tflops:
            r["mfu"] = round(achieved / (peak_tflops * 1e12), 5)


# Section: memory and child processes.

def rss_peak_mib() -> float:
    """Peak resident set of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def reset_peak_memory(device: str) -> float:
    """Start a measurement; returns the resident-set peak so far (imports, data) as the baseline."""
    if device == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats()
    return rss_peak_mib()


def peak_memory(device: str, rss_before_mib: float) -> dict[str, Any]:
    out: dict[str, Any] = {"peak_rss_mib": rss_peak_mib(), "rss_before_mib": rss_before_mib}
    if device == "cuda":
        import torch

        out["cuda_max_allocated_mib"] = round(torch.cuda.max_memory_allocated() / 2 ** 20, 1)
        out["cuda_max_reserved_mib"] = round(torch.cuda.max_memory_reserved() / 2 ** 20, 1)
    return out


def run_child(script: Path, argv: list[str], setting: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Measure one setting in a fresh process; a failure becomes an `error` entry, not an exception."""
    cmd = [sys.executable, str(script), *argv, "--one-setting", setting, "--json"]
    t0 = time.perf_counter()
    env = {**os.environ, **(env or {})}
    if setting.endswith(SYSMALLOC):
        env["GANVAS_MALLOC"] = "system"
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    took = f"{time.perf_counter() - t0:.0f} s"
    if proc.returncode == 0:
        try:
            result = json.loads(proc.stdout)
            print(f"[{script.stem}] {setting}: {result.get('img_per_sec')} img/s ({took})", file=sys.stderr, flush=True)
            return result
        except json.JSONDecodeError:
            pass
    tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-30:]  # enough to hold the real error
    print(f"[{script.stem}] {setting}: failed, exit code {proc.returncode} ({took})", file=sys.stderr, flush=True)
    return {"precision": setting, "error": f"exit code {proc.returncode}: " + " | ".join(tail)}


# Section: output.

def emit(report: dict[str, Any], args: argparse.Namespace, print_table: Callable[[dict], None]) -> None:
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)


def fmt(value: Any, spec: str, width: int) -> str:
    return f"{value:>{width}{spec}}" if isinstance(value, (int, float)) else f"{'-':>{width}}"


def print_ceiling(ceiling: dict[str, Any]) -> None:
    b, c = ceiling["conv_shape"][0], ceiling["conv_shape"][1]
    print(f"ceiling (this process, best before and after the runs): matmul {ceiling['matmul_size']}^3 fp32 "
          f"{ceiling['matmul_fp32_gflops']:g} / "
          f"bf16 {ceiling['matmul_bf16_gflops']:g} GFLOP/s; conv3x3 [{b}, {c}, 32, 32] channels_last "
          f"fp32 {ceiling['conv3x3_fp32_gflops']:g} / bf16 {ceiling['conv3x3_bf16_gflops']:g} GFLOP/s")
    if "conv3x3_train_fp32_gflops" in ceiling:
        print(f"  the same conv3x3 as trained (forward + input and weight gradients): fp32 "
              f"{ceiling['conv3x3_train_fp32_gflops']:g} / bf16 {ceiling['conv3x3_train_bf16_gflops']:g} GFLOP/s "
              f"(column util(t))")
    if "cuda_flags" in ceiling:
        print(f"cuda flags: {ceiling['cuda_flags']}")
