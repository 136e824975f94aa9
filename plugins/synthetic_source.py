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
    if value < 2 * BLOCK * 2 or value % 2:
        raise ValueError(f"must be an even number of at least {4 * BLOCK}, got {value}")


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
        row = b"".join(bytes((b, g, r, 255)) * bar for b, g, r in BARS)[: self.width * 4]
        self.background = row * self.height
        self.box_row = bytes((40, 40, 40, 255)) * self.box
        self.white = b"\xff" * (BLOCK * 4)
        self.black = b"\x00\x00\x00\xff" * BLOCK
        return VideoFormat(self.width, self.height, "bgra")

    def grab(self) -> bytearray | Changes:
        if self.hold != 1:
            self.count = self.grabs // self.hold if self.hold else 0
            self.grabs += 1
        if not self.changes:
            return self.picture()
        number, first = self.count, self.shown is None
        if number == self.shown:
            return Changes()
        self.shown = number
        picture = self.picture()
        if first or self.noise:
            return Changes(((0, bytes(picture)),))
        stride = self.width * 4
        y0 = (self.height - self.box) // 2
        return Changes(((0, bytes(picture[:BLOCK * stride])),
                        (y0, bytes(picture[y0 * stride:(y0 + self.box) * stride]))))

    def picture(self) -> bytearray:
        if self.noise:
            frame = bytearray(random.Random(self.count).randbytes(len(self.background)))
        else:
            frame = bytearray(self.background)
        stride = self.width * 4
        x = (self.count * 8) % (self.width - self.box)
        y0 = (self.height - self.box) // 2
        for y in range(y0, y0 + self.box):
            start = y * stride + x * 4
            frame[start:start + self.box * 4] = self.box_row
        for bit in range(BITS):
            block = self.white if self.count >> bit & 1 else self.black
            for y in range(BLOCK):
                start = y * stride + bit * BLOCK * 4
                frame[start:start + BLOCK * 4] = block
        if self.hold == 1:
            self.count += 1
        return frame

    def close(self) -> None:
        self.background = b""


@hookimpl
def recorder_register_sources(register):
    register("synthetic", SyntheticSource, options=SyntheticOptions,
             description="deterministic moving test pattern (no display needed)")
