"""Masks: what the administrator does not want recorded, painted over before a
frame leaves the source, so that it never reaches the encoder, the disk, a
thumbnail or an export.

Patterns are shell globs (``*KeePassXC*``), which administrators already know
and which cannot be malformed in a way that silently matches nothing, or
regular expressions when written ``re:...``. Both ignore case: a mask that
matches more than meant hides too much, one that matches less leaks. The
patterns and their ``Matcher`` live in recorder.plugins.masking, shared with the
``window-events`` guard (a masked window's title is never written either).
"""

from __future__ import annotations

from typing import Iterable

from recorder.plugins.masking import Matcher, check_patterns, compile_pattern  # noqa: F401 (re-exported)

FILL = bytes((0x80, 0x80, 0x80, 0xFF))  # mid grey, BGRA: unlike any desktop's black or white
Rect = tuple[int, int, int, int]  # left, top, width, height on the screen (root window)


def check_rects(instance, attribute, value: list[list[int]]) -> None:
    for index, rect in enumerate(value):
        if len(rect) != 4 or rect[2] <= 0 or rect[3] <= 0:
            raise ValueError(f"[{index}] {rect} must be [left, top, width, height] with a positive "
                             f"width and height")


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
