"""The `ganvas` command line: one module per subcommand, each parse -> config -> one library call."""

from __future__ import annotations

import sys

import click

from ganvas.errors import GanvasError
from ganvas.utils.malloc import reuse_freed_memory


class _Group(click.Group):
    """Turns user errors into one clear line and exit status 2, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except GanvasError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted. A training run resumes from its last checkpoint when you rerun the same "
                       "command.", err=True)
            sys.exit(130)
        except OSError as e:  # a full disk, a read-only folder, a path that cannot be created
            where = f": {e.filename}" if getattr(e, "filename", None) else ""
            click.echo(f"error: {e.strerror or e}{where}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ganvas")
def main() -> None:
    """ganvas: train GANs on your art and create new works, offline.

    \b
    Examples:
      ganvas train --data emoji --out runs/emoji --kimg 100
      ganvas generate runs/emoji --seeds 0-15 --out out/ --grid
      ganvas interpolate runs/emoji --seeds 1,7,3 --frames 60 --out walk.gif
      ganvas data inspect ~/art --json
    """
    reuse_freed_memory()  # big CPU tensors reuse freed memory instead of page-faulting fresh mmaps


def _register() -> None:
    from ganvas.cli import bench, data, demo, generate, metrics, models, train

    main.add_command(train.train_cmd)
    main.add_command(generate.generate_cmd)
    main.add_command(generate.interpolate_cmd)
    main.add_command(generate.mix_cmd)
    main.add_command(models.models_cmd)
    main.add_command(demo.demo_cmd)
    main.add_command(data.data)
    main.add_command(bench.bench)
    main.add_command(metrics.metrics_cmd)
    main.add_command(metrics.leak_cmd)


_register()
