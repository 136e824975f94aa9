"""Checks shared by the command line's options."""

from __future__ import annotations

import math

import click

MAX_FPS = 240.0
# The control channel's verbs: support tools call them often, so they run without loading plugins.
CONTROL_VERBS = ("status", "pause", "resume", "mark", "events", "stop")
# Which options given before the command name (recorder --profile rep list) a command takes.
# (A plugin's command takes those it has an option for.)
GROUP_OPTIONS = {"list": ("profile",), "stop": ("profile",), "recover": ("profile",),
                 "status": ("profile",), "pause": ("profile",), "resume": ("profile",), "mark": ("profile",),
                 "events": ("profile",), "config": ("profile", "config")}


class PathParam(click.Path):
    """click.Path, with a path holding a NUL character refused as bad input (one line, exit 2)
    rather than reaching os.stat, which raises ValueError for it."""

    def convert(self, value, param, ctx):
        if "\0" in str(value):
            self.fail(f"{str(value)!r} holds a NUL character, which no path can", param, ctx)
        return super().convert(value, param, ctx)


def finite(ctx, param, value):
    """click's FloatRange lets nan through (no comparison with it is true) and, with no maximum, inf."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number")
    return value


def profile_name(ctx, param, value):
    from recorder.config import layers  # here: the config machinery is not needed by every command

    if value is not None:
        layers.check_profile_name(value, f"--{param.name}")
    return value
