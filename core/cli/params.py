"""Checks shared by the command line's options."""

from __future__ import annotations

import math
import re

import click

MIN_FPS, MAX_FPS = 0.01, 240.0  # what a profile takes (config.profile.FPS_RANGE)
# The control channel's verbs: support tools call them often, so they run without loading plugins.
CONTROL_VERBS = ("status", "pause", "resume", "mark", "events", "stop")
# Which options given before the command name (recorder --profile rep list) a command takes.
# (A plugin's command takes those it has an option for.)
GROUP_OPTIONS = {"list": ("profile",), "search": ("profile",), "stop": ("profile",), "recover": ("profile",),
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


# Durations as people write them: 90, 1.5, 90s, 10m, 2.5m, 1h30m, 1h 30m 10s, 01:30:00, 1:30.
_NUMBER = r"\d+(?:\.\d+)?|\.\d+"
_UNITS = re.compile(rf"(?:({_NUMBER})\s*h)?\s*(?:({_NUMBER})\s*m)?\s*(?:({_NUMBER})\s*s)?", re.IGNORECASE)
_CLOCK = re.compile(r"(?:(\d+):)?(\d+):(\d{1,2}(?:\.\d+)?)")


def parse_duration(text: str) -> float | None:
    """Seconds, or None when ``text`` is not a duration."""
    text = text.strip()
    if re.fullmatch(rf"(?:{_NUMBER})(?:e[+-]?\d+)?", text, re.IGNORECASE):  # 90, 1.5, 1e3: seconds
        seconds = float(text)
    elif (units := _UNITS.fullmatch(text)) and any(units.groups()):
        hours, minutes, secs = (float(group or 0) for group in units.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    elif clock := _CLOCK.fullmatch(text):
        hours, minutes, secs = int(clock[1] or 0), int(clock[2]), float(clock[3])
        if secs >= 60 or (clock[1] is not None and minutes >= 60):
            return None
        seconds = hours * 3600 + minutes * 60 + secs
    else:
        return None
    return seconds if math.isfinite(seconds) else None


class Duration(click.ParamType):
    """An option given in seconds that also takes 10m, 1h30m, 90s or 01:30:00 (one line when
    it is none of them), within ``minimum`` (excluded with ``min_open``) and ``maximum``."""

    name = "duration"

    def __init__(self, minimum: float = 0.0, maximum: float | None = None, min_open: bool = False) -> None:
        self.minimum, self.maximum, self.min_open = minimum, maximum, min_open

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds: float | None = float(value)
        else:
            seconds = parse_duration(str(value))
        if seconds is None or not math.isfinite(seconds):
            self.fail(f"{value!r} is not a duration: give seconds (90, 1.5), or 90s, 10m, 1h30m, 01:30:00",
                      param, ctx)
        if seconds < self.minimum or (self.min_open and seconds == self.minimum):
            self.fail(f"{value!r} is too short: it must be more than {self.minimum:g} s" if self.min_open
                      else f"{value!r}: it must be at least {self.minimum:g} s", param, ctx)
        if self.maximum is not None and seconds > self.maximum:
            self.fail(f"{value!r} is too long: at most {self.maximum:g} s", param, ctx)
        return seconds
