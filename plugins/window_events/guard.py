"""Guard ``window-events``: an event on the timeline each time another window comes to
the front, naming its program and, if the administrator wants, its title.

A thread of its own asks the desktop (desktop.py) ten times a second and writes
what it sees once it has held: a window in front for less than ``SETTLE`` (alt-tab
passing over it) is no event, and a title that changes within the same window must
hold for ``TITLE_SETTLE`` (a terminal or a download counting in its title would
otherwise write an event every second; a window that came to the front is written
after ``SETTLE`` whatever its title does). Only a change of what is written is an
event: with ``record = "program"``, moving between two windows of one program is
none. While the recording is paused nothing is written, and the window in front
when it resumes is written again. At most ``MAX_EVENTS`` per session: every event
rewrites session.json.

Masked windows: their title is never written. The ``mss`` source's ``mask_titles``
and ``mask_classes`` are matched (with the same ``Matcher``) against every title and
class of the window, and against the title as it would be written; a match writes
the program and ``(title masked)``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import attrs
from recorder import option

from recorder.plugins.masking import Matcher
from recorder.plugins.window_events import desktop
from recorder.plugins.window_events.front import PROGRAM_MAX, TITLE_MAX, Front, Unknown, clean

log = logging.getLogger("recorder.window-events")
RECORD = ("program", "title", "off")
POLL = 0.1  # seconds between looks at the desktop
SETTLE = 0.3  # seconds another window must stay in front to be an event
TITLE_SETTLE = 2.0  # seconds a new title of the same window must hold
MAX_EVENTS = 2000  # window events per session (each rewrites session.json); then one saying so
NAME = "window-events"


@attrs.frozen
class WindowEventsOptions:
    record: str = option("program", "What each window event records: program (the name of the program in "
                                    "front), title (its window title too, never a masked window's), or off.",
                         validator=attrs.validators.in_(RECORD))


@attrs.frozen
class Shown:
    """What one window event writes; two of these that are equal are one event."""
    program: str  # "": no window in front
    title: str | None = None  # None: not written (record = "program", masked, or none in front)
    masked: bool = False
    window: int = attrs.field(default=0, eq=False)  # another window of the same names: the same event

    def event(self) -> tuple[str, dict[str, Any]]:
        if not self.program and not self.window:
            return "no window in front", {"program": ""}
        program = self.program or "(unknown program)"
        if self.masked:
            return f"{program} (title masked)", {"program": self.program, "masked": True}
        if self.title:
            return f"{program}: {self.title}", {"program": self.program, "title": self.title}
        return program, {"program": self.program}


def masks_of(session) -> Matcher:
    """The windows the ``mss`` source paints over (the only source that masks windows)."""
    options = session.options_for("mss")
    return Matcher(getattr(options, "mask_titles", []), getattr(options, "mask_classes", []))


class WindowEventsGuard:
    def __init__(self, options: WindowEventsOptions):
        self.options = options
        self.session: Any = None
        self.matcher = Matcher([], [])
        self.lock = threading.Lock()  # an event is written whole before sealing begins, or not at all
        self.writing = False  # from start() to before_seal()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.written = 0

    # -- the guard's part
    def start(self, session) -> None:
        if self.options.record == "off":
            return
        self.session, self.matcher, self.writing = session, masks_of(session), True
        # the desktop is asked on the thread: a slow X server never delays the recording's start
        self.thread = threading.Thread(target=self._run, name="recorder-window-events", daemon=True)
        self.thread.start()

    def before_seal(self) -> None:
        with self.lock:  # capture has ended: nothing is written after the recording's last frame
            self.writing = False
        self.stopping.set()

    def stop(self) -> None:
        self.before_seal()
        if self.thread is not None:
            self.thread.join(2.0)

    # -- the thread
    def _run(self) -> None:
        try:
            front = desktop.follow(dict(os.environ))
        except desktop.NoDesktop as exc:
            log.info("window events: %s", exc)
            return
        except desktop.Unsaid as exc:
            log.info("window events: %s", exc)
            self._write("window-events-unavailable", str(exc))
            return
        try:
            self._follow(front)
        except OSError as exc:  # the X server went away: the recording goes on (capture decides)
            self._write("window-events-lost", f"window events stopped: {exc}", level="warning")
        finally:
            front.close()

    def _follow(self, front: desktop.Follows) -> None:
        shown: Shown | None = None  # written last (None: nothing yet, or paused since)
        pending: Shown | None = None  # what would be written now
        in_front = held = 0.0  # since when this window has been in front, and what it shows held
        said_unknown = False
        while not self.stopping.wait(POLL):
            seen = front.poll()
            now = time.monotonic()
            if isinstance(seen, Unknown):
                if not said_unknown:
                    said_unknown = self._write("window-events-unavailable", seen.why)
                pending = None
                continue
            value = self._shown(seen)
            if pending is None or value.window != pending.window:
                in_front = now
            if value != pending:
                held = now
            pending = value
            if self.session.paused is not None:
                shown = None  # written again when the recording resumes
                continue
            if pending == shown:
                continue
            # Another window: once it has been in front long enough, with whatever title it has then
            # (one whose title never stops changing is still written). The same window's new title:
            # once that title has held.
            if shown is None or pending.window != shown.window:
                if now - in_front < SETTLE:
                    continue
            elif now - held < TITLE_SETTLE:
                continue
            if self.written >= MAX_EVENTS:
                self._write("window-events-limited", f"more than {MAX_EVENTS} window changes: the rest of this "
                                                     "session's are not recorded", level="warning")
                return
            text, data = pending.event()
            if self._write("window", text, **data):
                self.written += 1
            shown = pending

    def _shown(self, seen: Front | None) -> Shown:
        if seen is None:
            return Shown("")
        program = clean(seen.program, PROGRAM_MAX)
        if self.options.record != "title":
            return Shown(program, window=seen.window)
        title = clean(seen.title, TITLE_MAX)
        # the title as written is matched too: a pattern that fits it only once cleaned still hides it
        if self.matcher.matches((*seen.titles, seen.title, title), seen.classes):
            return Shown(program, masked=True, window=seen.window)
        return Shown(program, title or None, window=seen.window)

    def _write(self, kind: str, text: str, level: str = "info", **data: Any) -> bool:
        with self.lock:
            if not self.writing:
                return False
            self.session.add_event(kind, text, level=level, by=NAME, **data)
            return True
