"""`ganvas models`: what can be trained."""

from __future__ import annotations

import click


@click.command("models")
def models_cmd():
    """List the registered models and losses."""
    from ganvas.losses import LOSSES
    from ganvas.models import MODELS

    click.echo("models:")
    for name in MODELS:
        click.echo(f"  {name:10s} [{MODELS.get(name).kind}] {MODELS.help(name)}")
    click.echo("losses:")
    for name in LOSSES:
        click.echo(f"  {name:10s} {LOSSES.help(name)}")
