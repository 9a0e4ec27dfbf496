"""`ganvas generate` and `ganvas interpolate`: create from a trained run."""

from __future__ import annotations

import click

from ganvas.cli.common import SEEDS, positive_int


@click.command("generate")
@click.argument("run_dir", type=click.Path())
@click.option("--seeds", type=SEEDS, default="0-15", show_default=True, help="Seeds, e.g. 0-15,42.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--trunc", type=float, default=1.0, show_default=True,
              help="Truncation psi: 1 = full variety, lower = closer to the average image.")
@click.option("--grid", is_flag=True, help="Also write grid.png with all seeds.")
@click.option("--class", "class_name", default=None, help="Class (style) name, for conditional generators.")
@click.option("--batch-size", type=int, default=64, show_default=True, callback=positive_int)
@click.option("--dry-run", is_flag=True, help="Check the run and the options, print what would be written, exit.")
def generate_cmd(run_dir, seeds, out, trunc, grid, class_name, batch_size, dry_run):
    """Write one PNG per seed (same seed, same image, whatever the batch size).

    \b
    Example:
      ganvas generate runs/emoji --seeds 0-15 --out out/ --trunc 0.8 --grid
    """
    from ganvas.generate.api import load

    handle = load(run_dir)
    if dry_run:
        handle.latents(seeds[:1], trunc)  # validates the truncation
        handle.class_vector(seeds[:1], class_name)  # validates the class
        click.echo(f"would write {len(seeds)} images (seed{seeds[0]:04d}.png ...){' and grid.png' if grid else ''} "
                   f"to {out} from generator {handle.fingerprint}")
        return
    paths = handle.save(seeds, out, truncation=trunc, class_name=class_name, grid=grid, batch_size=batch_size,
                        progress=True)
    click.echo(f"wrote {len(seeds)} images to {out}" + (f" (grid: {paths[-1]})" if grid else ""))


@click.command("interpolate")
@click.argument("run_dir", type=click.Path())
@click.option("--seeds", type=SEEDS, required=True, help="Seeds to walk through in order, e.g. 1,7,3.")
@click.option("--frames", type=int, default=60, show_default=True, callback=positive_int)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output .gif path.")
@click.option("--trunc", type=float, default=1.0, show_default=True)
@click.option("--fps", type=float, default=20.0, show_default=True)
@click.option("--scale", type=int, default=1, show_default=True, callback=positive_int,
              help="Enlarge frames by this factor (nearest neighbour).")
@click.option("--class", "class_name", default=None, help="Class (style) name, for conditional generators.")
@click.option("--dry-run", is_flag=True, help="Check the run and the options, print what would be written, exit.")
def interpolate_cmd(run_dir, seeds, frames, out, trunc, fps, scale, class_name, dry_run):
    """Write a looping GIF: a spherical walk through the seeds' latents and back.

    \b
    Example:
      ganvas interpolate runs/emoji --seeds 1,7,3 --frames 60 --out walk.gif
    """
    from ganvas.generate.api import load
    from ganvas.generate.interpolate import interpolate

    handle = load(run_dir)
    if dry_run:
        from ganvas.generate.interpolate import walk_latents

        walk_latents(handle.latents(seeds, trunc), frames)  # validates seeds, frames and truncation
        handle.class_vector(seeds[:1], class_name)
        click.echo(f"would write a {frames}-frame looping GIF through seeds {seeds} to {out}")
        return
    path = interpolate(handle, seeds, frames, out, truncation=trunc, fps=fps, class_name=class_name, scale=scale)
    click.echo(f"wrote {path}")
