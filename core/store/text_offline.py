"""Indexing a session from its sealed parts: after the end (the catch-up), and ``recorder index``.

Each part is decoded (PyAV); a frame is a settled screen when the next frame that
differs from it comes ``SETTLE`` seconds later or more (or never: the part's
end). What to read on it is where it differs from the previous settled screen.
Frames are compared with a tolerance (decoded video is not bit-exact from one
frame to the next). A part is resumed after its ``indexed_to``: the settled
screens before it are found again, unread, so that the first one read is
compared with the same screen an uninterrupted run compared it with, and the
rows are the same.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from recorder.host.isolation import running
from recorder.session import streams
from recorder.session.model import Part
from recorder.store.text_regions import merge
from recorder.store.text_writer import IndexWriter
from recorder.values import Screen

SETTLE = 0.5  # seconds, as while recording (pipeline/text_live.py)
NOISE = 40  # a pixel differs when a channel differs by more than this (decoding noise is less)
BAND = 32  # rows compared at a time


def _differ(before, after) -> list[tuple[int, int, int, int]]:
    """Where two decoded frames (PIL images) differ, as rectangles; [] when they do not."""
    from PIL import ImageChops

    diff = ImageChops.difference(before, after).convert("L").point(lambda v: 255 if v > NOISE else 0)
    if diff.getbbox() is None:
        return []
    width, height = diff.size
    found = []
    for top in range(0, height, BAND):
        box = diff.crop((0, top, width, min(height, top + BAND))).getbbox()
        if box is not None:
            found.append((box[0], top + box[1], box[2] - box[0], box[3] - box[1]))
    return found


def _screen(image) -> Screen:
    data = image.convert("RGBA").tobytes("raw", "BGRA")
    return Screen(image.width, image.height, image.width * 4, data)


def _frames(path: Path):
    """(seconds from the part's first frame, PIL image) for every frame of the part."""
    import av

    with av.open(str(path)) as container:
        first = None
        for frame in container.decode(video=0):
            t = float(frame.time or 0.0)
            first = t if first is None else first
            yield t - first, frame.to_image()


def settled(path: Path):
    """(seconds into the part, image) of each settled screen, in order."""
    current = since = None
    for t, image in _frames(path):
        if current is None:
            current, since = image, t
            continue
        if not _differ(current, image):
            continue
        if t - since >= SETTLE:
            yield since, current
        current, since = image, t
    if current is not None:
        yield since, current  # nothing changes after a part's last picture


class PartIndexer:
    """Reads the settled screens of parts into ``writer`` with ``indexer`` (of plugin ``plugin``)."""

    def __init__(self, writer: IndexWriter, indexer: Any, plugin: str):
        self.writer, self.indexer, self.plugin = writer, indexer, plugin

    def part(self, path: Path, part: Part, deadline: float | None = None,
             on_screen: Callable[[float], None] = lambda offset: None) -> bool:
        """Index ``part`` (its bytes at ``path``) from where it stopped; False if ``deadline``
        (monotonic) came first: what was read is kept, the next run goes on from there."""
        known = self.writer.progress(part.file)
        if known and known[1]:
            return True
        resume = known[0] if known else None
        forget = resume if resume is not None else -1.0  # rows of a live run after it: read again
        baseline = None
        for at, image in settled(path):
            offset = round(part.start + at, 3)
            rects = [(0, 0, image.width, image.height)] if baseline is None else _differ(baseline, image)
            baseline = image
            if resume is not None and offset <= resume:
                continue  # read before the run was cut short
            if deadline is not None and time.monotonic() > deadline:
                return False
            if rects:
                with running(self.plugin):
                    seen = self.indexer.read(_screen(image), merge(rects, image.width, image.height))
            else:
                seen = []
            self.writer.step(part.file, offset, seen, indexed_to=offset, forget_after=forget)
            forget = None
            on_screen(offset)
        end = round(part.start + part.duration, 3)
        self.writer.step(part.file, end, [], indexed_to=end, complete=True, forget_after=forget)
        return True


def index_parts(folder: Path, parts: list[Part], host, part_indexer: PartIndexer, *, keys: dict[str, Any],
                fps: float, deadline: float | None = None, on_screen=lambda offset: None) -> bool:
    """Every sealed part of the session read into the index; False when ``deadline`` came first."""
    for part in sorted(parts, key=lambda p: p.index):
        if part.state != "sealed":
            continue
        known = part_indexer.writer.progress(part.file)
        if known and known[1]:
            continue
        path = folder / part.file
        if part.stream:
            repair, _ = host.repairer(part.encoder)
            read, _ = streams.materialize(host, folder, part, keys.get(part.stream), repair, fps)
            path = read or path
        if not part_indexer.part(path, part, deadline, on_screen):
            return False
    return True
