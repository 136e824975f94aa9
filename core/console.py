"""The one stderr console that notifications, warnings and the status line share,
so that rich can keep the live status line below everything printed."""

from __future__ import annotations

from functools import cache

from rich.console import Console
from rich.markup import escape


@cache
def console() -> Console:
    return Console(stderr=True, soft_wrap=True)  # messages stay one line in logs


def warn(text: str) -> None:
    console().print(f"[yellow]recorder: warning:[/] {escape(text)}", highlight=False, markup=True, soft_wrap=True)


def say(text: str) -> None:
    console().print(f"recorder: {text}", highlight=False, markup=False)
