"""`ganvas train`: parse flags -> a RunConfig -> ganvas.train.train()."""

from __future__ import annotations

import click

from ganvas.cli.common import positive_float, positive_int
from ganvas.config import PRECISIONS


@click.command("train")
@click.option("--data", "data", default=None, metavar="PATH|emoji|ring8|grid25",
              help="A folder of images (scanned recursively) or a built-in set. [default: emoji]")
@click.option("--out", "out", required=False, metavar="RUN_DIR", type=click.Path(file_okay=False),
              help="Run folder; rerunning the same command on it resumes.")
@click.option("--model", default=None, help="Registered model (see `ganvas models`). [default: auto]")
@click.option("--resolution", type=int, default=None, help="Training resolution in px (power of two).")
@click.option("--batch", type=int, default=None, callback=positive_int,
              help="Batch size: images per step, over all processes (GPUs) together.")
@click.option("--batch-gpu", "batch_gpu", type=int, default=None, callback=positive_int,
              help="Images per forward pass on each process; gradients of --batch / processes / --batch-gpu "
                   "passes accumulate, so a small GPU runs the same schedule as a large one. [default: all of "
                   "its share]")
@click.option("--kimg", type=float, default=None, callback=positive_float,
              help="Duration in thousands of images shown to D (fractions allowed).")
@click.option("--minutes", type=float, default=None, callback=positive_float,
              help="Stop after this much training time (a checkpoint is written; rerun to continue).")
@click.option("--epochs", type=float, default=None, callback=positive_float,
              help="Duration in passes over the dataset (instead of --kimg).")
@click.option("--loss", default=None, help="Registered loss: nonsat, minimax, wgan-gp, hinge, lsgan.")
@click.option("--aug", default=None,
              help="Augmentation of D's inputs: none, diffaugment, ada (adaptive strength). [default: none]")
@click.option("--seed", type=int, default=None, help="Seed for weights, noise and data order.")
@click.option("--checkpoint-kimg", type=float, default=None, callback=positive_float,
              help="Write a resumable checkpoint every K kimg (fractions allowed).")
@click.option("--fit", type=click.Choice(["crop", "pad", "stretch"]), default=None,
              help="How non-square images become square. [default: crop]")
@click.option("--labels", type=click.Choice(["none", "subdirs"]), default=None,
              help="subdirs: first-level subfolders are class labels (conditional training).")
@click.option("--background", default=None, help="Colour behind transparent pixels: white, black, #rrggbb.")
@click.option("--metrics", "metrics", default=None, metavar="LIST",
              help="Score the EMA generator during training, e.g. kid,fid (writes metrics.jsonl, best/).")
@click.option("--metrics-every", "metrics_every", type=float, default=None, callback=positive_float,
              metavar="KIMG", help="Metric interval in kimg [default: every snapshot].")
@click.option("--preset", default="default", show_default=True,
              help="Config preset: default, demo, or auto (model, width, batch, R1, augmentation and EMA chosen "
                   "from the resolution and the dataset size; it prints what it chose and why).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override any config field, e.g. --set optim.G.lr=1e-4 (repeatable).")
@click.option("--creative", is_flag=True, default=None,
              help="Creative mode (CAN): an unconditional G learns to make works D accepts as art but cannot "
                   "assign to any of the known styles (needs --labels subdirs).")
@click.option("--resume-from", "resume_from", default=None, type=click.Path(),
              help="Transfer learning: start from another run's weights (same model and widths). The style-based "
                   "model may change resolution: the layers both sizes share carry over.")
@click.option("--freeze-d", "freeze_d", type=int, default=None,
              help="Keep D's first N layers (from the image side) fixed: Freeze-D, for fine-tuning on few images.")
@click.option("--precision", type=click.Choice(PRECISIONS), default=None,
              help="Forward-pass precision: bf16 or fp16 autocast (fp16 with loss scaling), fp32, or auto "
                   "(bf16 where the hardware runs it natively). [default: auto]")
@click.option("--compile", "compile_mode", is_flag=False, flag_value="default", default=None,
              type=click.Choice(["default", "reduce-overhead", "max-autotune"]),
              help="torch.compile G and D (for GPUs; on CPUs it ran slower than eager). A mode may follow: "
                   "reduce-overhead adds CUDA graphs (for small, launch-bound networks), max-autotune searches "
                   "kernels longer. Can be turned on or off when resuming.")
@click.option("--gpus", type=int, default=None, callback=positive_int,
              help="Train on N GPUs of this machine: relaunches this command under torchrun (one process each).")
