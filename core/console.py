"""The one stderr console that notifications, warnings and the status line share,
so that rich can keep the live status line below everything printed."""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


# rich is imported on first use: commands that print nothing through it (--version,
# status --json, mark) start faster without it.
@cache
def console() -> "Console":
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)  # messages stay one line in logs


def warn(text: str) -> None:
    from rich.markup import escape

    console().print(f"[yellow]recorder: warning:[/] {escape(text)}", highlight=False, markup=True, soft_wrap=True)


def library_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """For ``warnings.showwarning``: a library's warning as one line of recorder's own, without
    the library's source file and line (which mean nothing to the user)."""
    text = " ".join(str(message).split()) or category.__name__
    warn(text)


def say(text: str) -> None:
    console().print(f"recorder: {text}", highlight=False, markup=False)


# What a terminal would act on instead of showing: control characters (escape sequences, C1's
# CSI), format characters (bidirectional overrides), line and paragraph separators.
UNSHOWN = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def for_terminal(text: str) -> str:
    """``text`` as a terminal shows it literally: each control or format character as a visible
    escape (``\\x1b``, ``\\u202e``). For text from outside (an event's, a window title) printed
    as it is."""
    if text.isprintable():
        return text
    return "".join(char if unicodedata.category(char) not in UNSHOWN
                   else char.encode("unicode_escape").decode("ascii") for char in text)
