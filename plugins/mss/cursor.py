"""The mouse cursor where mss cannot draw it.

mss draws the cursor only on X11 (XFixes); on Windows and macOS its grabs show
no cursor, and asking for one there is deprecated (a future mss makes it an
error, which would stop every recording). So on those systems recorder asks
the OS where the cursor is and draws a standard arrow there. The arrow is not
the cursor's real shape (a text cursor shows as an arrow too): what a viewer
needs is where the rep pointed.
"""

from __future__ import annotations

import ctypes
import sys

from recorder.platform import win32

# A standard arrow, hotspot at its top-left corner: "X" black outline, "." white.
ARROW = (
    "X",
    "XX",
    "X.X",
    "X..X",
    "X...X",
    "X....X",
    "X.....X",
    "X......X",
    "X.......X",
    "X........X",
    "X.........X",
    "X......XXXXX",
    "X...X..X",
    "X..XX..X",
    "X.X  X..X",
    "XX   X..X",
    "X     X..X",
    "      X..X",
    "       XX",
)
_COLOURS = {"X": b"\x00\x00\x00\xff", ".": b"\xff\xff\xff\xff"}  # bgra


def draw(frame: bytearray, width: int, height: int, x: int, y: int) -> None:
    """Draw the arrow with its tip at (x, y) into a bgra ``frame`` of ``width`` x ``height``,
    cut at the frame's edges."""
    stride = width * 4
    for row, line in enumerate(ARROW):
        py = y + row
        if not 0 <= py < height:
            continue
        for column, pixel in enumerate(line):
            px = x + column
            colour = _COLOURS.get(pixel)
            if colour is None or not 0 <= px < width:
                continue
            at = py * stride + px * 4
            frame[at:at + 4] = colour


CURSOR_SHOWING = 0x1


def windows_position(user32=win32.user32) -> tuple[int, int] | None:
    """Windows: GetCursorInfo (declared in recorder.platform.win32), in the virtual
    screen's physical pixels (mss makes the process DPI-aware); None while the cursor
    is hidden (a full-screen video, a touch screen)."""
    info = win32.CURSORINFO()
    info.cbSize = ctypes.sizeof(win32.CURSORINFO)
    if not user32.GetCursorInfo(ctypes.byref(info)) or not info.flags & CURSOR_SHOWING:
        return None
    return info.ptScreenPos.x, info.ptScreenPos.y


class _CGPoint(ctypes.Structure):
    _fields_ = [("x", ctypes.c_double), ("y", ctypes.c_double)]


def macos_position(core) -> tuple[float, float] | None:
    """macOS: where a null event says the cursor is, in points from the main display's top-left."""
    core.CGEventCreate.restype = ctypes.c_void_p
    core.CGEventCreate.argtypes = [ctypes.c_void_p]
    core.CGEventGetLocation.restype = _CGPoint
    core.CGEventGetLocation.argtypes = [ctypes.c_void_p]
    core.CFRelease.argtypes = [ctypes.c_void_p]
    event = core.CGEventCreate(None)
    if not event:
        return None
    try:
        point = core.CGEventGetLocation(event)
    finally:
        core.CFRelease(event)
    return point.x, point.y


class CursorPainter:
    """Draws the arrow into each whole-frame grab of ``area`` (screen coordinates,
    in points on macOS; ``scale`` pixels per point)."""

    def __init__(self, area: dict, scale: float = 1.0, locate=None):
        self.area, self.scale = area, scale
        self.locate = locate or _locator()

    def paint(self, frame: bytearray, width: int, height: int) -> None:
        where = self.locate()
        if where is None:
            return
        x = round((where[0] - self.area["left"]) * self.scale)
        y = round((where[1] - self.area["top"]) * self.scale)
        draw(frame, width, height, x, y)


def _locator():
    if sys.platform == "win32":
        return windows_position
    if sys.platform == "darwin":
        from recorder.plugins.mss.macos import core_graphics

        core = core_graphics()
        return lambda: macos_position(core)
    return lambda: None
