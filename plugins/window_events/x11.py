"""The window in front on X11: ``_NET_ACTIVE_WINDOW``, which the window manager sets
on the root window (EWMH), and the names of that window.

An X connection of our own, subscribed to property changes of the root window
(the active window changed) and of the active window and the windows that make
it up (its title changed). ``poll()`` takes in what arrived without waiting and
reads the window again only when something changed: on a still desktop it costs
no round trip.

The program is the executable of the process ``_NET_WM_PID`` names (its
``/proc`` entry), when ``WM_CLIENT_MACHINE`` says that process runs here; a
window of another machine (ssh -X) or one without a pid is named by its
``WM_CLASS`` class.

Masks are matched as the ``mss`` source's window tracker matches them
(recorder.plugins.x11.window_tracker): the titles and classes of the top-level
window and of the windows in it, two levels down.
"""

from __future__ import annotations

import ctypes
import os
import socket
import struct

from recorder.plugins.x11 import xcb
from recorder.plugins.x11.client import XClient
from recorder.plugins.x11.window_tracker import DEPTH, MAX_MEMBERS, WM_CLASS, WM_NAME

from recorder.plugins.window_events.front import Front, Unknown

PROPERTY_NOTIFY = 28
PROPERTY_CHANGE = 1 << 22
ATOM, CARDINAL, WINDOW, ANY = 4, 6, 33, 0  # predefined atoms (and AnyPropertyType)
WM_CLIENT_MACHINE = 36
VALUE_WORDS = 1024  # read at most 4 KiB of a property, as the mask tracker does


NO_WINDOW_MANAGER = Unknown("the window manager does not say which window is in front (it sets no "
                            "_NET_ACTIVE_WINDOW): window events begin when one does")


