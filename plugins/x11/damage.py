"""Which parts of an X11 screen changed, from the X DAMAGE extension.

The X server itself tracks every drawing operation on the root window and its
children; asking it costs one non-blocking read when nothing changed and one
round trip when something did, instead of grabbing and comparing the whole
screen each frame. (GStreamer's ``ximagesrc use-damage=true`` and x11vnc work
the same way.) The cursor moves and changes shape without damaging the screen:
XFIXES tells where it is. Talks to libxcb-damage and libxcb-xfixes through ctypes.
"""

from __future__ import annotations

import ctypes
import functools

from recorder.plugins.x11 import xcb
from recorder.plugins.x11.xcb import Cookie, Unavailable

REPORT_NON_EMPTY = 3  # one event when the damage goes from empty to non-empty
DAMAGE_NOTIFY = 0


class _Rectangle(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int16), ("y", ctypes.c_int16),
                ("width", ctypes.c_uint16), ("height", ctypes.c_uint16)]


class _CursorImageReply(ctypes.Structure):
    _fields_ = [("response_type", ctypes.c_uint8), ("pad0", ctypes.c_uint8), ("sequence", ctypes.c_uint16),
                ("length", ctypes.c_uint32), ("x", ctypes.c_int16), ("y", ctypes.c_int16),
                ("width", ctypes.c_uint16), ("height", ctypes.c_uint16),
                ("xhot", ctypes.c_uint16), ("yhot", ctypes.c_uint16), ("cursor_serial", ctypes.c_uint32)]


_p, _u32 = ctypes.c_void_p, ctypes.c_uint32
DAMAGE = [
    ("xcb_damage_query_version", Cookie, _p, _u32, _u32),
    ("xcb_damage_query_version_reply", _p, _p, Cookie, _p),
    ("xcb_damage_create_checked", Cookie, _p, _u32, _u32, ctypes.c_uint8),
    ("xcb_damage_subtract", Cookie, _p, _u32, _u32, _u32),
]
XFIXES = [
    ("xcb_xfixes_query_version", Cookie, _p, _u32, _u32),
    ("xcb_xfixes_query_version_reply", _p, _p, Cookie, _p),
    ("xcb_xfixes_create_region", Cookie, _p, _u32, _u32, _p),
    ("xcb_xfixes_fetch_region", Cookie, _p, _u32),
    ("xcb_xfixes_fetch_region_reply", _p, _p, Cookie, _p),
    ("xcb_xfixes_fetch_region_rectangles", ctypes.POINTER(_Rectangle), _p),
    ("xcb_xfixes_fetch_region_rectangles_length", ctypes.c_int, _p),
    ("xcb_xfixes_get_cursor_image", Cookie, _p),
    ("xcb_xfixes_get_cursor_image_reply", ctypes.POINTER(_CursorImageReply), _p, Cookie, _p),
]


@functools.cache  # a failure is not cached: a later call tries again
def extensions() -> tuple[ctypes.CDLL, ctypes.CDLL]:
    """(libxcb-damage, libxcb-xfixes), their functions declared; Unavailable if missing."""
    try:
        damage, xfixes = xcb.load("xcb-damage"), xcb.load("xcb-xfixes")
        xcb.declare(damage, DAMAGE)
        xcb.declare(xfixes, XFIXES)
    except (OSError, AttributeError) as exc:
        raise Unavailable(str(exc)) from None
    return damage, xfixes


class ScreenDamage:
    """Rectangles of the root window drawn on since the last call to ``changes()``."""

    def __init__(self, display: str | None = None):
        self.xcb, self.conn, screen = xcb.connect(display)
        self.free = xcb.libc().free
        try:
            self.damage_lib, self.xfixes = extensions()
            self._start(screen)
        except BaseException:
            self.close()
            raise

    def _start(self, screen: int) -> None:
        lib, damage, xfixes, conn = self.xcb, self.damage_lib, self.xfixes, self.conn
        extension = lib.xcb_get_extension_data(conn, ctypes.addressof(ctypes.c_char.in_dll(damage, "xcb_damage_id")))
        if not extension or not extension.contents.present:
            raise Unavailable("the X server has no DAMAGE extension")
        self.notify = extension.contents.first_event + DAMAGE_NOTIFY
        # Both extensions must be told which version the client speaks before use.
        self._reply(damage.xcb_damage_query_version_reply, damage.xcb_damage_query_version(conn, 1, 1), "DAMAGE")
        self._reply(xfixes.xcb_xfixes_query_version_reply, xfixes.xcb_xfixes_query_version(conn, 5, 0), "XFIXES")
        root = xcb.screen(lib, conn, screen).root
        self.region = lib.xcb_generate_id(conn)
        xfixes.xcb_xfixes_create_region(conn, self.region, 0, None)
        self.damage = lib.xcb_generate_id(conn)
        error = lib.xcb_request_check(conn, damage.xcb_damage_create_checked(conn, self.damage, root,
                                                                             REPORT_NON_EMPTY))
        if error:
            self.free(error)
            raise Unavailable("the X server refused to track damage on the root window")

    def _reply(self, function, cookie, what: str) -> None:
        reply = function(self.conn, cookie, None)
        if not reply:
            raise Unavailable(f"the X server did not answer the {what} version query")
        self.free(reply)

    def changes(self) -> list[xcb.Rect] | None:
        """``(x, y, width, height)`` rectangles drawn on since the previous call,
        or None if nothing was (which costs no round trip to the server)."""
        lib, conn, free = self.xcb, self.conn, self.free
        if lib.xcb_connection_has_error(conn):
            raise OSError("lost the connection to the X server")
        damaged = False
        while event := lib.xcb_poll_for_event(conn):
            damaged |= event.contents.response_type & 0x7F == self.notify
            free(event)
        if not damaged:
            return None
        # Subtract before the caller grabs: whatever is drawn after this shows
        # up as damage again, so nothing drawn can be missed.
        self.damage_lib.xcb_damage_subtract(conn, self.damage, 0, self.region)
        xfixes = self.xfixes
        reply = xfixes.xcb_xfixes_fetch_region_reply(conn, xfixes.xcb_xfixes_fetch_region(conn, self.region), None)
        if not reply:
            raise OSError("the X server did not answer a damage query")
        try:
            count = xfixes.xcb_xfixes_fetch_region_rectangles_length(reply)
            rects = xfixes.xcb_xfixes_fetch_region_rectangles(reply)
            return [(r.x, r.y, r.width, r.height) for r in rects[:count]]
        finally:
            free(reply)

    def cursor(self) -> tuple[int, int, int, int, int]:
        """The cursor's ``(left, top, width, height, serial)``: the cursor moves
        and changes shape without damaging the screen."""
        xfixes = self.xfixes
        reply = xfixes.xcb_xfixes_get_cursor_image_reply(self.conn, xfixes.xcb_xfixes_get_cursor_image(self.conn),
                                                         None)
        if not reply:
            raise OSError("the X server did not answer a cursor query")
        try:
            c = reply.contents
            return c.x - c.xhot, c.y - c.yhot, c.width, c.height, c.cursor_serial
        finally:
            self.free(reply)

    def close(self) -> None:
        if self.conn:
            self.xcb.xcb_disconnect(self.conn)
            self.conn = None
