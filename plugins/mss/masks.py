"""Masks: what the administrator does not want recorded, painted over before a
frame leaves the source, so that it never reaches the encoder, the disk, a
thumbnail or an export.

Patterns are shell globs (``*KeePassXC*``), which administrators already know
and which cannot be malformed in a way that silently matches nothing, or
regular expressions when written ``re:...``. Both ignore case: a mask that
matches more than meant hides too much, one that matches less leaks.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Iterable

FILL = bytes((0x80, 0x80, 0x80, 0xFF))  # mid grey, BGRA: unlike any desktop's black or white
Rect = tuple[int, int, int, int]  # left, top, width, height on the screen (root window)


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


def check_rects(instance, attribute, value: list[list[int]]) -> None:
    for index, rect in enumerate(value):
        if len(rect) != 4 or rect[2] <= 0 or rect[3] <= 0:
            raise ValueError(f"[{index}] {rect} must be [left, top, width, height] with a positive "
                             f"width and height")


class Matcher:
    """Which windows are masked: by title (``_NET_WM_NAME`` or ``WM_NAME``) or by
    class (either half of ``WM_CLASS``)."""

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


def paint(bands, rects: Iterable[Rect], area: dict[str, int]) -> None:
    """Fill ``rects`` (screen coordinates) in each ``(top, rows)`` band of the
    recorded ``area``, in place."""
    left, top, width = area["left"], area["top"], area["width"]
    stride = width * 4
    clipped = []
    for x, y, w, h in rects:
        x0, x1 = max(0, x - left), min(width, x + w - left)
        if x1 > x0:
            clipped.append((x0 * 4, x1 * 4, y - top, y + h - top, FILL * (x1 - x0)))
    if not clipped:
        return
    for band_top, rows in bands:
        band_bottom = band_top + len(rows) // stride
        for x0, x1, y0, y1, fill in clipped:
            for row in range(max(y0, band_top), min(y1, band_bottom)):
                start = (row - band_top) * stride
                rows[start + x0:start + x1] = fill
