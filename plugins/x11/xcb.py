"""libxcb through ctypes: loaded once, each function declared once with its types.

Every caller opens an xcb connection of its own (``connect``): a connection is
used from one thread at a time, and each caller's events (DAMAGE notifications,
window changes, exposures) stay its own.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

Rect = tuple[int, int, int, int]  # left, top, width, height on the screen (root window)


class Unavailable(Exception):
    """No X11 here: not X11, a library is missing, the server cannot be reached or lacks an extension."""


class Cookie(ctypes.Structure):
    _fields_ = [("sequence", ctypes.c_uint)]


class ExtensionReply(ctypes.Structure):
    _fields_ = [("response_type", ctypes.c_uint8), ("pad0", ctypes.c_uint8), ("sequence", ctypes.c_uint16),
                ("length", ctypes.c_uint32), ("present", ctypes.c_uint8), ("major_opcode", ctypes.c_uint8),
                ("first_event", ctypes.c_uint8), ("first_error", ctypes.c_uint8)]


class GenericEvent(ctypes.Structure):
    _fields_ = [("response_type", ctypes.c_uint8)]  # the first field; an event is 32 bytes


class Screen(ctypes.Structure):
    _fields_ = [("root", ctypes.c_uint32), ("default_colormap", ctypes.c_uint32),
                ("white_pixel", ctypes.c_uint32), ("black_pixel", ctypes.c_uint32),
                ("current_input_masks", ctypes.c_uint32), ("width", ctypes.c_uint16), ("height", ctypes.c_uint16)]


class ScreenIterator(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(Screen)), ("rem", ctypes.c_int), ("index", ctypes.c_int)]


class Arc(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int16), ("y", ctypes.c_int16), ("width", ctypes.c_uint16),
                ("height", ctypes.c_uint16), ("angle1", ctypes.c_int16), ("angle2", ctypes.c_int16)]


def load(name: str) -> ctypes.CDLL:
    """``lib<name>`` (``xcb``, ``xcb-damage``...); Unavailable if it is not installed."""
    path = ctypes.util.find_library(name)
    if path is None:
        raise Unavailable(f"lib{name} is not installed")
    return ctypes.CDLL(path)


def declare(lib: ctypes.CDLL, table) -> None:
    """Give each ``(name, restype, *argtypes)`` of ``table`` its types, once per library."""
    for name, restype, *argtypes in table:
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes


_p, _u8, _u16, _u32, _i16 = ctypes.c_void_p, ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_int16
_EVENT = ctypes.POINTER(GenericEvent)  # NULL when none: falsy, and freed like any pointer

XCB = [
    # the connection
    ("xcb_connect", _p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)),
    ("xcb_connection_has_error", ctypes.c_int, _p),
    ("xcb_disconnect", None, _p),
    ("xcb_flush", ctypes.c_int, _p),
    ("xcb_generate_id", _u32, _p),
    ("xcb_get_file_descriptor", ctypes.c_int, _p),
    ("xcb_get_setup", _p, _p),
    ("xcb_setup_roots_iterator", ScreenIterator, _p),
    ("xcb_screen_next", None, ctypes.POINTER(ScreenIterator)),
    ("xcb_get_extension_data", ctypes.POINTER(ExtensionReply), _p, _p),
    ("xcb_poll_for_event", _EVENT, _p),
    ("xcb_poll_for_queued_event", _EVENT, _p),
    ("xcb_request_check", _p, _p, Cookie),
    # windows and their properties
    ("xcb_create_window_checked", Cookie, _p, _u8, _u32, _u32, _i16, _i16, _u16, _u16, _u16, _u16, _u32, _u32, _p),
    ("xcb_change_window_attributes", Cookie, _p, _u32, _u32, _p),
    ("xcb_change_property", Cookie, _p, _u8, _u32, _u32, _u32, _u8, _u32, _p),
    ("xcb_map_window", Cookie, _p, _u32),
    ("xcb_unmap_window", Cookie, _p, _u32),
    ("xcb_configure_window", Cookie, _p, _u32, _u16, _p),
    ("xcb_get_input_focus", Cookie, _p),
    ("xcb_get_input_focus_reply", _p, _p, Cookie, _p),
    ("xcb_query_tree", Cookie, _p, _u32),
    ("xcb_query_tree_reply", _p, _p, Cookie, _p),
    ("xcb_query_tree_children", ctypes.POINTER(_u32), _p),
    ("xcb_query_tree_children_length", ctypes.c_int, _p),
    ("xcb_get_geometry", Cookie, _p, _u32),
    ("xcb_get_geometry_reply", _p, _p, Cookie, _p),
    ("xcb_get_window_attributes", Cookie, _p, _u32),
    ("xcb_get_window_attributes_reply", _p, _p, Cookie, _p),
    ("xcb_get_property", Cookie, _p, _u8, _u32, _u32, _u32, _u32, _u32),
    ("xcb_get_property_reply", _p, _p, Cookie, _p),
    ("xcb_get_property_value", _p, _p),
    ("xcb_get_property_value_length", ctypes.c_int, _p),
    ("xcb_intern_atom", Cookie, _p, _u8, _u16, ctypes.c_char_p),
    ("xcb_intern_atom_reply", _p, _p, Cookie, _p),
    # drawing
    ("xcb_open_font_checked", Cookie, _p, _u32, _u16, ctypes.c_char_p),
    ("xcb_create_gc", Cookie, _p, _u32, _u32, _u32, _p),
    ("xcb_alloc_color", Cookie, _p, _u32, _u16, _u16, _u16),
    ("xcb_alloc_color_reply", _p, _p, Cookie, _p),
    ("xcb_poly_fill_arc", Cookie, _p, _u32, _u32, _u32, ctypes.POINTER(Arc)),
    ("xcb_image_text_8", Cookie, _p, _u8, _u32, _u32, _i16, _i16, ctypes.c_char_p),
]


@functools.cache  # a failure is not cached: a later call tries again (a library installed meanwhile)
def libxcb() -> ctypes.CDLL:
    """libxcb with every function of ``XCB`` declared; Unavailable if it cannot be loaded."""
    lib = load("xcb")
    try:
        declare(lib, XCB)
    except AttributeError as exc:  # a libxcb too old for one of them
        raise Unavailable(str(exc)) from None
    return lib


@functools.cache
def libc() -> ctypes.CDLL:
    """The C library, for its ``free``: replies, events and errors xcb allocated are the caller's
    to free. Callers keep ``libc().free`` at hand: it is called per event on capture's path."""
    lib = ctypes.CDLL(None)
    lib.free.restype, lib.free.argtypes = None, [_p]
    return lib


def connect(display: str | None):
    """``(libxcb, connection, screen number)``: a connection of one's own to ``display``
    (None: ``$DISPLAY``); Unavailable if libxcb cannot be loaded or the server reached."""
    try:
        lib = libxcb()
        libc()
    except OSError as exc:
        raise Unavailable(str(exc)) from None
    number = ctypes.c_int(0)
    conn = lib.xcb_connect(display.encode() if display else None, ctypes.byref(number))
    if lib.xcb_connection_has_error(conn):
        lib.xcb_disconnect(conn)
        raise Unavailable(f"cannot connect to the X server {display or ''}".rstrip())
    return lib, conn, number.value


def screen(lib: ctypes.CDLL, conn, number: int) -> Screen:
    """The connection's screen ``number`` (its root window, size and colours)."""
    roots = lib.xcb_setup_roots_iterator(lib.xcb_get_setup(conn))
    for _ in range(number):
        lib.xcb_screen_next(ctypes.byref(roots))
    return roots.data.contents
