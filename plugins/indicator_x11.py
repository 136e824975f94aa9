"""The recording indicator's window on X11: a red dot and a label in a corner of the screen.

An override-redirect window, so no window manager decorates, moves, minimises or
lists it; on an X connection of its own (``recorder.plugins.x11.xcb``), used from
the indicator's thread only. The guard that shows, hides, raises and brings it back
is in indicator.py; the Windows window is indicator_win32.py.
"""

from __future__ import annotations

import ctypes
import struct

from recorder.plugins.x11 import xcb

MARGIN, HEIGHT, DOT = 8, 22, 12
CHAR_WIDTH = 6  # the server's built-in "fixed" font is 6x13
CW_BACK_PIXEL, CW_OVERRIDE_REDIRECT, CW_EVENT_MASK = 2, 512, 2048
EXPOSURE, STRUCTURE_NOTIFY, SUBSTRUCTURE_NOTIFY = 1 << 15, 1 << 17, 1 << 19
EXPOSE, MAP_NOTIFY, CONFIGURE_NOTIFY, CIRCULATE_NOTIFY = 12, 19, 22, 26
GC_FOREGROUND, GC_BACKGROUND, GC_FONT = 4, 8, 16384
STACK_MODE, ABOVE = 64, 0
WM_NAME, WM_CLASS, STRING = 39, 67, 31
TITLE, CLASS = b"recorder: recording", b"recorder-indicator\0Recorder\0"


class Unshown(Exception):
    """The indicator cannot be put on this screen."""


class IndicatorWindow:
    """The window itself, on an X connection of its own. Used from one thread at a time."""

    def __init__(self, display: str | None, label: str, corner: str):
        if not display:
            raise Unshown("no X display (DISPLAY is not set)")
        self.label = label.encode()
        try:
            self.lib, self.conn, screen_number = xcb.connect(display)
            self.free = xcb.libc().free
        except xcb.Unavailable as exc:
            raise Unshown(str(exc)) from None
        try:
            self._create(screen_number, corner)
        except BaseException:
            self.close()
            raise

    def _create(self, screen_number: int, corner: str) -> None:
        lib, conn = self.lib, self.conn
        screen = xcb.screen(lib, conn, screen_number)
        self.root = screen.root
        width = DOT + 2 * MARGIN + CHAR_WIDTH * len(self.label) + 4
        x = MARGIN if corner.endswith("left") else screen.width - width - MARGIN
        y = MARGIN if corner.startswith("top") else screen.height - HEIGHT - MARGIN
        dark, red = self._colour(screen, 0x20, 0x20, 0x20), self._colour(screen, 0xE0, 0x10, 0x10)
        self.window = lib.xcb_generate_id(conn)
        values = (ctypes.c_uint32 * 3)(dark, 1, EXPOSURE | STRUCTURE_NOTIFY)
        error = lib.xcb_request_check(conn, lib.xcb_create_window_checked(
            conn, 0, self.window, self.root, x, y, width, HEIGHT, 0, 1, 0,
            CW_BACK_PIXEL | CW_OVERRIDE_REDIRECT | CW_EVENT_MASK, values))
        if error:
            self.free(error)
            raise Unshown("the X server refused to create the indicator window")
        # Named, so that people and tests can find it (xdotool search --class recorder-indicator)
        lib.xcb_change_property(conn, 0, self.window, WM_NAME, STRING, 8, len(TITLE), TITLE)
        lib.xcb_change_property(conn, 0, self.window, WM_CLASS, STRING, 8, len(CLASS), CLASS)
        # Other windows shown or restacked: the indicator goes back on top
        mask = ctypes.c_uint32(SUBSTRUCTURE_NOTIFY)
        lib.xcb_change_window_attributes(conn, self.root, CW_EVENT_MASK, ctypes.byref(mask))
        font = lib.xcb_generate_id(conn)
        error = lib.xcb_request_check(conn, lib.xcb_open_font_checked(conn, font, 5, b"fixed"))
        if error:  # a dot without its label is still a notice
            self.free(error)
            font, self.label = 0, b""
        self.text_gc, self.dot_gc = lib.xcb_generate_id(conn), lib.xcb_generate_id(conn)
        text = (ctypes.c_uint32 * 3)(screen.white_pixel, dark, font)
        lib.xcb_create_gc(conn, self.text_gc, self.window, GC_FOREGROUND | GC_BACKGROUND | (GC_FONT if font else 0),
                          text)
        lib.xcb_create_gc(conn, self.dot_gc, self.window, GC_FOREGROUND, (ctypes.c_uint32 * 1)(red))
        self.shown = False
        self._flush()

    def _colour(self, screen: xcb.Screen, red: int, green: int, blue: int) -> int:
        reply = self.lib.xcb_alloc_color_reply(self.conn, self.lib.xcb_alloc_color(
            self.conn, screen.default_colormap, red * 257, green * 257, blue * 257), None)
        if not reply:
            return screen.black_pixel if red < 0x80 else screen.white_pixel
        try:
            return struct.unpack_from("=I", ctypes.string_at(reply, 20), 16)[0]
        finally:
            self.free(reply)

    def fileno(self) -> int:
        return self.lib.xcb_get_file_descriptor(self.conn)

    def show(self) -> None:
        self.lib.xcb_map_window(self.conn, self.window)
        self.raise_()
        self.shown = True

    def hide(self) -> None:
        self.lib.xcb_unmap_window(self.conn, self.window)
        self.shown = False
        self._flush()

    def raise_(self) -> None:
        self.lib.xcb_configure_window(self.conn, self.window, STACK_MODE, ctypes.byref(ctypes.c_uint32(ABOVE)))
        self._flush()

    def viewable(self) -> bool:
        """A round trip: the window exists and is shown (the server has done what was asked)."""
        reply = self.lib.xcb_get_window_attributes_reply(
            self.conn, self.lib.xcb_get_window_attributes(self.conn, self.window), None)
        if not reply:
            self._check()
            return False
        try:
            return ctypes.string_at(reply, 27)[26] == 2
        finally:
            self.free(reply)

    def draw(self) -> None:
        arc = xcb.Arc(MARGIN // 2 + 2, (HEIGHT - DOT) // 2, DOT, DOT, 0, 360 * 64)
        self.lib.xcb_poly_fill_arc(self.conn, self.window, self.dot_gc, 1, ctypes.byref(arc))
        if self.label:
            self.lib.xcb_image_text_8(self.conn, len(self.label), self.window, self.text_gc,
                                      DOT + MARGIN + 2, HEIGHT // 2 + 4, self.label)
        self._flush()

    def events(self) -> tuple[bool, bool]:
        """Read what arrived: (must redraw, another window was shown or restacked)."""
        redraw = restack = False
        while event := self.lib.xcb_poll_for_event(self.conn):
            data = ctypes.string_at(event, 32)
            self.free(event)
            kind = data[0] & 0x7F
            if kind == EXPOSE:
                redraw = True
            elif kind in (MAP_NOTIFY, CONFIGURE_NOTIFY, CIRCULATE_NOTIFY):
                window = struct.unpack_from("=I", data, 8)[0]
                restack |= window != self.window
        self._check()
        return redraw, restack

    def _flush(self) -> None:
        self.lib.xcb_flush(self.conn)
        self._check()

    def _check(self) -> None:
        if self.lib.xcb_connection_has_error(self.conn):
            raise OSError("the connection to the X server was closed")

    def close(self) -> None:
        if self.conn:
            self.lib.xcb_disconnect(self.conn)  # the server destroys the window with the connection
            self.conn = None
