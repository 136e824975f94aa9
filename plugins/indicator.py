"""Guard ``indicator``: a visible sign on the recorded screen that recording is under way.

On Windows it is a topmost layered window (indicator_win32.py, ``WindowsIndicatorGuard``);
what follows describes the X11 one, which the Windows one mirrors.

A small window (a red dot and a label, "REC" by default) in a corner of the
X screen, shown while frames are being grabbed: hidden during a pause and
once capture has stopped. It is an override-redirect window, so no window
manager decorates, moves, minimises or lists it, and it is raised again
whenever another window is shown or restacked, so it stays on top. It is on
the screen, so it is in the recording too: the recording shows what the
customer saw, notice included.

It runs beside the recording on a thread of its own, with an X connection of
its own: it never delays a frame, and if the window or the connection is
lost (someone ran xkill on it, the X server reset it) the session gets an
event saying so and the indicator comes back as soon as it can. Whether
recording may start without it is the administrator's choice (``required``):
then a screen where it cannot be shown refuses to record, exit status 2.
Talks to libxcb through ctypes, as the ``mss`` source does.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import queue
import select
import struct
import sys
import threading
import time

import attrs
from recorder import UsageError, hookimpl, option

ACTIVE: dict[str, "IndicatorGuard | WindowsIndicatorGuard"] = {}  # session id -> its guard, for the pause events
CORNERS = ("top-right", "top-left", "bottom-right", "bottom-left")
MARGIN, HEIGHT, DOT = 8, 22, 12
CHAR_WIDTH = 6  # the server's built-in "fixed" font is 6x13
RETRY = 2.0  # seconds between attempts to bring a lost indicator back
RAISE_EVERY = 0.2  # seconds: at most this often, so two always-on-top windows cannot fight forever
CW_BACK_PIXEL, CW_OVERRIDE_REDIRECT, CW_EVENT_MASK = 2, 512, 2048
EXPOSURE, STRUCTURE_NOTIFY, SUBSTRUCTURE_NOTIFY = 1 << 15, 1 << 17, 1 << 19
EXPOSE, MAP_NOTIFY, CONFIGURE_NOTIFY, CIRCULATE_NOTIFY = 12, 19, 22, 26
GC_FOREGROUND, GC_BACKGROUND, GC_FONT = 4, 8, 16384
STACK_MODE, ABOVE = 64, 0
WM_NAME, WM_CLASS, STRING = 39, 67, 31
TITLE, CLASS = b"recorder: recording", b"recorder-indicator\0Recorder\0"


def _check_label(instance, attribute, value: str) -> None:
    if not 1 <= len(value) <= 40 or not all(" " <= c <= "~" for c in value):
        raise ValueError("must be 1 to 40 printable ASCII characters (the X server's built-in font has no others)")


@attrs.frozen
class IndicatorOptions:
    required: bool = option(False, "Refuse to record (exit 2) when the indicator cannot be shown on the "
                                   "screen; false records anyway, with a warning event.")
    corner: str = option("top-right", "Corner of the screen (on Windows, the primary one): " + ", ".join(CORNERS) + ".",
                         validator=attrs.validators.in_(CORNERS))
    label: str = option("REC", "The text beside the red dot (printable ASCII).", validator=_check_label)


class _Cookie(ctypes.Structure):
    _fields_ = [("sequence", ctypes.c_uint)]


class _Screen(ctypes.Structure):
    _fields_ = [("root", ctypes.c_uint32), ("default_colormap", ctypes.c_uint32),
                ("white_pixel", ctypes.c_uint32), ("black_pixel", ctypes.c_uint32),
                ("current_input_masks", ctypes.c_uint32), ("width", ctypes.c_uint16), ("height", ctypes.c_uint16)]


class _ScreenIterator(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(_Screen)), ("rem", ctypes.c_int), ("index", ctypes.c_int)]


class _Arc(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int16), ("y", ctypes.c_int16), ("width", ctypes.c_uint16),
                ("height", ctypes.c_uint16), ("angle1", ctypes.c_int16), ("angle2", ctypes.c_int16)]


_xcb = None


def _lib():
    """libxcb, its functions declared once."""
    global _xcb
    if _xcb is None:
        path = ctypes.util.find_library("xcb")
        if path is None:
            raise OSError("libxcb is not installed")
        lib, p, u8, u16, u32 = ctypes.CDLL(path), ctypes.c_void_p, ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32
        for name, restype, *args in [
                ("xcb_connect", p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)),
                ("xcb_connection_has_error", ctypes.c_int, p), ("xcb_disconnect", None, p),
                ("xcb_flush", ctypes.c_int, p), ("xcb_generate_id", u32, p), ("xcb_get_setup", p, p),
                ("xcb_get_file_descriptor", ctypes.c_int, p),
                ("xcb_setup_roots_iterator", _ScreenIterator, p),
                ("xcb_screen_next", None, ctypes.POINTER(_ScreenIterator)),
                ("xcb_poll_for_event", p, p), ("xcb_request_check", p, p, _Cookie),
                ("xcb_create_window_checked", _Cookie, p, u8, u32, u32, ctypes.c_int16, ctypes.c_int16, u16, u16,
                 u16, u16, u32, u32, p),
                ("xcb_change_window_attributes", _Cookie, p, u32, u32, p),
                ("xcb_change_property", _Cookie, p, u8, u32, u32, u32, u8, u32, p),
                ("xcb_map_window", _Cookie, p, u32), ("xcb_unmap_window", _Cookie, p, u32),
                ("xcb_configure_window", _Cookie, p, u32, u16, p),
                ("xcb_open_font_checked", _Cookie, p, u32, u16, ctypes.c_char_p),
                ("xcb_create_gc", _Cookie, p, u32, u32, u32, p),
                ("xcb_alloc_color", _Cookie, p, u32, u16, u16, u16),
                ("xcb_alloc_color_reply", p, p, _Cookie, p),
                ("xcb_poly_fill_arc", _Cookie, p, u32, u32, u32, ctypes.POINTER(_Arc)),
                ("xcb_image_text_8", _Cookie, p, u8, u32, u32, ctypes.c_int16, ctypes.c_int16, ctypes.c_char_p),
                ("xcb_get_window_attributes", _Cookie, p, u32),
                ("xcb_get_window_attributes_reply", p, p, _Cookie, p)]:
            function = getattr(lib, name)
            function.restype, function.argtypes = restype, args
        libc = ctypes.CDLL(None)
        libc.free.restype, libc.free.argtypes = None, [p]
        _xcb = (lib, libc)
    return _xcb


class Unshown(Exception):
    """The indicator cannot be put on this screen."""


class IndicatorWindow:
    """The window itself, on an X connection of its own. Used from one thread at a time."""

    def __init__(self, display: str | None, options: IndicatorOptions):
        if not display:
            raise Unshown("no X display (DISPLAY is not set)")
        try:
            self.lib, self.libc = _lib()
        except (OSError, AttributeError) as exc:
            raise Unshown(str(exc)) from None
        self.label = options.label.encode()
        screen_number = ctypes.c_int(0)
        self.conn = self.lib.xcb_connect(display.encode(), ctypes.byref(screen_number))
        if self.lib.xcb_connection_has_error(self.conn):
            self.lib.xcb_disconnect(self.conn)
            self.conn = None
            raise Unshown(f"cannot connect to the X server {display}")
        try:
            self._create(screen_number.value, options.corner)
        except BaseException:
            self.close()
            raise

    def _create(self, screen_number: int, corner: str) -> None:
        lib, conn = self.lib, self.conn
        roots = lib.xcb_setup_roots_iterator(lib.xcb_get_setup(conn))
        for _ in range(screen_number):
            lib.xcb_screen_next(ctypes.byref(roots))
        screen = roots.data.contents
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
            self.libc.free(error)
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
            self.libc.free(error)
            font, self.label = 0, b""
        self.text_gc, self.dot_gc = lib.xcb_generate_id(conn), lib.xcb_generate_id(conn)
        text = (ctypes.c_uint32 * 3)(screen.white_pixel, dark, font)
        lib.xcb_create_gc(conn, self.text_gc, self.window, GC_FOREGROUND | GC_BACKGROUND | (GC_FONT if font else 0),
                          text)
        lib.xcb_create_gc(conn, self.dot_gc, self.window, GC_FOREGROUND, (ctypes.c_uint32 * 1)(red))
        self.shown = False
        self._flush()

    def _colour(self, screen: _Screen, red: int, green: int, blue: int) -> int:
        reply = self.lib.xcb_alloc_color_reply(self.conn, self.lib.xcb_alloc_color(
            self.conn, screen.default_colormap, red * 257, green * 257, blue * 257), None)
        if not reply:
            return screen.black_pixel if red < 0x80 else screen.white_pixel
        try:
            return struct.unpack_from("=I", ctypes.string_at(reply, 20), 16)[0]
        finally:
            self.libc.free(reply)

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
            self.libc.free(reply)

    def draw(self) -> None:
        arc = _Arc(MARGIN // 2 + 2, (HEIGHT - DOT) // 2, DOT, DOT, 0, 360 * 64)
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
            self.libc.free(event)
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


def unshown(session, options: IndicatorOptions, exc: Exception) -> None:
    """No indicator can be shown (X11 or Windows alike): refuse to record when the
    administrator requires one, otherwise say so on the timeline."""
    if options.required:
        raise UsageError(f"indicator: cannot show the recording indicator: {exc} (required = true)") from None
    session.add_event("indicator-unavailable", f"no recording indicator on the screen: {exc}",
                      level="warning", by="indicator")


class IndicatorGuard:
    def __init__(self, options: IndicatorOptions):
        self.options = options
        self.session = None
        self.window: IndicatorWindow | None = None
        self.commands: queue.SimpleQueue = queue.SimpleQueue()
        self.wake_read, self.wake_write = os.pipe()
        self.want_shown = False
        self.confirmed = threading.Event()  # set once the window was seen on the screen
        self.thread: threading.Thread | None = None

    # -- the guard's part
    def preflight(self, session) -> None:
        """Make the window now (not shown yet): a screen that cannot have one is known before recording."""
        try:
            self.window = IndicatorWindow(os.environ.get("DISPLAY"), self.options)
        except Unshown as exc:
            unshown(session, self.options, exc)

    def start(self, session) -> None:
        self.session = session
        ACTIVE[session.id] = self
        self.thread = threading.Thread(target=self._run, name="recorder-indicator", daemon=True)
        self.thread.start()
        self.command("show")
        self.confirmed.wait(2.0)  # so that the first frame shows it; never longer: it must not delay recording

    def before_seal(self) -> None:
        self.command("hide")  # capture has stopped: the recording is over

    def stop(self) -> None:
        if self.session is not None:
            ACTIVE.pop(self.session.id, None)
        if self.thread is not None:
            self.command("quit")
            self.thread.join(2.0)
        if self.thread is None or not self.thread.is_alive():
            if self.window is not None:
                self.window.close()
            for fd in (self.wake_read, self.wake_write):
                os.close(fd)

    def command(self, what: str) -> None:
        """Called from any thread (the pause arrives on the control channel's): never blocks."""
        self.commands.put(what)
        try:
            os.write(self.wake_write, b"!")
        except OSError:
            pass

    # -- the indicator's own thread
    def _run(self) -> None:
        retry_at = time.monotonic() + RETRY
        last_raise = 0.0
        redraw = restack = False  # events read but not acted on yet
        while True:
            if self.window is None and time.monotonic() >= retry_at:
                self._reconnect()
                retry_at = time.monotonic() + RETRY
            fds = [self.wake_read] + ([self.window.fileno()] if self.window is not None else [])
            # Events xcb already queued (read while waiting for a reply) do not wake select: act on them first
            readable, _, _ = select.select(fds, [], [], 0 if redraw or restack else RETRY)
            if self.wake_read in readable:
                os.read(self.wake_read, 4096)
            window = self.window
            try:
                while not self.commands.empty():
                    what = self.commands.get()
                    if what == "quit":
                        return
                    self.want_shown = what == "show"
                    if window is not None and self.want_shown:
                        window.show()
                    elif window is not None:
                        window.hide()
                if window is None:
                    continue
                if self.want_shown and not window.viewable():  # unmapped by someone else
                    window.show()
                more = window.events()  # after the round trip: whatever it queued too
                redraw, restack = redraw or more[0], restack or more[1]
                if not self.want_shown:
                    redraw = restack = False
                    continue
                if redraw:
                    window.draw()
                    if window.viewable():  # a round trip: the dot is on the screen now
                        self.confirmed.set()
                    redraw = False
                if restack and time.monotonic() - last_raise >= RAISE_EVERY:
                    window.raise_()
                    last_raise = time.monotonic()
                    restack = False
                more = window.events()
                redraw, restack = redraw or more[0], restack or more[1]
            except OSError as exc:
                self._lost(str(exc))
                redraw = restack = False
                retry_at = time.monotonic() + RETRY / 4  # xkill, a server reset: try again soon

    def _lost(self, why: str) -> None:
        self.window.close()
        self.window = None
        self.session.add_event("indicator-lost", f"the recording indicator is gone from the screen ({why}); "
                               "recording goes on, and it is shown again as soon as it can be",
                               level="warning", by="indicator")

    def _reconnect(self) -> None:
        """A new window after a loss (or after a start without one, if a screen appeared)."""
        try:
            self.window = IndicatorWindow(os.environ.get("DISPLAY"), self.options)
        except Unshown:
            return
        self.session.add_event("indicator-restored", "the recording indicator is on the screen again",
                               by="indicator")
        if self.want_shown:
            self.window.show()


class WindowsIndicatorGuard:
    """The same guard on Windows: the window is a topmost layered one with a message loop
    of its own (indicator_win32.py), to which show and hide are posted."""

    def __init__(self, options: IndicatorOptions):
        self.options = options
        self.session = None
        self.window = None

    def preflight(self, session) -> None:
        from recorder.plugins.indicator_win32 import IndicatorWindow as Win32Window
        from recorder.plugins.indicator_win32 import Unshown as Win32Unshown

        try:
            self.window = Win32Window(self.options.label, self.options.corner)
        except Win32Unshown as exc:
            unshown(session, self.options, exc)

    def start(self, session) -> None:
        self.session = session
        ACTIVE[session.id] = self
        self.command("show")
        if self.window is not None:
            self.window.shown.wait(2.0)  # so that the first frame shows it; never longer

    def before_seal(self) -> None:
        self.command("hide")  # capture has stopped: the recording is over

    def stop(self) -> None:
        if self.session is not None:
            ACTIVE.pop(self.session.id, None)
        if self.window is not None:
            self.window.close()

    def command(self, what: str) -> None:
        """Called from any thread (the pause arrives on the control channel's): never blocks."""
        if self.window is not None:
            self.window.show() if what == "show" else self.window.hide()


@hookimpl
def recorder_session_event(session, event):
    guard = ACTIVE.get(session.id)
    if guard is not None and event.kind in ("paused", "unpaused"):
        guard.command("hide" if event.kind == "paused" else "show")


@hookimpl
def recorder_register_guards(register):
    guard = WindowsIndicatorGuard if sys.platform == "win32" else IndicatorGuard
    register("indicator", guard, options=IndicatorOptions,
             description="a visible 'REC' sign on the recorded screen while recording")
