"""`ganvas demo`: the main job end to end on the built-in emoji set (what `make demo` runs)."""

from __future__ import annotations

import time

import click


@click.command("demo")
@click.option("--out", default="runs/demo", show_default=True, type=click.Path(file_okay=False))
@click.option("--kimg", type=float, default=None, help="Override the demo's training length.")
@click.option("--no-progress", is_flag=True)
def demo_cmd(out, kimg, no_progress):
    """Train on the built-in emoji set, then write a sample grid, a looping GIF and a loss plot."""
    from pathlib import Path

    from ganvas.config import build_config
    from ganvas.generate.api import load
    from ganvas.generate.interpolate import interpolate
    from ganvas.train import train

    t0 = time.perf_counter()
    cfg = build_config("demo", {"train.kimg": kimg} if kimg else {})
    result = train(cfg, out, progress=not no_progress, log=lambda m: click.echo(m, err=True))
    handle = load(out)
    # A conditional demo model cycles through the categories: one category per grid column.
    grid = handle.save(list(range(64)), Path(out) / "samples", grid=True)[-1]
    walk_class = "Smileys & Emotion" if "Smileys & Emotion" in handle.label_names else None
    gif = interpolate(handle, [1, 7, 3, 12], 96, Path(out) / "walk.gif", fps=16, scale=4, class_name=walk_class)
    click.echo(f"done in {time.perf_counter() - t0:.0f} s")
    click.echo(f"sample grid:   {grid}")
    click.echo(f"interpolation: {gif}")
    click.echo(f"loss plot:     {result.loss_plot}")
    click.echo(f"generator:     {result.generator}")
