"""Which parts of an X11 screen changed, from the X DAMAGE extension.

The X server itself tracks every drawing operation on the root window and its
children; asking it costs one non-blocking read when nothing changed and one
round trip when something did, instead of grabbing and comparing the whole
screen each frame. (GStreamer's ``ximagesrc use-damage=true`` and x11vnc work
the same way.) Talks to libxcb, libxcb-damage and libxcb-xfixes through
ctypes: no compiled code, and the libraries ship with every X11 desktop.
"""

from __future__ import annotations

import ctypes
import ctypes.util

REPORT_NON_EMPTY = 3  # one event when the damage goes from empty to non-empty
DAMAGE_NOTIFY = 0


class Unavailable(Exception):
    """No DAMAGE here: not X11, a library is missing, or the server lacks the extension."""


class _Rectangle(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int16), ("y", ctypes.c_int16),
                ("width", ctypes.c_uint16), ("height", ctypes.c_uint16)]


class _Cookie(ctypes.Structure):
    _fields_ = [("sequence", ctypes.c_uint)]


class _ExtensionReply(ctypes.Structure):
    _fields_ = [("response_type", ctypes.c_uint8), ("pad0", ctypes.c_uint8), ("sequence", ctypes.c_uint16),
                ("length", ctypes.c_uint32), ("present", ctypes.c_uint8), ("major_opcode", ctypes.c_uint8),
                ("first_event", ctypes.c_uint8), ("first_error", ctypes.c_uint8)]


class _GenericEvent(ctypes.Structure):
    _fields_ = [("response_type", ctypes.c_uint8)]


class _Screen(ctypes.Structure):
    _fields_ = [("root", ctypes.c_uint32)]  # the first field; the rest is not needed


class _ScreenIterator(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(_Screen)), ("rem", ctypes.c_int), ("index", ctypes.c_int)]


class _CursorImageReply(ctypes.Structure):
    _fields_ = [("response_type", ctypes.c_uint8), ("pad0", ctypes.c_uint8), ("sequence", ctypes.c_uint16),
                ("length", ctypes.c_uint32), ("x", ctypes.c_int16), ("y", ctypes.c_int16),
                ("width", ctypes.c_uint16), ("height", ctypes.c_uint16),
                ("xhot", ctypes.c_uint16), ("yhot", ctypes.c_uint16), ("cursor_serial", ctypes.c_uint32)]


def _load(name: str) -> ctypes.CDLL:
    path = ctypes.util.find_library(name)
    if path is None:
        raise Unavailable(f"lib{name} is not installed")
    return ctypes.CDLL(path)


def _declare(lib: ctypes.CDLL, name: str, restype, *argtypes) -> None:
    function = getattr(lib, name)
    function.restype, function.argtypes = restype, list(argtypes)


def connect(libraries, display: str | None):
    """(the ctypes libraries, an xcb connection of one's own, the screen number); Unavailable
    if the libraries cannot be loaded or the X server cannot be reached."""
    try:
        lib = libraries()
    except (OSError, AttributeError) as exc:
        raise Unavailable(str(exc)) from None
    screen = ctypes.c_int(0)
    conn = lib.xcb.xcb_connect(display.encode() if display else None, ctypes.byref(screen))
    if lib.xcb.xcb_connection_has_error(conn):
        lib.xcb.xcb_disconnect(conn)
        raise Unavailable(f"cannot connect to the X server {display or ''}".rstrip())
    return lib, conn, screen


class _Libraries:
    def __init__(self):
        p, u32 = ctypes.c_void_p, ctypes.c_uint32
        self.xcb, self.damage, self.xfixes, self.c = (_load("xcb"), _load("xcb-damage"), _load("xcb-xfixes"),
                                                      ctypes.CDLL(None))
        _declare(self.xcb, "xcb_connect", p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int))
        _declare(self.xcb, "xcb_connection_has_error", ctypes.c_int, p)
        _declare(self.xcb, "xcb_disconnect", None, p)
        _declare(self.xcb, "xcb_flush", ctypes.c_int, p)
        _declare(self.xcb, "xcb_generate_id", u32, p)
        _declare(self.xcb, "xcb_get_setup", p, p)
        _declare(self.xcb, "xcb_setup_roots_iterator", _ScreenIterator, p)
        _declare(self.xcb, "xcb_screen_next", None, ctypes.POINTER(_ScreenIterator))
        _declare(self.xcb, "xcb_get_extension_data", ctypes.POINTER(_ExtensionReply), p, p)
        _declare(self.xcb, "xcb_poll_for_event", ctypes.POINTER(_GenericEvent), p)
        _declare(self.xcb, "xcb_request_check", p, p, _Cookie)
        _declare(self.damage, "xcb_damage_query_version", _Cookie, p, u32, u32)
        _declare(self.damage, "xcb_damage_query_version_reply", p, p, _Cookie, p)
        _declare(self.damage, "xcb_damage_create_checked", _Cookie, p, u32, u32, ctypes.c_uint8)
        _declare(self.damage, "xcb_damage_subtract", _Cookie, p, u32, u32, u32)
        _declare(self.xfixes, "xcb_xfixes_query_version", _Cookie, p, u32, u32)
        _declare(self.xfixes, "xcb_xfixes_query_version_reply", p, p, _Cookie, p)
        _declare(self.xfixes, "xcb_xfixes_create_region", _Cookie, p, u32, u32, p)
        _declare(self.xfixes, "xcb_xfixes_fetch_region", _Cookie, p, u32)
        _declare(self.xfixes, "xcb_xfixes_fetch_region_reply", p, p, _Cookie, p)
        _declare(self.xfixes, "xcb_xfixes_fetch_region_rectangles", ctypes.POINTER(_Rectangle), p)
        _declare(self.xfixes, "xcb_xfixes_fetch_region_rectangles_length", ctypes.c_int, p)
        _declare(self.xfixes, "xcb_xfixes_get_cursor_image", _Cookie, p)
        _declare(self.xfixes, "xcb_xfixes_get_cursor_image_reply", ctypes.POINTER(_CursorImageReply), p,
                 _Cookie, p)
        _declare(self.c, "free", None, p)


