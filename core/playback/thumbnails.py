"""Thumbnails for the replay page's timeline: JPEG strips made from each part's
keyframes only (cheap: no frame between keyframes is decoded), named by the
part's hash and cached beside the page, so a page is rebuilt without them."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import av
from recorder.playback.timeline import Segment, Timeline
from recorder.disk.files import write_private

THUMB_WIDTH = 192  # px
THUMB_EVERY = (2, 5, 10, 15, 30, 60, 120, 300, 600)  # seconds apart: the first that keeps to THUMBS_MAX
THUMBS_MAX = 400
STRIP_MAX = 200  # thumbnails per JPEG strip (at most 65535 px tall)


def thumbnail_every(recorded: float) -> float:
    return next((every for every in THUMB_EVERY if recorded / every <= THUMBS_MAX), THUMB_EVERY[-1])


def thumbnails(timeline: Timeline, folder: Path) -> list[dict]:
    """The thumbnails of every part (as ``prepare`` makes them: for benchmarks)."""
    every, used = thumbnail_every(timeline.recorded), set()
    strips = [strip for index in range(len(timeline.segments))
              for strip in part_thumbnails(timeline, index, every, folder, used)]
    remove_unused(folder, used)
    return strips


def part_thumbnails(timeline: Timeline, index: int, every: float, folder: Path, used: set[str]) -> list[dict]:
    """Strips of small JPEG pictures of one part, every few seconds, made once and kept
    in the page's (private) cache folder; their file names are added to ``used``."""
    seg = timeline.segments[index]
    part = next((p for p in timeline.manifest.parts if p.file == seg.path.name), None)
    info = seg.path.stat()
    # a sealed part never changes: its hash names its thumbnails
    version = part.sha256 if part is not None and part.sha256 else f"{info.st_size}-{info.st_mtime_ns}"
    key = f"thumbs-{seg.path.stem}-{version[:16]}-{every:g}"
    listing = folder / f"{key}.json"
    try:
        made = json.loads(listing.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        try:
            made = _make_strips(seg, every, folder, key)
        except av.FFmpegError:  # the page plays what can be played; this part has no thumbnails (this time)
            return []
        write_private(listing, json.dumps(made).encode())  # last: it says the strips are whole
    used.add(listing.name)
    used.update(strip["file"] for strip in made)
    return [{"src": (folder / strip["file"]).resolve().as_uri(), "segment": index, "times": strip["times"],
             "width": strip["width"], "height": strip["height"]} for strip in made]


def remove_unused(folder: Path, used: set[str]) -> None:
    """Thumbnails of parts no longer played, or made at another spacing (the session grew)."""
    for stale in folder.glob("thumbs-*"):
        if stale.name not in used:
            stale.unlink(missing_ok=True)


def _make_strips(seg: Segment, every: float, folder: Path, key: str) -> list[dict]:
    """One picture at the part's start and at each multiple of ``every`` on the session
    timeline, from the keyframe at or before it: only keyframes are decoded, which
    costs a few milliseconds each whatever the part's length."""
    end = seg.start + seg.duration
    grid = [seg.start] + [k * every for k in range(math.floor(seg.start / every) + 1, math.ceil(end / every))]
    pictures: list[tuple[float, av.VideoFrame]] = []
    with av.open(str(seg.path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        width = THUMB_WIDTH
        height = max(2, round(width * stream.height / stream.width / 2) * 2)
        for t in grid:
            container.seek(int((t - seg.start) / stream.time_base), stream=stream)
            frame = next(container.decode(stream), None)
            if frame is None or frame.time is None:
                continue
            at = round(seg.start + float(frame.time), 3)
            if pictures and at <= pictures[-1][0]:
                continue  # the same keyframe as the last grid point's
            pictures.append((at, frame.reformat(width=width, height=height, format="rgb24")))
    strips = []
    for number, first in enumerate(range(0, len(pictures), STRIP_MAX)):
        chunk = pictures[first:first + STRIP_MAX]
        name = f"{key}-{number}.jpg"
        write_private(folder / name, _jpeg_strip([picture for _, picture in chunk], width, height))
        strips.append({"file": name, "times": [at for at, _ in chunk], "width": width, "height": height})
    return strips


def _jpeg_strip(pictures: list[av.VideoFrame], width: int, height: int) -> bytes:
    """The pictures one above the other, as one JPEG (one file to write and load, not hundreds)."""
    strip = av.VideoFrame(width, height * len(pictures), "rgb24")
    target, stride, row = memoryview(strip.planes[0]), strip.planes[0].line_size, width * 3
    for number, picture in enumerate(pictures):
        source, pitch = memoryview(picture.planes[0]), picture.planes[0].line_size
        for y in range(height):
            at = (number * height + y) * stride
            target[at:at + row] = source[y * pitch:y * pitch + row]
    context = av.CodecContext.create("mjpeg", "w")
    context.width, context.height = strip.width, strip.height
    context.pix_fmt, context.time_base = "yuvj420p", Fraction(1, 1)
    context.qmin = context.qmax = 5  # plenty for a preview: about 4 KB a picture
    packets = context.encode(strip.reformat(format="yuvj420p")) + context.encode(None)
    return b"".join(bytes(packet) for packet in packets)
