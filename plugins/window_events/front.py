"""What is known of the window in front, and how its names are made fit to write.

A window's title and its program's name are set by whatever program made the
window: untrusted text. Before either is written (session.json, the journal, the
support tool's channel, ``recorder info`` in a terminal, the replay page) it is
cut to a length and stripped of control and format characters: no escape
sequence reaches a terminal, no bidirectional override turns a title around, no
line break splits a log line.
"""

from __future__ import annotations

import unicodedata

import attrs

TITLE_MAX = 200  # characters of a title written: enough to tell windows apart, no page of text
PROGRAM_MAX = 64
# Control, format (bidi overrides, zero-width), surrogate, private-use and unassigned
# characters, and the line and paragraph separators: none of them is text a reviewer reads.
DROPPED = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


@attrs.frozen
class Front:
    """The window in front, as the desktop says: what masks are matched against (every title
    and class it and the windows in it have) and what may be written (its title, its program)."""
    window: int  # the desktop's id of it: a different window with the same names is still a change
    program: str  # as read: the executable's name, or its class where the process is not known
    title: str  # the title shown for it, as read
    titles: tuple[str, ...] = ()  # every title of it and the windows in it, for masks
    classes: tuple[str, ...] = ()


def clean(text: str, limit: int) -> str:
    """``text`` without control or format characters (whitespace ones become a space),
    spaces run together, at most ``limit`` characters (cut with an ellipsis)."""
    kept = []
    for char in text:
        if unicodedata.category(char) in DROPPED:
            char = " " if char.isspace() else ""
        kept.append(char)
    words = " ".join("".join(kept).split())
    return words if len(words) <= limit else words[:limit - 1].rstrip() + "\u2026"


@attrs.frozen
class Unknown:
    """The desktop does not say which window is in front (``why``: a sentence)."""
    why: str
