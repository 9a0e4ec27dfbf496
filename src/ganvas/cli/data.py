"""`ganvas data ...`: look at a dataset before training on it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ganvas.data.folder import IMAGE_EXTENSIONS, LABEL_MODES

_MAX_SKIPPED_SHOWN = 20


@click.group()
def data() -> None:
    """Check image folders before training.

    \b
    Examples:
      ganvas data inspect ~/art
      ganvas data inspect ~/art --labels subdirs --json > report.json
    """


@data.command("inspect")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--labels", type=click.Choice(LABEL_MODES), default="none", show_default=True,
              help="subdirs: first-level subfolders are classes (images in the root are skipped).")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
def inspect_cmd(path: Path, labels: str, as_json: bool) -> None:
    """Count the usable images in PATH and list the files that would be skipped, and why.

    \b
    Examples:
      ganvas data inspect ~/art
      ganvas data inspect ~/art --labels subdirs --json
    """
    from ganvas.data.inspect import inspect_folder

    report = inspect_folder(path, labels=labels, progress=True)  # the bar goes to stderr
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        click.echo(format_report(report))


def format_report(r: dict) -> str:
    lines = [f"{r['path']}: {r['images']:,} usable image(s); looked at {r['files_seen']:,} file(s), "
             f"{r['image_files']:,} with an image extension, {len(r['skipped']):,} skipped"]

    def counts(d: dict) -> str:
        return ", ".join(f"{k} {v:,}" for k, v in d.items()) or "-"

    if r["labels_mode"] == "subdirs":
        lines.append(f"  labels:      {len(r['labels'])} class(es): {counts(r['labels'])}")
    elif r["subfolders"]:
        lines.append(f"  subfolders:  {counts(r['subfolders'])}  (use --labels subdirs to train with them as classes)")
    else:
        lines.append("  labels:      none")
    res = r["resolutions"]
    if res["width"]:
        w, h = res["width"], res["height"]
        common = ", ".join(f"{c['width']}x{c['height']} ({c['count']:,})" for c in res["most_common"])
        lines += [
            f"  width:       {w['min']}..{w['max']} (median {w['median']})",
            f"  height:      {h['min']}..{h['max']} (median {h['median']})",
            f"  most common: {common}",
            f"  non-square:  {r['non_square']:,} (cropped, padded or stretched to a square by --fit)",
            f"  modes:       {counts(r['modes'])}",
            f"  formats:     {counts(r['formats'])}",
        ]
    lines.append(f"  duplicates:  {r['duplicates']:,} file(s) identical to another one")
    if r["run_folders"]:
        lines.append(f"  run folders: {', '.join(r['run_folders'])}  (passed over: ganvas runs hold samples, not data)")
    if r["other_files"]:
        other = {ext or "(no extension)": k for ext, k in r["other_files"].items()}
        lines.append(f"  not images:  {counts(other)}  (passed over; accepted: "
                     f"{' '.join(IMAGE_EXTENSIONS)})")
    if r["skipped"]:
        lines.append(f"  skipped ({len(r['skipped']):,}):")
        lines += [f"    {s['path']}: {s['reason']}" for s in r["skipped"][:_MAX_SKIPPED_SHOWN]]
        if len(r["skipped"]) > _MAX_SKIPPED_SHOWN:
            lines.append(f"    ... and {len(r['skipped']) - _MAX_SKIPPED_SHOWN:,} more (--json lists all)")
    return "\n".join(lines)
