"""ganvas's DCGAN-64 against a textbook eager DCGAN-64, side by side in one invocation.

    python benchmarks/compare_dcgan.py --seconds 30 --kimg 3

Runs `textbook_dcgan.py` (the pytorch/examples recipe: fp32 NCHW, PIL transforms in a DataLoader) and then
`train_throughput.py` on the same network (dcgan, 64 px, width 64, z 100, batch 64) for each ganvas
precision setting, one after the other in fresh processes with the same thread settings, and prints each
setting's img/s as a ratio to the textbook's. The target (--target, default 1.8) is checked on the
setting ganvas trains with by default on this machine (precision auto, channels_last).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine  # noqa: E402

HERE = Path(__file__).resolve().parent


def run_json(cmd: list[str]) -> dict:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode not in (0, 1) or not proc.stdout.strip():  # train_throughput exits 1 if a setting failed
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-6:]
        raise SystemExit(f"error: {' '.join(cmd[1:3])} failed (exit code {proc.returncode}): " + " | ".join(tail))
    return json.loads(proc.stdout)


def default_setting(device: str) -> str:
    """The train_throughput setting matching ganvas's defaults here: precision auto, channels_last."""
    import torch

    from ganvas.utils.device import resolve_precision

    return "bf16" if resolve_precision("auto", torch.device(device)) == "bf16" else "fp32"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=30.0, help="textbook: timed window")
    p.add_argument("--warmup", type=int, default=5, help="textbook: iterations before timing")
    p.add_argument("--workers", type=int, default=2, help="textbook: DataLoader workers")
    p.add_argument("--kimg", type=float, default=3.0, help="ganvas: kimg per precision setting")
    p.add_argument("--precision", default="fp32-nchw,fp32,bf16", help="ganvas settings (see train_throughput.py)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--target", type=float, default=1.8, help="img/s ratio the default setting should reach")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="a ganvas config override for its runs (repeatable), e.g. train.reuse_fakes=true: one G "
                        "forward pass per iteration shared by the D and G steps, as the textbook does")
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", default=None, metavar="PATH", help="also write the JSON report to PATH")
    args = p.parse_args()

    textbook = run_json([sys.executable, str(HERE / "textbook_dcgan.py"), "--batch", str(args.batch),
                         "--seconds", str(args.seconds), "--warmup", str(args.warmup), "--workers", str(args.workers),
                         "--device", args.device, "--json"])
    ganvas = run_json([sys.executable, str(HERE / "train_throughput.py"), "--model", "dcgan", "--resolution", "64",
                       "--width", "64", "--z-dim", "100", "--batch", str(args.batch), "--kimg", str(args.kimg),
                       "--precision", args.precision, "--device", args.device, "--json"]
                      + [a for item in args.sets for a in ("--set", item)])
    base = textbook["img_per_sec"]
    default = default_setting(args.device)
    rows = [{"setting": "textbook (fp32, NCHW)", "img_per_sec": base, "ratio": 1.0}]
    for r in ganvas["results"]:
        extra = "".join(f" +{item}" for item in args.sets)
        row = {"setting": f"ganvas {r['precision']}{extra}", "img_per_sec": r.get("img_per_sec"),
               "ratio": round(r["img_per_sec"] / base, 2) if "img_per_sec" in r else None,
               "default": r["precision"] == default}
        if "error" in r:
            row["error"] = r["error"]
        rows.append(row)
    chosen = next((r for r in rows if r.get("default") and r["ratio"] is not None), None)
    report = {"benchmark": "compare_dcgan", "batch": args.batch, "device": args.device, "sets": args.sets,
              "target_ratio": args.target,
              "default_setting": default, "meets_target": None if chosen is None else chosen["ratio"] >= args.target,
              "machine": machine(), "rows": rows, "textbook": textbook, "ganvas": ganvas}
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"machine: {report['machine']}")
    print(f"DCGAN-64 (width 64, z 100), batch {args.batch} on {args.device}; textbook {args.seconds:g} s window, "
          f"ganvas {args.kimg:g} kimg per setting")
    width = max(26, *(len(r["setting"]) + 2 for r in rows))
    print(f"{'setting':<{width}}{'img/s':>10}{'vs textbook':>13}")
    for r in rows:
        if "error" in r:
            print(f"{r['setting']:<{width}} failed: {r['error']}")
            continue
        mark = "  <- ganvas default here" if r.get("default") else ""
        print(f"{r['setting']:<{width}}{r['img_per_sec']:>10.1f}{r['ratio']:>12.2f}x{mark}")
    if chosen is not None:
        verdict = "meets" if report["meets_target"] else "misses"
        print(f"default setting {default}: {chosen['ratio']:.2f}x the textbook, {verdict} the {args.target:g}x target")


if __name__ == "__main__":
    main()
