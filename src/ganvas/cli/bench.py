"""`ganvas bench modes`: the mode-collapse benchmark."""

from __future__ import annotations

import json

import click

from ganvas.cli.common import positive_float, positive_int


@click.group("bench")
def bench() -> None:
    """Benchmarks with published reference results."""


@bench.command("modes")
@click.option("--data", type=click.Choice(["ring8", "grid25"]), required=True)
@click.option("--runs", type=int, default=10, show_default=True, callback=positive_int)
@click.option("--loss", default="nonsat", show_default=True, help="Registered loss (see `ganvas models`).")
@click.option("--recipe", default="default", show_default=True,
              help="Named training recipe: default (about 2 minutes a run on 2 cores), long, short.")
@click.option("--kimg", type=float, default=None, callback=positive_float, help="Override the recipe's duration.")
@click.option("--jobs", type=int, default=1, show_default=True, callback=positive_int,
              help="Runs trained at once, in separate processes that share the CPU threads.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override any config field.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
def modes_cmd(data, runs, loss, recipe, kimg, jobs, sets, as_json):
    """Train the 2-D MLP GAN --runs times and score mode coverage (PacGAN/VEEGAN protocol).

    \b
    Example:
      ganvas bench modes --data ring8 --runs 10
      ganvas bench modes --data grid25 --loss wgan-gp --runs 3 --json
      ganvas bench modes --data grid25 --runs 10 --jobs 2    # two runs at a time, one thread each
    """
    from ganvas.apps.bench_modes import format_table, run_modes_bench
    from ganvas.config import parse_set

    overrides = parse_set(sets)
    if kimg is not None:
        overrides["train.kimg"] = kimg
    result = run_modes_bench(data, runs=runs, loss=loss, recipe=recipe, overrides=overrides, jobs=jobs,
                             log=lambda m: click.echo(m, err=True))
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(format_table(result))
