"""Source ``synthetic``: a deterministic moving test pattern that needs no display.

Colour bars, a box that moves 8 px per frame, and the frame number written as
16 binary blocks along the top edge, so tests can read back which frame they see.
"""

from __future__ import annotations

import random

import attrs
from recorder import Changes, VideoFormat, hookimpl, option

BLOCK = 16
BITS = 16
BARS = [(255, 255, 255), (0, 255, 255), (255, 255, 0), (0, 255, 0),
        (255, 0, 255), (0, 0, 255), (255, 0, 0), (0, 0, 0)]  # BGR


def _even(instance, attribute, value):
    if value < 2 * BLOCK * 2 or value > 16384 or value % 2:
        raise ValueError(f"must be an even number from {4 * BLOCK} to 16384, got {value}")


@attrs.frozen
class SyntheticOptions:
    width: int = option(1280, "Frame width in pixels.", validator=_even)
    height: int = option(720, "Frame height in pixels.", validator=_even)
    hold: int = option(1, "Grabs each picture lasts (1: a new picture every frame; 0: a still "
                          "picture), for testing how unchanged frames are handled.",
                       validator=attrs.validators.ge(0))
    noise: bool = option(False, "Fill frames with seeded noise instead of colour bars: "
                                "incompressible, for testing high bitrates and full disks.")
    changes: bool = option(False, "Report only the rows that changed, as a change-tracking screen "
                                  "source does.")
    realtime: bool = option(True, "Take frames on the clock; false makes them as fast as they are "
                                  "encoded, timed as if on schedule (hour-long soak runs in minutes).")


def frame_number_of(pixel_at) -> int:
    """Read the frame number back from a decoded frame; ``pixel_at(x, y)`` gives luma 0-255."""
    number = 0
    for bit in range(BITS):
        if pixel_at(bit * BLOCK + BLOCK // 2, BLOCK // 2) > 128:
            number |= 1 << bit
    return number


class SyntheticSource:
    def __init__(self, options: SyntheticOptions):
        self.width, self.height, self.noise = options.width, options.height, options.noise
        self.hold = options.hold
        self.changes, self.realtime = options.changes, options.realtime
        self.shown: int | None = None  # the picture number the last grab showed, in changes mode
        self.grabs = 0
        self.count = 0
        self.box = min(self.width, self.height) // 4

    def open(self) -> VideoFormat:
        bar = self.width // len(BARS) + 1
        self.row = b"".join(bytes((b, g, r, 255)) * bar for b, g, r in BARS)[: self.width * 4]
        self.box_row = bytes((40, 40, 40, 255)) * self.box
        self.white = b"\xff" * (BLOCK * 4)
        self.black = b"\x00\x00\x00\xff" * BLOCK
        return VideoFormat(self.width, self.height, "bgra")

    def grab(self) -> bytearray | Changes:
        if self.hold != 1:
            self.count = self.grabs // self.hold if self.hold else 0
            self.grabs += 1
        if not self.changes:
            return self._next(self.picture)
        if self.count == self.shown:
            return Changes()
        first, self.shown = self.shown is None, self.count
        if first or self.noise:
            return Changes(((0, self._next(self.picture)),))
        # Only the frame counter and the box's rows change.
        y0 = (self.height - self.box) // 2
        return Changes(((0, self.rows(0, BLOCK)), (y0, self._next(lambda: self.rows(y0, y0 + self.box)))))

    def _next(self, make):
        frame = make()
        if self.hold == 1:
            self.count += 1
        return frame

    def picture(self) -> bytearray:
        if not self.noise:
            return self.rows(0, self.height)
        frame = bytearray(random.Random(self.count).randbytes(self.width * self.height * 4))
        self._draw(frame, 0, self.height)
        return frame

    def rows(self, first: int, last: int) -> bytearray:
        """Rows ``first:last`` of the current picture (colour bars)."""
        frame = bytearray(self.row * (last - first))
        self._draw(frame, first, last)
        return frame

    def _draw(self, frame: bytearray, first: int, last: int) -> None:
        """The box and the frame counter, on rows ``first:last`` held in ``frame``."""
        stride = self.width * 4
        x = (self.count * 8) % (self.width - self.box)
        y0 = (self.height - self.box) // 2
        for y in range(max(first, y0), min(last, y0 + self.box)):
            start = (y - first) * stride + x * 4
            frame[start:start + self.box * 4] = self.box_row
        for bit in range(BITS):
            block = self.white if self.count >> bit & 1 else self.black
            for y in range(max(first, 0), min(last, BLOCK)):
                start = (y - first) * stride + bit * BLOCK * 4
                frame[start:start + BLOCK * 4] = block

    def close(self) -> None:
        self.row = b""


@hookimpl
def recorder_register_sources(register):
    register("synthetic", SyntheticSource, options=SyntheticOptions,
             description="deterministic moving test pattern (no display needed)")
