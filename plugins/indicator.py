"""Guard ``indicator``: a visible sign on the recorded screen that recording is under way.

A small window (a red dot and a label, "REC" by default) in a corner of the
screen, shown while frames are being grabbed: hidden during a pause and once
capture has stopped. It stays on top of every other window. It is on the
screen, so it is in the recording too: the recording shows what the customer
saw, notice included. The window itself is indicator_x11.py (an
override-redirect window, raised again whenever another window is shown or
restacked) or indicator_win32.py (a topmost layered window); this module is the
guard, the same on both.

It runs beside the recording on a thread of its own, with an X connection of
its own: it never delays a frame, and if the window or the connection is
lost (someone ran xkill on it, the X server reset it) the session gets an
event saying so and the indicator comes back as soon as it can. Whether
recording may start without it is the administrator's choice (``required``):
then a screen where it cannot be shown refuses to record, exit status 2.
A pause hides it and a resume shows it again: the guard hears its session's
events (``session_event``).
"""

from __future__ import annotations

import os
import queue
import select
import sys
import threading
import time

import attrs
from recorder import UsageError, hookimpl, option

from recorder.plugins.indicator_x11 import IndicatorWindow, Unshown

CORNERS = ("top-right", "top-left", "bottom-right", "bottom-left")
RETRY = 2.0  # seconds between attempts to bring a lost indicator back
RAISE_EVERY = 0.2  # seconds: at most this often, so two always-on-top windows cannot fight forever
PAUSE_EVENTS = {"paused": "hide", "unpaused": "show"}


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


def unshown(session, options: IndicatorOptions, exc: Exception) -> None:
    """No indicator can be shown (X11 or Windows alike): refuse to record when the
    administrator requires one, otherwise say so on the timeline."""
    if options.required:
        raise UsageError(f"indicator: cannot show the recording indicator: {exc} (required = true)") from None
    session.add_event("indicator-unavailable", f"no recording indicator on the screen: {exc}",
                      level="warning", by="indicator")


class IndicatorGuard:
    """The guard on X11: the window (indicator_x11.py) is looked after by a thread of its own."""

    def __init__(self, options: IndicatorOptions):
        self.options = options
        self.session = None
        self.window: IndicatorWindow | None = None
        self.listening = False  # from start() to stop(): pauses hide it, resumes show it
        self.lock = threading.Lock()  # no command after stop() closed the wake-up pipe
        self.commands: queue.SimpleQueue = queue.SimpleQueue()
        self.wake_read, self.wake_write = os.pipe()
        self.want_shown = False
        self.confirmed = threading.Event()  # set once the window was seen on the screen
        self.thread: threading.Thread | None = None

    # -- the guard's part
    def preflight(self, session) -> None:
        """Make the window now (not shown yet): a screen that cannot have one is known before recording."""
        try:
            self.window = self._window()
        except Unshown as exc:
            unshown(session, self.options, exc)

    def start(self, session) -> None:
        self.session = session
        self.listening = True
        self.thread = threading.Thread(target=self._run, name="recorder-indicator", daemon=True)
        self.thread.start()
        self.command("show")
        self.confirmed.wait(2.0)  # so that the first frame shows it; never longer: it must not delay recording

    def before_seal(self) -> None:
        self.command("hide")  # capture has stopped: the recording is over

    def session_event(self, session, event) -> None:
        with self.lock:
            if self.listening and event.kind in PAUSE_EVENTS:
                self.command(PAUSE_EVENTS[event.kind])

    def stop(self) -> None:
        with self.lock:
            self.listening = False
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

    def _window(self) -> IndicatorWindow:
        return IndicatorWindow(os.environ.get("DISPLAY"), self.options.label, self.options.corner)

    def _reconnect(self) -> None:
        """A new window after a loss (or after a start without one, if a screen appeared)."""
        try:
            self.window = self._window()
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
        self.listening = False  # from start() to stop(): pauses hide it, resumes show it
        self.lock = threading.Lock()  # no command after stop() closed the window

    def preflight(self, session) -> None:
        from recorder.plugins.indicator_win32 import IndicatorWindow as Win32Window
        from recorder.plugins.indicator_win32 import Unshown as Win32Unshown

        try:
            self.window = Win32Window(self.options.label, self.options.corner)
        except Win32Unshown as exc:
            unshown(session, self.options, exc)

    def start(self, session) -> None:
        self.session = session
        self.listening = True
        self.command("show")
        if self.window is not None:
            self.window.shown.wait(2.0)  # so that the first frame shows it; never longer

    def before_seal(self) -> None:
        self.command("hide")  # capture has stopped: the recording is over

    def session_event(self, session, event) -> None:
        with self.lock:
            if self.listening and event.kind in PAUSE_EVENTS:
                self.command(PAUSE_EVENTS[event.kind])

    def stop(self) -> None:
        with self.lock:
            self.listening = False
        if self.window is not None:
            self.window.close()

    def command(self, what: str) -> None:
        """Called from any thread (the pause arrives on the control channel's): never blocks."""
        if self.window is not None:
            self.window.show() if what == "show" else self.window.hide()


@hookimpl
def recorder_register_guards(register):
    guard = WindowsIndicatorGuard if sys.platform == "win32" else IndicatorGuard
    register("indicator", guard, options=IndicatorOptions,
             description="a visible 'REC' sign on the recorded screen while recording")
