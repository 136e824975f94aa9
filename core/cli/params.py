"""Checks shared by the command line's options."""

from __future__ import annotations

import math

import click
from recorder.config import layers

MAX_FPS = 240.0


def finite(ctx, param, value):
    """click's FloatRange lets nan through (no comparison with it is true) and, with no maximum, inf."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number")
    return value


def profile_name(ctx, param, value):
    if value is not None:
        layers.check_profile_name(value, f"--{param.name}")
    return value
