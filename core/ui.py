"""The one stderr console that notifications, warnings and the status line share,
so that rich can keep the live status line below everything printed."""

from __future__ import annotations

from functools import cache

from rich.console import Console


@cache
def console() -> Console:
    return Console(stderr=True, soft_wrap=True)  # messages stay one line in logs
