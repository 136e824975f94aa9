"""Which windows are masked: the patterns of ``mask_titles`` and ``mask_classes``.

Not a plugin (nothing here is registered): code the built-ins share. The ``mss``
source paints the windows these patterns name (recorder.plugins.mss.masks), and
the ``window-events`` guard never writes their titles; both match with this one
``Matcher``, so a title painted over on the screen is a title kept out of the
timeline, and the other way round.

Patterns are shell globs (``*KeePassXC*``), which administrators already know
and which cannot be malformed in a way that silently matches nothing, or
regular expressions when written ``re:...``. Both ignore case: a mask that
matches more than meant hides too much, one that matches less leaks.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Iterable


def compile_pattern(text: str) -> re.Pattern:
    """A glob matches the whole title; ``re:`` searches it, as grep does."""
    if text.startswith("re:"):
        return re.compile(text[3:], re.IGNORECASE)
    return re.compile(r"\A" + fnmatch.translate(text), re.IGNORECASE)  # anchored: the whole title


def check_patterns(instance, attribute, value: list[str]) -> None:
    for index, text in enumerate(value):
        if not text or text == "re:":
            raise ValueError(f"[{index}] is empty (it would match nothing, or with re: everything)")
        try:
            compile_pattern(text)
        except re.error as exc:
            raise ValueError(f"[{index}] {text!r} is not a valid regular expression: {exc}") from None


class Matcher:
    """Which windows are masked: by title (``_NET_WM_NAME`` or ``WM_NAME``; on Windows the
    window text) or by class (either half of ``WM_CLASS``; on Windows the window class)."""

    def __init__(self, titles: Iterable[str], classes: Iterable[str]):
        self.titles = [compile_pattern(text) for text in titles]
        self.classes = [compile_pattern(text) for text in classes]

    def __bool__(self) -> bool:
        return bool(self.titles or self.classes)

    def matches(self, titles: Iterable[str], classes: Iterable[str]) -> bool:
        return (any(_hit(p, t) for p in self.titles for t in titles)
                or any(_hit(p, c) for p in self.classes for c in classes))


def _hit(pattern: re.Pattern, text: str) -> bool:
    return pattern.search(text) is not None
