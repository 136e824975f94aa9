"""Where the masked windows are at the moment of each grab, exactly.

A grab is a request on mss's X connection; a window moves, appears or is
renamed by requests of other clients. The X server carries out requests one
at a time, so a grab sees the screen as it was between two of them. This
module follows the windows on a connection of its own, subscribed to
SubstructureNotify on the root (windows created, destroyed, mapped, moved,
resized, reparented by a window manager) and PropertyNotify on each
top-level window and the windows inside it (titles and classes). Around each
grab:

- ``begin()`` reads the events that arrived since the last grab;
- after the grab, ``end()`` makes a round trip (GetInputFocus). The grab's
  reply came before the round trip was sent, so every event the server
  generated before or during the grab arrives before the round trip's reply;
  events carry the sequence number of the last request of ours the server had
  carried out, which separates those from the ones generated later.

Both return the union of the masked rectangles of every state the windows
went through since the previous round trip: whichever of those states the
grab saw, its masked windows are inside the union.

Events carry geometry, but not titles: those are read (GetProperty) after the
PropertyNotify, and the value read is the one at the time of the read. Where
that may differ from the value the event stands for (another change arrived
before the read's reply, or the window was shown before its properties were
watched), the window is masked until the stream of events has passed the
read ("in flux"). Masking too much for a frame is the price; never too little.
"""

from __future__ import annotations

import collections
import ctypes
import struct
from typing import Iterable, Protocol

from recorder.plugins.x11 import xcb
from recorder.plugins.x11.client import XClient
from recorder.plugins.x11.xcb import Rect

CREATE, DESTROY, UNMAP, MAP, REPARENT, CONFIGURE, GRAVITY, PROPERTY = 16, 17, 18, 19, 21, 22, 24, 28
SUBSTRUCTURE_NOTIFY, PROPERTY_CHANGE = 1 << 19, 1 << 22
WM_NAME, WM_CLASS = 39, 67  # predefined atoms
DEPTH = 2  # levels below a top-level window searched: a window manager's frame holds the client one down
MAX_MEMBERS = 64


class Matcher(Protocol):
    """Which windows are followed: the ``mss`` source's masks (recorder.plugins.mss.masks)."""

    def matches(self, titles: Iterable[str], classes: Iterable[str]) -> bool: ...


def _before(event_sequence: int, request: int) -> bool:
    """The event was generated before the server carried out ``request`` (16-bit sequence arithmetic)."""
    return (event_sequence - request) & 0xFFFF >= 0x8000


class _Top:
    """A child of the root window: what is masked is its whole outer rectangle."""

    def __init__(self, window: int, rect: Rect, mapped: bool):
        self.window, self.rect, self.mapped = window, rect, mapped
        self.members: set[int] = set()  # itself and the windows inside it whose properties are watched
        self.matched = False
        self.watched = 0  # the request that read the newest member's properties first
        self.flux_until: int | None = None  # masked whatever its title until events pass this request


