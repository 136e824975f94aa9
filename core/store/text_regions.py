"""Where to read: the rectangles that changed, grown by a margin and merged, and how two
frames differ (for parts read back, where no source said what changed)."""

from __future__ import annotations

Rect = tuple[int, int, int, int]  # x, y, width, height
MARGIN = 8  # pixels around a change: a letter changed at a rectangle's edge is read whole
TILE = 32  # pixels: frames read back are compared in tiles this size
MAX_RECTS = 24  # more than this and their bounding box is read instead (a busy screen)


def grow(rect: Rect, width: int, height: int, margin: int = MARGIN) -> Rect:
    x, y, w, h = rect
    left, top = max(0, x - margin), max(0, y - margin)
    right, bottom = min(width, x + w + margin), min(height, y + h + margin)
    return left, top, max(0, right - left), max(0, bottom - top)


def _touch(a: Rect, b: Rect) -> bool:
    return a[0] <= b[0] + b[2] and b[0] <= a[0] + a[2] and a[1] <= b[1] + b[3] and b[1] <= a[1] + a[3]


def _union(a: Rect, b: Rect) -> Rect:
    left, top = min(a[0], b[0]), min(a[1], b[1])
    return left, top, max(a[0] + a[2], b[0] + b[2]) - left, max(a[1] + a[3], b[1] + b[3]) - top


def merge(rects, width: int, height: int, margin: int = MARGIN) -> list[Rect]:
    """``rects`` grown by ``margin`` and merged where they touch, in reading order."""
    pending = [grow(r, width, height, margin) for r in rects if r[2] > 0 and r[3] > 0]
    merged: list[Rect] = []
    while pending:
        current = pending.pop()
        again = True
        while again:
            again = False
            for other in list(merged):
                if _touch(current, other):
                    merged.remove(other)
                    current, again = _union(current, other), True
        merged.append(current)
    if len(merged) > MAX_RECTS:
        whole = merged[0]
        for rect in merged[1:]:
            whole = _union(whole, rect)
        merged = [whole]
    return sorted(merged, key=lambda r: (r[1], r[0]))


def rows_as_rects(rows, width: int) -> list[Rect]:
    """Changed row ranges ``(top, bottom)`` as full-width rectangles."""
    return [(0, top, width, bottom - top) for top, bottom in rows if bottom > top]


def changed(before, after, width: int, height: int, stride: int, tile: int = TILE) -> list[Rect]:
    """The tiles where two frames (BGRA, ``stride`` bytes a row) differ, merged; every tile
    when there is no ``before``."""
    if before is None:
        return [(0, 0, width, height)]
    if before == after:
        return []
    found: list[Rect] = []
    span = tile * 4
    for top in range(0, height, tile):
        bottom = min(height, top + tile)
        block_a = before[top * stride:bottom * stride]
        block_b = after[top * stride:bottom * stride]
        if block_a == block_b:
            continue
        for left in range(0, width, tile):
            start = left * 4
            if any(block_a[r * stride + start:r * stride + start + span] !=
                   block_b[r * stride + start:r * stride + start + span] for r in range(bottom - top)):
                found.append((left, top, min(tile, width - left), bottom - top))
    return merge(found, width, height, 0)
