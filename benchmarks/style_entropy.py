"""How far generated works stray from the known styles: style-classifier entropy of a run's samples.

    python benchmarks/style_entropy.py runs/conditional runs/creative --num 500

An independent style classifier (not any run's D): a linear softmax probe on EfficientNet-Lite0
features of the labelled emoji set (its 8 categories), trained on 80% of the images and checked on the
other 20%. For each run, the probe classifies `--num` generated images; the mean entropy of its class
posterior (0 = clearly one style, ln 8 = 2.08 = no style at all) shows how much a run's works commit to
a known style. Creative mode (CAN) should score higher than a conditional model, whose works are asked
to be one style each. Held-out real images give the reference, and so do 50/50 pixel blends of two
held-out works of different styles: what the probe says of a work plainly between two styles.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine  # noqa: E402


def _probe(feats: np.ndarray, labels: np.ndarray, k: int, seed: int = 0):
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(feats).float()
    y = torch.from_numpy(labels).long()
    perm = torch.randperm(len(x), generator=g)
    n_train = int(0.8 * len(x))
    tr, te = perm[:n_train], perm[n_train:]
    mean, std = x[tr].mean(0), x[tr].std(0) + 1e-6
    x = (x - mean) / std
    lin = torch.nn.Linear(x.shape[1], k)
    opt = torch.optim.LBFGS(lin.parameters(), lr=1, max_iter=200)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(lin(x[tr]), y[tr]) + 1e-3 * lin.weight.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        acc = (lin(x[te]).argmax(1) == y[te]).float().mean().item()
        held_entropy = _entropy(lin(x[te]))
    return lin, mean, std, acc, held_entropy, te.numpy()


def _entropy(logits) -> float:
    import torch

    logp = torch.log_softmax(logits, dim=1)
    return float(-(logp.exp() * logp).sum(1).mean())


def _blends(images: np.ndarray, labels: np.ndarray, held: np.ndarray, num: int, seed: int = 0) -> np.ndarray:
    """Up to `num` uint8 images, each the pixel mean of two held-out images of different styles."""
    rng = np.random.default_rng(seed)
    i, j = rng.choice(held, num), rng.choice(held, num)
    keep = labels[i] != labels[j]
    a, b = images[i[keep]].astype(np.float32), images[j[keep]].astype(np.float32)
    return np.round((a + b) / 2).astype(np.uint8)


def _probe_logits(probe, feats: np.ndarray):
    """The probe's style logits [N, K] for features [N, D]."""
    import torch

    lin, mean, std = probe[:3]
    with torch.no_grad():
        return lin((torch.from_numpy(feats).float() - mean) / std)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run folders whose generators to score")
    p.add_argument("--num", type=int, default=500)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    from ganvas.checkpoint import load_generator
    from ganvas.data.emoji import load_emoji
    from ganvas.metrics.evaluate import _generated_batches
    from ganvas.metrics.features import build_extractor, extract

    ext = build_extractor("effnet-lite0")
    results = {}
    probes = {}
    for run in args.runs:
        G, record = load_generator(run)
        res = int(record["resolution"])
        if res not in probes:
            data = load_emoji(res)
            feats = extract(ext, data.images, progress=False)
            probes[res] = _probe(feats, data.labels, data.num_classes)
            results[f"held-out real emoji ({res} px)"] = {"entropy": round(probes[res][4], 4),
                                                         "probe_accuracy": round(probes[res][3], 4)}
            blends = _blends(data.images, data.labels, probes[res][5], args.num)
            results[f"50/50 blends of two held-out styles ({res} px)"] = {
                "entropy": round(_entropy(_probe_logits(probes[res], extract(ext, blends, progress=False))), 4)}
        lin = probes[res][0]
        gen = np.concatenate([b.numpy() for b in _generated_batches(G, args.num, 64)])
        logits = _probe_logits(probes[res], extract(ext, gen, progress=False))
        results[run] = {"entropy": round(_entropy(logits), 4), "num": args.num,
                        "top_style_share": np.bincount(logits.argmax(1).numpy(), minlength=lin.out_features)
                        .round(0).tolist()}
    report = {"benchmark": "style_entropy", "max_entropy": round(math.log(8), 4), "results": results,
              "machine": machine()}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"machine: {report['machine']}")
    print(f"style entropy (0 = one clear style, {report['max_entropy']} = none), EfficientNet-Lite0 linear probe")
    for name, r in results.items():
        extra = f"  probe accuracy {r['probe_accuracy']:.3f}" if "probe_accuracy" in r else ""
        print(f"{name:<48}{r['entropy']:>8.3f}{extra}")


if __name__ == "__main__":
    main()