class X11Front(XClient):
    """``poll()``: the window in front now (None when the window manager says none is,
    ``NO_WINDOW_MANAGER`` while none says), or raises OSError when the connection to the X
    server is lost."""

    purpose = "window events"

    def __init__(self, display: str | None):
        super().__init__(display)
        try:
            self.root = xcb.screen(self.xcb, self.conn, self.screen_number).root
            self.active_atom = self.atom(b"_NET_ACTIVE_WINDOW")
            self.name_atom = self.atom(b"_NET_WM_NAME")
            self.pid_atom = self.atom(b"_NET_WM_PID")
            self.supported_atom = self.atom(b"_NET_SUPPORTED")
            self.names = {WM_NAME, self.name_atom, WM_CLASS}
            self.select(self.root, PROPERTY_CHANGE)  # before the first read: no change is missed
            self.xcb.xcb_flush(self.conn)
        except BaseException:
            self.close()
            raise
        self.watched: set[int] = set()  # the active window and the windows it is made of
        self.front: Front | Unknown | None = None
        self.dirty = True  # read at the first poll
        self.hosts = {socket.gethostname().lower(), socket.gethostname().split(".")[0].lower()}

    def poll(self) -> Front | Unknown | None:
        while event := self.xcb.xcb_poll_for_event(self.conn):
            data = ctypes.string_at(event, 32)
            self.free(event)
            if data[0] & 0x7F == PROPERTY_NOTIFY:
                window, atom = struct.unpack_from("=II", data, 4)
                if (window == self.root and atom in (self.active_atom, self.supported_atom)) or (
                        window in self.watched and atom in self.names):
                    self.dirty = True
            # errors (response 0: a window gone before we looked at it) need nothing: it is read again
        if self.xcb.xcb_connection_has_error(self.conn):
            raise OSError("lost the connection to the X server (window events)")
        if self.dirty:
            self.dirty = False
            self.front = self._read()
        return self.front

    # -- reading the active window
    def _read(self) -> Front | Unknown | None:
        value = self._property(self.root, self.active_atom, WINDOW, 1)
        if value is None:  # none yet: a window manager that keeps it sets it once a window is active
            self._watch([])
            return None if self._supported() else NO_WINDOW_MANAGER
        active = struct.unpack_from("=I", value)[0] if value and len(value) >= 4 else 0
        members = self._members(active) if active else []
        self._watch(members)
        if not active:
            return None
        titles, classes = [], []
        for window in members:
            names = [self._text(window, atom, "utf-8" if atom == self.name_atom else "latin-1")
                     for atom in (self.name_atom, WM_NAME)]
            titles += [name for name in names if name]
            classes += [part.decode("latin-1") for part in (self._property(window, WM_CLASS, ANY) or b"").split(b"\0")
                        if part]
        own = self._property(active, WM_CLASS, ANY) or b""
        title = self._text(active, self.name_atom, "utf-8") or self._text(active, WM_NAME, "latin-1")
        return Front(active, self._program(active, own), title, tuple(titles), tuple(classes))

    def _supported(self) -> bool:
        """Whether the window manager lists _NET_ACTIVE_WINDOW among the hints it keeps (EWMH's _NET_SUPPORTED)."""
        atoms = self._property(self.root, self.supported_atom, ATOM) or b""
        return self.active_atom in struct.unpack(f"={len(atoms) // 4}I", atoms[:len(atoms) // 4 * 4])

    def _watch(self, members: list[int]) -> None:
        """Hear the title changes of ``members``, and no longer of the windows watched before."""
        for window in self.watched - set(members):
            self.select(window, 0)  # our own connection's interest only: the window is untouched
        for window in set(members) - self.watched:
            self.select(window, PROPERTY_CHANGE)
        self.watched = set(members)
        self.xcb.xcb_flush(self.conn)

    def _members(self, active: int) -> list[int]:
        """The top-level window (the root's child: a window manager's frame) that holds
        ``active``, and the windows inside it, as the mask tracker follows them."""
        top, chain = active, [active]
        for _ in range(8):  # a frame is a level or two up; a deeper nesting is not a window manager's
            parent = self._parent(top)
            if parent is None or parent == self.root:
                break
            top = parent
            chain.append(top)
        found, level = [top], [top]
        for _ in range(DEPTH):
            level = [child for parent in level for child in self.children(parent) or []]
            found += level[:MAX_MEMBERS - len(found)]
        return list(dict.fromkeys(found + chain))  # the active window itself, however deep

    def _program(self, window: int, wm_class: bytes) -> str:
        pid = self._property(window, self.pid_atom, CARDINAL, 1)
        machine = (self._property(window, WM_CLIENT_MACHINE, ANY) or b"").decode("latin-1").lower()
        if pid and len(pid) >= 4 and (not machine or machine in self.hosts):
            name = process_name(struct.unpack_from("=I", pid)[0])
            if name:
                return name
        parts = [part.decode("latin-1") for part in wm_class.split(b"\0") if part]
        return parts[-1] if parts else ""  # the class ("XTerm"); the instance when it is alone

    # -- X requests
    def _property(self, window: int, atom: int, kind: int, words: int = VALUE_WORDS) -> bytes | None:
        """The property's value, None when the window has no such property (or is gone)."""
        lib = self.xcb
        reply = self.reply(lib.xcb_get_property_reply, lib.xcb_get_property(self.conn, 0, window, atom, kind, 0,
                                                                              words), keep=True)
        if reply is None:
            return None
        try:
            if struct.unpack_from("=I", ctypes.string_at(reply, 12), 8)[0] == 0:  # type None: no such property
                return None
            return ctypes.string_at(lib.xcb_get_property_value(reply), lib.xcb_get_property_value_length(reply))
        finally:
            self.free(reply)

    def _text(self, window: int, atom: int, encoding: str) -> str:
        return (self._property(window, atom, ANY) or b"").decode(encoding, "replace").rstrip("\0")

    def _parent(self, window: int) -> int | None:
        reply = self.reply(self.xcb.xcb_query_tree_reply, self.xcb.xcb_query_tree(self.conn, window))
        return struct.unpack_from("=I", reply, 12)[0] if reply is not None else None


def process_name(pid: int) -> str:
    """The name of the executable process ``pid`` runs (``/proc/PID/exe``'s last part),
    or its command name (``/proc/PID/comm``, 15 characters) where the link cannot be
    read; "" when the process is gone."""
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe")).removesuffix(" (deleted)")
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as comm:
            return comm.read().strip()
    except OSError:
        return ""