class ScreenDamage:
    """Rectangles of the root window drawn on since the last call to ``changes()``."""

    def __init__(self, display: str | None = None):
        self.lib, self.conn, screen = connect(_Libraries, display)
        try:
            self._start(screen.value)
        except BaseException:
            self.close()
            raise

    def _start(self, screen: int) -> None:
        lib, conn = self.lib, self.conn
        extension = lib.xcb.xcb_get_extension_data(conn, ctypes.addressof(
            ctypes.c_char.in_dll(lib.damage, "xcb_damage_id")))
        if not extension or not extension.contents.present:
            raise Unavailable("the X server has no DAMAGE extension")
        self.notify = extension.contents.first_event + DAMAGE_NOTIFY
        # Both extensions must be told which version the client speaks before use.
        self._reply(lib.damage.xcb_damage_query_version_reply,
                    lib.damage.xcb_damage_query_version(conn, 1, 1), "DAMAGE")
        self._reply(lib.xfixes.xcb_xfixes_query_version_reply,
                    lib.xfixes.xcb_xfixes_query_version(conn, 5, 0), "XFIXES")
        roots = lib.xcb.xcb_setup_roots_iterator(lib.xcb.xcb_get_setup(conn))
        for _ in range(screen):
            lib.xcb.xcb_screen_next(ctypes.byref(roots))
        root = roots.data.contents.root
        self.region = lib.xcb.xcb_generate_id(conn)
        lib.xfixes.xcb_xfixes_create_region(conn, self.region, 0, None)
        self.damage = lib.xcb.xcb_generate_id(conn)
        error = lib.xcb.xcb_request_check(conn, lib.damage.xcb_damage_create_checked(
            conn, self.damage, root, REPORT_NON_EMPTY))
        if error:
            lib.c.free(error)
            raise Unavailable("the X server refused to track damage on the root window")

    def _reply(self, function, cookie, what: str) -> None:
        reply = function(self.conn, cookie, None)
        if not reply:
            raise Unavailable(f"the X server did not answer the {what} version query")
        self.lib.c.free(reply)

    def changes(self) -> list[tuple[int, int, int, int]] | None:
        """``(x, y, width, height)`` rectangles drawn on since the previous call,
        or None if nothing was (which costs no round trip to the server)."""
        lib, conn = self.lib, self.conn
        if lib.xcb.xcb_connection_has_error(conn):
            raise OSError("lost the connection to the X server")
        damaged = False
        while event := lib.xcb.xcb_poll_for_event(conn):
            damaged |= event.contents.response_type & 0x7F == self.notify
            lib.c.free(event)
        if not damaged:
            return None
        # Subtract before the caller grabs: whatever is drawn after this shows
        # up as damage again, so nothing drawn can be missed.
        lib.damage.xcb_damage_subtract(conn, self.damage, 0, self.region)
        reply = lib.xfixes.xcb_xfixes_fetch_region_reply(conn, lib.xfixes.xcb_xfixes_fetch_region(
            conn, self.region), None)
        if not reply:
            raise OSError("the X server did not answer a damage query")
        try:
            count = lib.xfixes.xcb_xfixes_fetch_region_rectangles_length(reply)
            rects = lib.xfixes.xcb_xfixes_fetch_region_rectangles(reply)
            return [(r.x, r.y, r.width, r.height) for r in rects[:count]]
        finally:
            lib.c.free(reply)

    def cursor(self) -> tuple[int, int, int, int, int]:
        """The cursor's ``(left, top, width, height, serial)``: the cursor moves
        and changes shape without damaging the screen."""
        lib = self.lib
        reply = lib.xfixes.xcb_xfixes_get_cursor_image_reply(
            self.conn, lib.xfixes.xcb_xfixes_get_cursor_image(self.conn), None)
        if not reply:
            raise OSError("the X server did not answer a cursor query")
        try:
            c = reply.contents
            return c.x - c.xhot, c.y - c.yhot, c.width, c.height, c.cursor_serial
        finally:
            lib.c.free(reply)

    def close(self) -> None:
        if self.conn:
            self.lib.xcb.xcb_disconnect(self.conn)
            self.conn = None
