"""The session: what plugins see of a recording in progress.

Plugins report problems and requests here (``warn``, ``notify``,
``request_end``); core decides what happens and always seals the recording.
Everything here is safe to call from any thread.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import attrs
from recorder.errors import UsageError
from recorder.host.isolation import running_plugin
from recorder.values import Notification, SaveChoice

STILL_MIN = 1.0  # seconds: a shorter still stretch is a pause in typing, not idle
STILL_MAX = 1000  # still spans kept per session (the manifest is rewritten at every event)


@attrs.define
class Event:
    t: float  # seconds since the session started
    time: str  # wall clock, ISO 8601
    kind: str
    text: str = ""
    level: str = "info"
    by: str = "recorder"
    data: dict[str, Any] = attrs.Factory(dict)  # structured details, e.g. a gap's start and end


HOLD, RELEASE = "hold", "release"  # a legal hold's events (recorder hold / release, the control channel)


def hold_in_force(events: list[Event]) -> Event | None:
    """The ``hold`` event that holds the session now (the last of its holds and releases), or None."""
    last = next((e for e in reversed(events) if e.kind in (HOLD, RELEASE)), None)
    return last if last is not None and last.kind == HOLD else None


@attrs.define
class Part:
    index: int
    file: str
    start: float  # offset of its first frame on the session timeline
    state: str = "writing"  # writing, sealed, incomplete
    frames: int = 0
    duration: float = 0.0
    size: int = 0
    sha256: str = ""
    previous_sha256: str = ""  # the hash chain: deleting or reordering a part is detected
    encoder: str = ""  # the encoder component that wrote it: crash recovery calls its repair()
    # The part stream (a plugin, see recorder_register_part_streams) its bytes went through on
    # their way to the file, and what that stream recorded about it; "": the encoder wrote the file.
    stream: str = ""
    stream_meta: dict[str, Any] = attrs.Factory(dict)
    # Files beside the part that belong to it (a part stream's), name -> SHA-256: verified,
    # listed in the receipt, moved and removed with the part.
    sidecars: dict[str, str] = attrs.Factory(dict)


@attrs.frozen
class TextIndexEntry:
    """session.json's ``text_index``: the session's text index file (text-index.sqlite, or its
    encrypted form), its hash and size, what read it, and whether every part was read."""
    file: str
    sha256: str
    size: int
    engine: str
    complete: bool


@attrs.define
class PartWrap:
    """How a session's parts are written: through the part stream ``stream``, which records
    ``meta`` on every part (set by a plugin with ``Session.wrap_parts`` before recording)."""
    stream: str
    meta: dict[str, Any] = attrs.Factory(dict)
    writer: Any = attrs.field(default=None, eq=False, repr=False)  # the stream itself, found by core


@attrs.frozen
class Pause:
    by: str
    reason: str
    since: float  # offset on the session timeline


def _set(event: threading.Event) -> threading.Event:
    event.set()
    return event


@attrs.define(eq=False)
class Session:
    profile: str
    role: str
    id: str = attrs.field(factory=lambda: uuid.uuid4().hex)
    host: str = attrs.field(factory=socket.gethostname)
    started_at: datetime = attrs.field(factory=lambda: datetime.now(timezone.utc).astimezone())
    folder: Path | None = None
    places: list[Path] = attrs.Factory(list)  # every folder the session writes to (for disk guards)
    output_dir: str = ""
    save_to: str = ""  # --save-to: the answer to the save prompt, given in advance
    ended_at: datetime | None = None
    end_reason: str | None = None
    parts: list[Part] = attrs.Factory(list)
    events: list[Event] = attrs.Factory(list)
    frames: int = 0
    dropped: int = 0
    captured: int = 0  # grabbed from the source, including unchanged frames not encoded
    unchanged: int = 0
    # When the screen was still: (start, end) offsets, from a change to the next (see add_still)
    still: list[tuple[float, float]] = attrs.Factory(list)
    # The text index beside the parts, once indexing completed or stopped (session.json's
    # ``text_index``: file, sha256, size, engine, complete); None: no index
    text_index: "TextIndexEntry | None" = None
    resumed: bool = False  # continues a session interrupted by a restart or a crash
    support_id: str = ""  # the support tool's session id (--session-id)
    labels: dict[str, str] = attrs.Factory(dict)  # ticket, customer, rep, portal... (--label)
    # the part stream every part is written through (set by a plugin's guard; None: none)
    part_wrap: PartWrap | None = None
    _t0: float = attrs.field(factory=time.monotonic, alias="t0")
    _end: threading.Event = attrs.Factory(threading.Event)
    _sealed: threading.Event = attrs.Factory(threading.Event)
    _lock: threading.Lock = attrs.Factory(threading.Lock)
    _listeners: list[Callable[[str, Any], None]] = attrs.Factory(list)
    _asker: Callable[[Path, str, float | None], SaveChoice] | None = None
    _options: dict[str, Any] = attrs.Factory(dict)
    _paused: "Pause | None" = None
    _unpaused: threading.Event = attrs.Factory(lambda: _set(threading.Event()))

    def options_for(self, name: str) -> Any:
        """The profile's validated options for ``name`` (a component, or a
        plugin that registered options with ``recorder_register_options``);
        None when it has none or the profile does not configure it."""
        return self._options.get(name)

    def wrap_parts(self, stream: str, meta: dict[str, Any] | None = None) -> None:
        """Write every part of this session through the part stream ``stream`` (registered with
        ``recorder_register_part_streams``), which records ``meta`` on each part. Call it before
        recording starts (a guard's ``preflight``); one part stream per session."""
        if self.part_wrap is not None and self.part_wrap.stream != stream:
            raise UsageError(f"the parts are already written through part stream '{self.part_wrap.stream}': "
                             f"'{stream}' cannot wrap them too (one part stream per session)")
        self.part_wrap = PartWrap(stream, dict(meta or {}))

    @property
    def short_id(self) -> str:
        return self.id[:8]

    def offset(self) -> float:
        return time.monotonic() - self._t0

    def subscribe(self, listener: Callable[[str, Any], None]) -> None:
        """Core's wiring: ``listener(kind, payload)`` for events and notifications."""
        self._listeners.append(listener)

    def add_event(self, kind: str, text: str = "", *, level: str = "info", by: str | None = None,
                  **data: Any) -> Event:
        """Add an event to the timeline; ``by`` defaults to the plugin whose hook is running."""
        return self._append(Event(round(self.offset(), 3), datetime.now(timezone.utc).astimezone().isoformat(),
                                  kind, text, level, by or running_plugin.get(), data))

    def _append(self, event: Event) -> Event:
        with self._lock:
            self.events.append(event)
        self._emit("event", event)
        return event

    def notify(self, level: str, text: str, *, audience: tuple[str, ...] = ("rep", "customer"),
               by: str | None = None, kind: str = "message") -> None:
        """Tell people in the session; also recorded as an event on the timeline."""
        by = by or running_plugin.get()
        self.add_event("notification", text, level=level, by=by, **({"notice": kind} if kind != "message" else {}))
        self._emit("notification", Notification(level, text, tuple(audience), by, kind))

    def warn(self, text: str, *, audience: tuple[str, ...] = ("rep", "customer"), by: str | None = None) -> None:
        self.notify("warning", text, audience=audience, by=by)

    def request_end(self, reason: str, *, by: str | None = None, text: str = "") -> None:
        """Ask core to end the session; the first reason given is the one kept."""
        with self._lock:
            first = self.end_reason is None
            if first:
                self.end_reason = reason
        if first:
            self.add_event("end-requested", text or reason, by=by)
        self._end.set()

    def overrule_end(self, reason: str, *, by: str, text: str) -> None:
        """Core only: a failure while ending (the disk filled during the final seal)
        is what the session's end must say, whatever was asked for before."""
        with self._lock:
            previous, self.end_reason = self.end_reason, reason
        if previous != reason:
            self.add_event("end-reason", f"{text} (the end was first asked for as {previous!r})", by=by,
                           level="error")
        self._end.set()

    # -- pause: while paused nothing is grabbed --------------------------------
    @property
    def paused(self) -> "Pause | None":
        return self._paused

    def pause(self, by: str, reason: str = "") -> bool:
        """Stop grabbing until ``unpause``; False if already paused or ending."""
        with self._lock:
            if self._paused is not None or self.ending:
                return False
            self._paused = Pause(by, reason, round(self.offset(), 3))
            self._unpaused.clear()
        self.add_event("paused", f"paused by {by}" + (f": {reason}" if reason else ""), by=by, reason=reason)
        self.notify("info", f"Recording is paused (by {by}).", by="recorder")
        return True

    def unpause(self, by: str) -> bool:
        """Grab again; False if not paused."""
        with self._lock:
            pause, self._paused = self._paused, None
            if pause is None:
                return False
            self._unpaused.set()
        self.add_event("unpaused", f"recording again after {self.offset() - pause.since:.1f} s paused "
                                   f"(resumed by {by})", by=by, paused_at=pause.since)
        self.notify("info", f"Recording has resumed (by {by}).", by="recorder")
        return True

    def wait_unpaused(self, timeout: float) -> bool:
        return self._unpaused.wait(timeout)

    # -- still screen: what the capture thread saw not change ---------------------
    def add_still(self, start: float, end: float) -> None:
        """Note that the screen did not change from ``start`` to ``end`` (capture thread).

        Spans shorter than ``STILL_MIN`` are not kept. At most ``STILL_MAX`` are:
        then the shortest goes, since long stretches are the ones a reviewer skips."""
        if end - start < STILL_MIN:
            return
        with self._lock:
            self.still.append((round(start, 3), round(end, 3)))
            if len(self.still) > STILL_MAX:
                shortest = min(range(len(self.still)), key=lambda i: self.still[i][1] - self.still[i][0])
                del self.still[shortest]

    def still_spans(self) -> list[tuple[float, float]]:
        with self._lock:
            return list(self.still)

    def mark(self, kind: str, text: str, by: str, data: dict[str, Any]) -> Event:
        """An event from the support tool (chat line, remote control granted...), data kept as given
        (``add_event`` takes data as keywords, which a client's keys must not collide with)."""
        return self._append(Event(round(self.offset(), 3), datetime.now(timezone.utc).astimezone().isoformat(),
                                  kind, text, "info", by, dict(data)))

    def ask_save_location(self, default: Path, prefer: str = "auto", timeout: float | None = None) -> SaveChoice:
        """For sinks: ask the user where to save (through the prompt plugins),
        re-asking until the answer is usable or the user gives up. With a
        ``timeout`` (a restart is coming) only a prompt that can be answered in
        time asks."""
        if self._asker is None:
            return SaveChoice(default, "remembered")
        return self._asker(default, prefer, timeout)

    @property
    def ending(self) -> bool:
        return self._end.is_set()

    def wait_end(self, timeout: float | None) -> bool:
        return self._end.wait(timeout)

    def mark_sealed(self) -> None:
        self._sealed.set()

    def wait_sealed(self, timeout: float | None) -> bool:
        """For shutdown handlers that must hold the machine until the last part is sealed."""
        return self._sealed.wait(timeout)

    def _emit(self, kind: str, payload: Any) -> None:
        for listener in list(self._listeners):
            try:
                listener(kind, payload)
            except Exception:  # whoever added the event (a guard ending the session) must go on
                logging.getLogger("recorder").exception("while handling a session %s", kind)
