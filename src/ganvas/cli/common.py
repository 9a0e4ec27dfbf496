"""Option parsers shared by subcommands (seeds, kimg, overrides)."""

from __future__ import annotations

import click

from ganvas.errors import ConfigError
from ganvas.utils.seeding import parse_seeds


class SeedsType(click.ParamType):
    """'0-15,42' -> [0, 1, ..., 15, 42]."""

    name = "SEEDS"

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        try:
            return parse_seeds(value)
        except ConfigError as e:
            self.fail(str(e), param, ctx)


SEEDS = SeedsType()


def positive_float(ctx, param, value):
    if value is not None and not value > 0:
        raise click.BadParameter(f"must be positive, got {value:g}")
    return value


def positive_int(ctx, param, value):
    if value is not None and value < 1:
        raise click.BadParameter(f"must be at least 1, got {value}")
    return value
