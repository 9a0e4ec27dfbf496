"""`ganvas metrics`: score a run's generator or a folder of images against a data set."""

from __future__ import annotations

import json

import click

from ganvas.cli.common import positive_int


@click.command("metrics")
@click.argument("source", type=click.Path())
@click.option("--ref", required=True, metavar="DATA", help="Reference data: a folder or a built-in set (emoji).")
@click.option("--metrics", "names", default=None,
              help="Comma list of fid, kid, pr, dc. [default: kid under 2,000 images, else fid,kid]")
@click.option("--num", type=int, default=1000, show_default=True, callback=positive_int,
              help="Generated images (and at most this many real ones).")
@click.option("--extractor", default="effnet-lite0", show_default=True,
              help="Feature extractor: effnet-lite0 (shipped), inception (--weights), pixels, random-conv (tests).")
@click.option("--weights", default=None, type=click.Path(), help="Weights file for the inception extractor.")
@click.option("--resolution", type=int, default=None, help="Resolution for folder-vs-folder scoring [64].")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for KID subsets and real subsets.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def metrics_cmd(source, ref, names, num, extractor, weights, resolution, seed, as_json):
    """Score SOURCE (a run folder or an image folder) against --ref.

    \b
    Examples:
      ganvas metrics runs/demo --ref emoji --metrics fid,kid,pr,dc --num 2000
      ganvas metrics generated/ --ref ~/art --metrics kid --json
    Scores say which features they use: "FID (EfficientNet-Lite0)" is not comparable with paper FID,
    which needs --extractor inception --weights inception-2015-12-05.pt.
    """
    from ganvas.data.dataset import SkippedFile, skipped_note
    from ganvas.metrics.evaluate import evaluate

    metric_list = [m.strip() for m in names.split(",") if m.strip()] if names else None
    result = evaluate(source, ref, metric_list, num=num, extractor=extractor, weights=weights,
                      resolution=resolution, seed=seed, progress=not as_json)
    if as_json:
        click.echo(json.dumps(result))
        return
    label = result["label"]
    for key in ("fid", "kid", "precision", "recall", "density", "coverage"):
        if key in result:
            name = label.replace("FID", key.upper()) if key in ("fid", "kid") else f"{key} ({result['extractor']})"
            extra = ""
            if key == "kid":
                whole = result["kid_subset_size"] >= min(result["num"], result["num_real"])
                extra = f" ± {result['kid_std']:.4f}" + (" (each subset holds every image: use --num > 1000 "
                                                         "for a spread)" if whole else "")
            if key == "fid" and min(result["num"], result["num_real"]) <= result.get("fid_dims", 0):
                extra = (f" (from {min(result['num'], result['num_real'])} images in {result['fid_dims']}-dimensional "
                         f"features: biased upward at this count, compare only FIDs of equal counts; KID is "
                         f"unbiased)")
            click.echo(f"{name}: {result[key]:.4f}{extra}")
    click.echo(f"images: {result['num']} generated vs {result['num_real']} real ({result['ref']}), "
               f"{result['resolution']} px, resized {result['resize']}")
    for name, key in ((result["ref"], "ref_skipped"), (source, "source_skipped")):
        note = skipped_note(str(name), [SkippedFile(**d) for d in result[key]])
        if note:
            click.echo(note)


@click.command("leak")
@click.argument("run_dir", type=click.Path())
@click.option("--ref", required=True, metavar="DATA", help="The training data: a folder or a built-in set (emoji).")
@click.option("--num", type=int, default=500, show_default=True, callback=positive_int,
              help="Generated images to check (and at most this many real ones).")
@click.option("--extractor", default="pixels,effnet-lite0", show_default=True,
              help="Feature spaces to check in (comma list); a leak in any of them counts.")
@click.option("--weights", default=None, type=click.Path(), help="Weights file for the inception extractor.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def leak_cmd(run_dir, ref, num, extractor, weights, seed, as_json):
    """Check a generator for augmentation leaks: rotated, flipped or cut-out images the data does not have.

    \b
    Example:
      ganvas leak runs/small --ref ~/art --num 500
    Exit status 0 either way; read the verdict (or "leaked" in --json).
    """
    from ganvas.metrics.evaluate import check_leak

    result = check_leak(run_dir, ref, num=num, extractor=extractor, weights=weights, seed=seed,
                        progress=not as_json)
    if as_json:
        click.echo(json.dumps(result))
        return
    for space, report in result["spaces"].items():
        click.echo(f"in {space} features:")
        for name, t in report["transforms"].items():
            seen = t["detectable"]  # power and resolution mean nothing where a full leak barely moves the votes
            power = f"x{t['power_ratio']:.2f}" if seen else "-"
            flags = f"~{t['min_share']:.0%}" if seen else "-"
            click.echo(f"  {name:<8} rate {t['rate']:.3f}  held-out real {t['baseline']:.3f}  all-transformed "
                       f"{t['control']:.3f}  share ~{t['fraction']:.0%}  distance x{t['distance_ratio']:.2f}  "
                       f"margin x{t['margin_ratio']:.2f}  power {power}  flags from {flags}  {t['state']}")
    click.echo(result["summary"])