class WindowTracker(XClient):
    """Top-level windows, their geometry and whether they match, followed through events."""

    purpose = "window masks"

    def __init__(self, display: str | None, matcher: Matcher):
        self.matcher = matcher
        super().__init__(display)
        self.tops: dict[int, _Top] = {}
        self.owner: dict[int, int] = {}  # watched window -> its top-level window
        self.props: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {}  # window -> (titles, classes)
        self.backlog: collections.deque[bytes] = collections.deque()
        self.union: set[Rect] = set()
        self.started = False  # before the first grab, nothing shown so far is in question
        try:
            self._start(self.screen_number)
        except BaseException:
            self.close()
            raise

    # -- the two calls around a grab
    def begin(self) -> frozenset[Rect]:
        """Take in what arrived so far; the rectangles masked since the last ``end()``."""
        self.check()
        self._receive(self.xcb.xcb_poll_for_event)
        while self.backlog:
            self._process(self.backlog.popleft())
        return frozenset(self.union)

    def end(self) -> frozenset[Rect]:
        """After the grab: a round trip, then every state up to it. Returns the union, and
        starts the next one from the state at the round trip."""
        lib, conn = self.xcb, self.conn
        cookie = lib.xcb_get_input_focus(conn)
        self.reply(lib.xcb_get_input_focus_reply, cookie)
        sync = cookie.sequence
        self._receive(lib.xcb_poll_for_queued_event)
        while self.backlog and _before(self._sequence(self.backlog[0]), sync):
            self._process(self.backlog.popleft())
        for top in self.tops.values():
            if top.flux_until is not None and top.flux_until < sync:
                top.flux_until = None
        union = frozenset(self.union)
        self.union = set(self._masked())
        return union

    # -- setting up
    def _start(self, screen: int) -> None:
        self.root = xcb.screen(self.xcb, self.conn, screen).root
        self.net_wm_name = self.atom(b"_NET_WM_NAME")
        self.atoms = {WM_NAME, WM_CLASS, self.net_wm_name}
        self.select(self.root, SUBSTRUCTURE_NOTIFY)  # first: nothing that happens after the query is missed
        for window in self.children(self.root) or []:
            self._add_top(window)
        self.union = set(self._masked())
        self.started = True

    # -- the events
    @staticmethod
    def _sequence(event: bytes) -> int:
        return struct.unpack_from("=H", event, 2)[0]

    def _receive(self, poll) -> None:
        while event := poll(self.conn):
            self.backlog.append(ctypes.string_at(event, 32))
            self.free(event)

    def _process(self, event: bytes) -> None:
        kind, sequence = event[0] & 0x7F, self._sequence(event)
        for top in self.tops.values():
            if top.flux_until is not None and not _before(sequence, top.flux_until):
                top.flux_until = None
        if kind == CREATE:
            parent, window, x, y, w, h, border = struct.unpack_from("=IIhhHHH", event, 4)
            if parent == self.root:
                self._add_top(window, (x, y, w + 2 * border, h + 2 * border), mapped=False)
            else:
                self._rescan(self.owner.get(parent))
        elif kind in (DESTROY, UNMAP, MAP, CONFIGURE, GRAVITY, REPARENT):
            watcher, window = struct.unpack_from("=II", event, 4)
            if watcher == self.root:
                self._root_child(kind, window, event, sequence)
            elif kind in (CREATE, DESTROY, REPARENT):
                self._rescan(self.owner.get(watcher))
        elif kind == PROPERTY:
            window, atom = struct.unpack_from("=II", event, 4)
            if atom in self.atoms and window in self.owner:
                self._read_members(self.tops[self.owner[window]], [window])
        self.union.update(self._masked())

    def _root_child(self, kind: int, window: int, event: bytes, sequence: int) -> None:
        top = self.tops.get(window)
        if kind == REPARENT:
            parent, x, y = struct.unpack_from("=Ihh", event, 12)
            if parent == self.root:
                self._add_top(window)  # a window manager let it go
            elif top is not None:  # a window manager framed it: it is the frame's now
                self._forget(top)
                self._rescan(parent if parent in self.tops else self.owner.get(parent))
            return
        if top is None:
            return
        if kind == DESTROY:
            self._forget(top)
        elif kind == MAP:
            top.mapped = True
            if _before(sequence, top.watched):  # shown before its titles were watched: unknown until then
                self._flux(top, top.watched)
        elif kind == UNMAP:
            top.mapped = False
        elif kind == CONFIGURE:
            x, y, w, h, border = struct.unpack_from("=hhHHH", event, 16)
            top.rect = (x, y, w + 2 * border, h + 2 * border)
        elif kind == GRAVITY:
            x, y = struct.unpack_from("=hh", event, 12)
            top.rect = (x, y) + top.rect[2:]

    # -- windows
    def _add_top(self, window: int, rect: Rect | None = None, mapped: bool | None = None) -> None:
        self.select(window, PROPERTY_CHANGE | SUBSTRUCTURE_NOTIFY)
        if rect is None or mapped is None:
            geometry = self.reply(self.xcb.xcb_get_geometry_reply, self.xcb.xcb_get_geometry(
                self.conn, window))
            attributes = self.reply(self.xcb.xcb_get_window_attributes_reply,
                                     self.xcb.xcb_get_window_attributes(self.conn, window))
            if geometry is None or attributes is None:
                return  # gone already; its DestroyNotify follows
            x, y, w, h, border = struct.unpack_from("=hhHHH", geometry, 12)
            rect, mapped = (x, y, w + 2 * border, h + 2 * border), attributes[26] != 0
        top = self.tops[window] = _Top(window, rect, mapped)
        self._rescan(window)

    def _forget(self, top: _Top) -> None:
        self.tops.pop(top.window, None)
        for member in top.members:
            if self.owner.get(member) == top.window:
                del self.owner[member]
                self.props.pop(member, None)

    def _rescan(self, window: int | None) -> None:
        """Find the windows inside a top-level window (its client, under a window manager) and read them."""
        top = self.tops.get(window) if window is not None else None
        if top is None:
            return
        found, level = [top.window], [top.window]
        for _ in range(DEPTH):
            level = [child for parent in level for child in self.children(parent) or []]
            found += level[:MAX_MEMBERS - len(found)]
        new = [member for member in found if member not in top.members]
        for member in top.members - set(found):
            if self.owner.get(member) == top.window:
                del self.owner[member]
                self.props.pop(member, None)
        top.members = set(found)
        for member in new:
            self.owner[member] = top.window
            if member != top.window:
                self.select(member, PROPERTY_CHANGE | SUBSTRUCTURE_NOTIFY)
        read = self._read_members(top, new)
        if new:
            top.watched = read
            if top.mapped and self.started:  # already shown: what its new members said before now is unknown
                self._flux(top, read)
        else:
            top.matched = self._matches(top)

    def _read_members(self, top: _Top, windows: list[int]) -> int:
        """Read titles and classes; returns the last request. A change that arrived
        before that request's reply means the value read may not be the one the
        event being processed stands for: the window is in flux until then."""
        lib, conn = self.xcb, self.conn
        cookies = [(window, atom, lib.xcb_get_property(conn, 0, window, atom, 0, 0, 1024))
                   for window in windows for atom in (WM_NAME, self.net_wm_name, WM_CLASS)]
        values: dict[int, dict[int, bytes]] = collections.defaultdict(dict)
        last = 0
        for window, atom, cookie in cookies:
            last = cookie.sequence
            reply = self.reply(lib.xcb_get_property_reply, cookie, keep=True)
            if reply is not None:
                size = lib.xcb_get_property_value_length(reply)
                values[window][atom] = ctypes.string_at(lib.xcb_get_property_value(reply), size)
                self.free(reply)
        for window in windows:
            got = values.get(window, {})
            titles = tuple(got[a].decode("utf-8" if a != WM_NAME else "latin-1", "replace")
                           for a in (WM_NAME, self.net_wm_name) if got.get(a))
            classes = tuple(part.decode("latin-1") for part in got.get(WM_CLASS, b"").split(b"\0") if part)
            self.props[window] = (titles, classes)
        self._receive(lib.xcb_poll_for_queued_event)
        watched = set(windows)
        for event in self.backlog:
            if event[0] & 0x7F == PROPERTY and _before(self._sequence(event), last):
                window, atom = struct.unpack_from("=II", event, 4)
                if window in watched and atom in self.atoms:
                    self._flux(top, last)
                    break
        top.matched = self._matches(top)
        return last

    def _matches(self, top: _Top) -> bool:
        return any(self.matcher.matches(*self.props.get(member, ((), ()))) for member in top.members)

    def _flux(self, top: _Top, until: int) -> None:
        top.flux_until = until if top.flux_until is None else max(top.flux_until, until)

    def _masked(self) -> list[Rect]:
        return [top.rect for top in self.tops.values()
                if top.mapped and (top.matched or top.flux_until is not None)]
