"""The rows that differ between two pictures, in bands: what the whole-frame
path would compare anyway (one memcmp when nothing changed), told to the
encoder so that it converts only those rows."""

from __future__ import annotations

BAND = 16  # rows compared at a time


def changed_bands(old: bytes, new: bytes, stride: int, height: int) -> list[tuple[int, int]]:
    """``(top, bottom)`` row ranges where ``new`` differs from ``old``, touching bands merged."""
    if old == new:
        return []
    step = BAND * stride
    bands: list[list[int]] = []
    for top in range(0, height, BAND):
        start = top * stride
        if old[start:start + step] != new[start:start + step]:
            bottom = min(height, top + BAND)
            if bands and bands[-1][1] == top:
                bands[-1][1] = bottom
            else:
                bands.append([top, bottom])
    return [(top, bottom) for top, bottom in bands]