@click.option("--dry-run", is_flag=True, help="Print the resolved config and exit.")
@click.option("--no-progress", is_flag=True, help="No progress bar (for logs).")
def train_cmd(data, out, model, resolution, batch, batch_gpu, kimg, minutes, epochs, loss, aug, seed, checkpoint_kimg,
              fit, labels, background, metrics, metrics_every, preset, sets, creative, resume_from, freeze_d,
              precision, compile_mode, gpus, dry_run, no_progress):
    """Train a GAN on a folder of images or a built-in set.

    \b
    Examples:
      ganvas train --data emoji --out runs/emoji --kimg 100
      ganvas train --data ~/art --labels subdirs --resolution 64 --out runs/art
      ganvas train --data ring8 --loss wgan-gp --kimg 20 --out runs/ring8
      ganvas train --data emoji --out runs/x --set optim.D.lr=1e-4 --dry-run
    Rerun the same command to resume after an interruption; raise --kimg to train longer.
    """
    from ganvas.config import build_config, parse_set
    from ganvas.errors import ConfigError

    flags = {"data.source": data, "model.name": model, "data.resolution": resolution, "train.batch": batch,
             "train.batch_gpu": batch_gpu, "train.kimg": kimg, "train.minutes": minutes, "train.epochs": epochs,
             "loss.name": loss, "aug.name": aug, "train.seed": seed,
             "train.checkpoint_kimg": checkpoint_kimg, "data.fit": fit, "data.labels": labels,
             "data.background": background, "train.metrics": metrics, "train.metrics_kimg": metrics_every,
             "train.resume_from": resume_from, "train.freeze_d": freeze_d, "train.precision": precision,
             "loss.creative_weight": 1.0 if creative else None,
             "train.compile": True if compile_mode else None, "train.compile_mode": compile_mode}
    overrides = {k: v for k, v in flags.items() if v is not None}
    overrides.update(parse_set(sets))
    if data is not None and data.startswith("~"):
        import os

        overrides["data.source"] = os.path.expanduser(data)
    if preset == "auto":
        cfg = _auto_config(overrides, progress=not no_progress)
    else:
        cfg = build_config(preset, overrides)
    if dry_run:
        click.echo(cfg.to_json())
        return
    if out is None:
        raise ConfigError("--out RUN_DIR is required: the folder for checkpoints, grids and the generator")
    if gpus is not None:
        _launch_torchrun(gpus)
    from ganvas.train import train

    result = train(cfg, out, progress=not no_progress, log=lambda m: click.echo(m, err=True))
    if not result.is_main:
        return  # the first process says where things are
    click.echo(f"generator: {result.generator}")
    if result.grid:
        click.echo(f"samples:   {result.grid}")
    if result.loss_plot:
        click.echo(f"losses:    {result.loss_plot}")


def _auto_config(overrides: dict, progress: bool):
    """Count the dataset, then build the `auto` preset for its size and say what was chosen."""
    from ganvas.config import POINT_SOURCES, auto_preset, build_config
    from ganvas.data.sources import load_data
    from ganvas.errors import ConfigError
    from ganvas.train.steps import check_names

    base = build_config("default", overrides)
    if base.data.source in POINT_SOURCES:
        raise ConfigError("--preset auto chooses settings for image data; 2-D sets train with the default preset")
    check_names(base)  # before the folder is read
    num_images = len(load_data(base.data, progress=progress))  # cached: training reuses this pass
    chosen, reasons = auto_preset(base.data.resolution, num_images, overrides.get("model.name"))
    click.echo(f"preset auto for {num_images} images at {base.data.resolution} px:", err=True)
    for r in reasons:
        click.echo(f"  - {r}", err=True)
    if set(overrides) & set(chosen):
        click.echo(f"  - your settings win: {', '.join(sorted(set(overrides) & set(chosen)))}", err=True)
    return build_config("auto", overrides, num_images=num_images)


def _launch_torchrun(gpus: int) -> None:
    """Rerun this very command as `torchrun --standalone --nproc_per_node=N -m ganvas ...` and exit with it."""
    import os
    import subprocess
    import sys

    import torch

    from ganvas.errors import ConfigError

    if os.environ.get("WORLD_SIZE"):
        return  # already one of torchrun's processes
    found = torch.cuda.device_count()
    if found < gpus:
        raise ConfigError(f"--gpus {gpus}, but this machine has {found} CUDA GPU{'s' if found != 1 else ''}. "
                          "For several CPU processes, run torchrun yourself: "
                          "torchrun --standalone --nproc_per_node=N -m ganvas train ...")
    if gpus == 1:
        return  # this process trains, on the GPU that train.device=auto picks
    args, skip = [], False
    for a in sys.argv[1:]:
        if skip:
            skip = False
        elif a == "--gpus":
            skip = True
        elif not a.startswith("--gpus="):
            args.append(a)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}",
           "-m", "ganvas", *args]
    click.echo("launching: " + " ".join(cmd), err=True)
    raise SystemExit(subprocess.call(cmd))
