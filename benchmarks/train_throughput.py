"""Training throughput of the real ganvas training loop (data, D and G steps, EMA, stats), with FLOPs and memory.

    python benchmarks/train_throughput.py --model dcgan --resolution 64 --batch 64 --width 64 --z-dim 100
    python benchmarks/train_throughput.py --preset auto --resolution 256 --precision fp32,bf16 --device cuda

Runs `ganvas.train.train` for --kimg on the built-in emoji set in a temporary folder, once per precision
setting, each in a fresh child process (so peak memory is per setting), and reports the median img/s
over the log ticks after the first (warm-up) one. Above 256 px, the emoji loader's limit, the set is
written out as a folder of its 64 px tiles and trained on through ganvas's folder loader, which enlarges them.

Alongside: model FLOPs per trained image (one training iteration counted with FlopCounterMode; see
`_perf.train_flops` for what is counted), the achieved FLOP/s, this process's measured matmul and 3x3
convolution ceiling, utilisation against the convolution ceiling of the same precision, and on CUDA the
MFU against the GPU's dense bf16 peak. Figures from one invocation are measured side by side and may be
compared as ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _perf  # noqa: E402
from _machine import machine  # noqa: E402

PRECISION_HELP = ("comma list of fp32-nchw (fp32, NCHW), fp32 (channels_last), bf16 (autocast, channels_last), "
                  "fp16 (autocast with loss scaling, channels_last), fp32-sysmalloc (fp32 with the system's "
                  "malloc settings, not the CLI's)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _perf.add_config_args(p, batch_help="train.batch; default: the preset's (64 for the default preset)")
    p.add_argument("--kimg", type=float, default=4.0, help="thousands of images trained per setting")
    p.add_argument("--max-images", type=int, default=None,
                   help="train on only the first N emoji (written out as a folder); for quick checks")
    p.add_argument("--data-folder", default=None, help=argparse.SUPPRESS)  # set by the parent for its children
    _perf.add_report_args(p, "fp32-nchw,fp32,bf16", PRECISION_HELP)
    args = p.parse_args(argv)
    for s in args.precision.split(","):
        if s not in _perf.PRECISIONS:
            p.error(f"unknown precision setting {s!r}; choose from {', '.join(_perf.PRECISIONS)}")
    return args


def script_settings(args: argparse.Namespace) -> dict:
    """The loop settings a throughput run needs: a fixed duration, log ticks to take the median over, and
    no snapshots, checkpoints or TensorBoard inside the measured span."""
    out = {"train.kimg": args.kimg, "train.log_kimg": args.kimg / 8, "train.snapshot_kimg": 1e6,
           "train.checkpoint_kimg": 1e6, "train.tensorboard": False}
    if _perf.has_config_key("train.device"):  # pin it: the default "auto" would pick a GPU for a cpu run
        out["train.device"] = args.device
    if args.data_folder:
        out["data.source"] = args.data_folder
    return out


def precision_overrides(setting: str) -> dict:
    precision, channels_last = _perf.PRECISIONS[setting]
    return {"train.precision": precision, "train.channels_last": channels_last}


def measure(args: argparse.Namespace, setting: str, num_images: int | None) -> dict:
    """Child process: train for --kimg with one precision setting; img/s from the log ticks, peak memory."""
    from ganvas.train import train
    from ganvas.train.stats import read_stats

    cfg = _perf.build_run_config(args, script_settings(args), precision_overrides(setting), num_images)
    rss_before = _perf.reset_peak_memory(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        train(cfg, Path(tmp) / "run", progress=False, log=lambda m: None)
        rows = [r for r in read_stats(Path(tmp) / "run" / "stats.jsonl") if "Timing/img_per_sec" in r]
    rates = [r["Timing/img_per_sec"] for r in rows[1:]] or [rows[-1]["Timing/img_per_sec"]]
    rate = statistics.median(rates)
    out = {"precision": setting, "img_per_sec": round(rate, 1), "sec_per_kimg": round(1000 / rate, 2),
           "ticks": len(rates), **_perf.peak_memory(args.device, rss_before)}
    if args.device == "cuda":
        out["cuda_flags"] = _perf.cuda_flags()  # as the loop left them
    return out


def write_tiles(folder: Path, count: int) -> None:
    """The first `count` 64 px emoji tiles as PNG files in category subfolders (so data.labels=subdirs works)."""
    from PIL import Image

    from ganvas.data.emoji import load_emoji

    ds = load_emoji(_perf.EMOJI_NATIVE)
    for i in range(count):
        sub = folder / ds.label_names[int(ds.labels[i])]
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(ds.images[i].transpose(1, 2, 0)).save(sub / f"{i:05d}.png", compress_level=1)


def child_argv(args: argparse.Namespace, data_folder: str | None) -> list[str]:
    argv = _perf.config_argv(args) + ["--kimg", str(args.kimg)]
    if data_folder:
        argv += ["--data-folder", data_folder]
    return argv


def run(args: argparse.Namespace) -> dict:
    import torch

    _perf.check_cuda(args, needs_train_device=True)
    settings = args.precision.split(",")
    needs_folder = args.resolution > _perf.EMOJI_MAX or bool(args.max_images)
    num_images = min(_perf.emoji_count(), args.max_images or 10 ** 9) if needs_folder else None
    # Fail fast (exit 2) on a bad config before any child starts, e.g. a key this ganvas does not have.
    cfg = _perf.build_run_config(args, script_settings(args), precision_overrides(settings[0]), num_images)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)  # the ceiling is measured with the loop's thread count
    n_classes = _perf.num_classes(cfg, num_images)
    width = _perf.typical_width(*_perf.build_models(cfg, n_classes))
    ceiling_before = _perf.measure_ceiling(args.device, width, args.ceiling_size, args.ceiling_batch,
                                           args.ceiling_seconds, train=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder, env = None, {}
        if needs_folder:
            folder = Path(tmp) / "emoji-tiles"
            write_tiles(folder, num_images)
            env["GANVAS_CACHE"] = str(Path(tmp) / "cache")  # the prepared arrays: reused by later settings
        results = [_perf.run_child(Path(__file__), child_argv(args, str(folder) if folder else None), s, env)
                   for s in settings]
    flops = _perf.train_flops(cfg, n_classes, args.device, _perf.default_flops_batch(args, cfg.train.batch))
    ceiling = _perf.best_ceiling(ceiling_before, _perf.measure_ceiling(args.device, width, args.ceiling_size,
                                                                       args.ceiling_batch, args.ceiling_seconds,
                                                                       train=True))
    peak = _perf.peak_tflops_for(args.device, args.peak_tflops)
    _perf.add_efficiency(results, flops["flops_per_img"], ceiling, peak)
    return {"benchmark": "train_throughput", **_perf.describe_model(cfg), "preset": args.preset,
            "num_classes": n_classes, "loss": cfg.loss.name, "r1_gamma": cfg.loss.r1_gamma, "aug": cfg.aug.name,
            "kimg": args.kimg, "device": args.device, "sets": args.sets,
            "data": "emoji" if not needs_folder else f"emoji tiles as a folder ({num_images} images)",
            "flops": flops, "ceiling": ceiling, "peak_bf16_tflops": peak, "machine": machine(), "results": results}


def print_table(report: dict) -> None:
    print(f"machine: {report['machine']}")
    extra = f", w_dim {report['w_dim']}, map_layers {report['map_layers']}" if "w_dim" in report else ""
    sets = f", --set {' '.join(report['sets'])}" if report["sets"] else ""
    print(f"{report['model']} {report['resolution']}px width {report['width']} (max {report['max_width']}), "
          f"z {report['z_dim']}{extra}, batch {report['batch']}, preset {report['preset']}, "
          f"{report['kimg']:g} kimg per setting on {report['device']}{sets}")
    f = report["flops"]
    r1 = f", R1 +{f['r1_extra_per_img'] / 1e9:.3f} every {f['r1_interval']} D steps" if f["r1_interval"] else ""
    print(f"model FLOPs per trained image: {f['flops_per_img'] / 1e9:.3f} GFLOP (D step {f['d_step_per_img'] / 1e9:.3f}"
          f"{r1}, G step {f['g_step_per_img'] / 1e9:.3f}; matmul+conv, 2 x MACs)")
    _perf.print_ceiling(report["ceiling"])
    ok = [r for r in report["results"] if "img_per_sec" in r]
    base = ok[0]["img_per_sec"] if ok else None
    mfu = report["peak_bf16_tflops"] is not None
    head = (f"{'precision':<11}{'img/s':>9}{'sec/kimg':>9}{'ratio':>7}{'GFLOP/s':>10}{'util':>7}{'util(t)':>8}"
            f"{'peak MiB':>10}")
    print(head + (f"{'GPU MiB':>9}{'MFU':>7}" if mfu or report["device"] == "cuda" else ""))
    for r in report["results"]:
        if "error" in r:
            print(f"{r['precision']:<11} failed: {r['error']}")
            continue
        util = f"{100 * r['utilisation']:>6.1f}%" if "utilisation" in r else f"{'-':>7}"
        util_t = (f"{100 * r['utilisation_train_ceiling']:>7.1f}%" if "utilisation_train_ceiling" in r
                  else f"{'-':>8}")
        line = (f"{r['precision']:<11}{r['img_per_sec']:>9.1f}{r['sec_per_kimg']:>9.2f}{r['img_per_sec'] / base:>7.2f}"
                f"{_perf.fmt(r.get('achieved_gflops'), '.1f', 10)}{util}{util_t}{r['peak_rss_mib']:>10.0f}")
        if report["device"] == "cuda" or mfu:
            line += _perf.fmt(r.get("cuda_max_allocated_mib"), ".0f", 9)
            line += f"{100 * r['mfu']:>6.2f}%" if "mfu" in r else f"{'-':>7}"
        print(line)


def main() -> None:
    args = parse_args()
    _perf.process_setup()
    if args.one_setting:
        import json

        num_images = None
        if args.data_folder:
            num_images = sum(1 for p in Path(args.data_folder).rglob("*.png"))
        print(json.dumps(measure(args, args.one_setting, num_images)))
        return
    report = run(args)
    _perf.emit(report, args, print_table)
    if any("error" in r for r in report["results"]):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
