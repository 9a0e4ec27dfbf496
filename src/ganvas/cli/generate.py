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
@click.option("--per-class", "per_class", is_flag=True,
              help="Conditional generators: also write classes.png, one row per class, the seeds as columns.")
@click.option("--class", "class_name", default=None, help="Class (style) name, for conditional generators.")
@click.option("--batch-size", type=int, default=64, show_default=True, callback=positive_int)
@click.option("--precision", type=click.Choice(["fp32", "bf16", "auto"]), default="fp32", show_default=True,
              help="bf16 is about twice as fast on CPUs with AVX512-BF16/AMX; fp32 gives the same pixels everywhere.")
@click.option("--dry-run", is_flag=True, help="Check the run and the options, print what would be written, exit.")
def generate_cmd(run_dir, seeds, out, trunc, grid, per_class, class_name, batch_size, precision, dry_run):
    """Write one PNG per seed (same seed, same image, whatever the batch size).

    \b
    Example:
      ganvas generate runs/emoji --seeds 0-15 --out out/ --trunc 0.8 --grid
    """
    from ganvas.generate.api import load

    _check_folder_out(out)
    handle = load(run_dir, precision=precision)
    _warn_if_emulated(handle)
    if dry_run:
        handle.check_truncation(trunc)
        handle.class_vector(seeds[:1], class_name)  # validates the class
        click.echo(f"would write {len(seeds)} images (seed{seeds[0]:04d}.png ...){' and grid.png' if grid else ''} "
                   f"to {out} from generator {handle.fingerprint}")
        return
    if per_class and not handle.G.c_dim:
        from ganvas.errors import GanvasError

        raise GanvasError("--per-class needs a conditional generator (train with --labels subdirs)")
    paths = handle.save(seeds, out, truncation=trunc, class_name=class_name, grid=grid, batch_size=batch_size,
                        progress=True)
    count = f"{len(seeds)} image{'s' if len(seeds) != 1 else ''}"
    click.echo(f"wrote {count} to {out}" + (f" (grid: {paths[-1]})" if grid else ""))
    if per_class:
        click.echo(f"per-class grid: {handle.save_class_grid(seeds[:16], out, truncation=trunc)}")


def _warn_if_emulated(handle) -> None:
    import torch

    from ganvas.utils.device import slow_precision_note

    note = slow_precision_note(handle.precision, torch.device(handle.device))
    if note:
        click.echo(f"warning: {note}", err=True)


@click.command("interpolate")
@click.argument("run_dir", type=click.Path())
@click.option("--seeds", type=SEEDS, required=True,
              help="Seeds to walk through in order, e.g. 1,7,3 (with --classes: the one seed to morph).")
@click.option("--classes", default=None, metavar="A,B,...",
              help="Walk through these classes (styles) instead, with the first seed fixed.")
@click.option("--frames", type=int, default=60, show_default=True, callback=positive_int)
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Output path: .gif (a looping GIF) or .mp4 (an H.264 video).")
@click.option("--trunc", type=float, default=1.0, show_default=True)
@click.option("--fps", type=float, default=20.0, show_default=True)
@click.option("--scale", type=int, default=None, callback=positive_int,
              help="Enlarge frames by this factor (nearest neighbour). Default: 1 for a GIF; for an MP4, "
                   "the least factor that makes frames at least 256 px.")
@click.option("--class", "class_name", default=None, help="Class (style) name, for conditional generators.")
@click.option("--dry-run", is_flag=True, help="Check the run and the options, print what would be written, exit.")
def interpolate_cmd(run_dir, seeds, frames, out, trunc, fps, scale, classes, class_name, dry_run):
    """Write a looping GIF or MP4: a spherical walk through the seeds' latents and back.

    \b
    Examples:
      ganvas interpolate runs/emoji --seeds 1,7,3 --frames 60 --out walk.gif
      ganvas interpolate runs/emoji --seeds 1,7,3,9 --frames 240 --fps 30 --out walk.mp4
      ganvas interpolate runs/styles --classes monet,vangogh,hokusai --seeds 4 --out styles.mp4
    """
    from ganvas.generate.api import load
    from ganvas.generate.interpolate import check_video_out, class_walk, interpolate

    check_video_out(out, fps)  # a wrong suffix or frame rate fails before the generator loads
    handle = load(run_dir)
    if classes:
        names = [c.strip() for c in classes.split(",") if c.strip()]
        if dry_run:
            click.echo(f"would write a {frames}-frame {_video_kind(out)} of seed {seeds[0]} through classes {names} "
                       f"to {out}")
            return
        click.echo(f"wrote {class_walk(handle, seeds[0], names, frames, out, trunc, fps, scale)}")
        return
    if dry_run:
        from ganvas.generate.interpolate import walk_latents

        handle.check_truncation(trunc)
        walk_latents(handle.latents(seeds), frames)  # validates seeds and frames
        handle.class_vector(seeds[:1], class_name)
        click.echo(f"would write a {frames}-frame {_video_kind(out)} through seeds {seeds} to {out}")
        return
    path = interpolate(handle, seeds, frames, out, truncation=trunc, fps=fps, class_name=class_name, scale=scale)
    click.echo(f"wrote {path}")


def _check_folder_out(out: str) -> None:
    """`--out x.png` would make a folder named x.png: say so before the generator loads."""
    from pathlib import Path

    from ganvas.data.folder import IMAGE_EXTENSIONS
    from ganvas.errors import GanvasError

    path = Path(out)
    if path.suffix.lower() in IMAGE_EXTENSIONS and not path.is_dir():
        raise GanvasError(f"--out {out} looks like a file name, but generate writes a folder (seed0000.png, ... and "
                          f"grid.png with --grid): give a folder, e.g. --out {path.with_suffix('')}")


def _video_kind(out: str) -> str:
    return "MP4 video" if out.lower().endswith(".mp4") else "looping GIF"


@click.command("mix")
@click.argument("run_dir", type=click.Path())
@click.option("--base", "base_seeds", type=SEEDS, required=True, help="Seeds of the base images (rows), e.g. 1-4.")
@click.option("--styles", "style_seeds", type=SEEDS, required=True, help="Seeds of the style sources (columns).")
@click.option("--layers", type=SEEDS, default="0-3", show_default=True,
              help="Style layers taken from the style source: low = pose and shape, high = colour and texture.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output .png path.")
@click.option("--trunc", type=float, default=1.0, show_default=True)
@click.option("--class", "class_name", default=None, help="Class (style) name, for conditional generators.")
def mix_cmd(run_dir, base_seeds, style_seeds, layers, out, trunc, class_name):
    """Style mixing table: each base image with the styles of each source in chosen layers.

    \b
    Example:
      ganvas mix runs/art --base 1-4 --styles 10-14 --layers 0-3 --out mix.png
    """
    from pathlib import Path

    from ganvas.errors import GanvasError
    from ganvas.generate.api import load
    from ganvas.utils.image import make_grid, to_pil
    from ganvas.utils.provenance import provenance, save_png

    if not out.lower().endswith(".png"):
        raise GanvasError(f"--out {out} must end in .png")
    handle = load(run_dir)
    table = handle.style_mix(base_seeds, style_seeds, layers, truncation=trunc, class_name=class_name)
    meta = provenance(handle.fingerprint, [*base_seeds, *style_seeds], trunc, mix_layers=",".join(map(str, layers)))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    save_png(to_pil(make_grid(table, cols=len(style_seeds) + 1)), out, meta)
    click.echo(f"wrote {out}: {len(base_seeds)} base rows x {len(style_seeds)} style columns, layers "
               f"{','.join(map(str, layers))}")
