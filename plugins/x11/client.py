"""A connection to the X server and the requests every window watcher here makes: atoms,
event masks, the window tree, replies freed and a lost connection said once. The mask
tracker (``window_tracker``) and the window-events guard each open one of their own."""

from __future__ import annotations

import ctypes
import struct

from recorder.plugins.x11 import xcb
from recorder.plugins.x11.xcb import Unavailable

CW_EVENT_MASK = 1 << 11


class XClient:
    purpose = "X11"  # what the connection is for, named when it is lost

    def __init__(self, display: str | None):
        self.conn = None  # until connected: close() then has nothing to do
        self.xcb, self.conn, self.screen_number = xcb.connect(display)
        self.free = xcb.libc().free

    def check(self) -> None:
        if self.xcb.xcb_connection_has_error(self.conn):
            raise OSError(f"lost the connection to the X server ({self.purpose})")

    def reply(self, function, cookie, keep: bool = False):
        """The reply's bytes (or the pointer, with ``keep``: the caller frees it); None for an
        error, such as a window destroyed meanwhile (its DestroyNotify follows)."""
        error = ctypes.c_void_p()
        reply = function(self.conn, cookie, ctypes.byref(error))
        if error.value:
            self.free(error)
        if not reply:
            self.check()
            return None
        if keep:
            return reply
        length = 32 + 4 * struct.unpack_from("=I", ctypes.string_at(reply, 8), 4)[0]
        try:
            return ctypes.string_at(reply, length)
        finally:
            self.free(reply)

    def atom(self, name: bytes) -> int:
        reply = self.reply(self.xcb.xcb_intern_atom_reply, self.xcb.xcb_intern_atom(self.conn, 0, len(name), name))
        if reply is None:
            raise Unavailable("the X server did not answer an atom query")
        return struct.unpack_from("=I", reply, 8)[0]

    def select(self, window: int, mask: int) -> None:
        """This connection's interest in ``window``'s events (the window itself is untouched)."""
        value = ctypes.c_uint32(mask)
        self.xcb.xcb_change_window_attributes(self.conn, window, CW_EVENT_MASK, ctypes.byref(value))

    def children(self, window: int) -> list[int] | None:
        """``window``'s children, bottom to top; None when it is gone."""
        lib = self.xcb
        reply = self.reply(lib.xcb_query_tree_reply, lib.xcb_query_tree(self.conn, window), keep=True)
        if reply is None:
            return None
        try:
            return list(lib.xcb_query_tree_children(reply)[:lib.xcb_query_tree_children_length(reply)])
        finally:
            self.free(reply)

    def close(self) -> None:
        if self.conn:
            self.xcb.xcb_disconnect(self.conn)
            self.conn = None
