"""The data path: a capture thread and an encoder thread joined by a bounded queue.

Frames never pass through hooks. The capture thread paces itself from a
monotonic clock and stamps each frame with its capture time; a frame that
cannot be taken on time, or finds the queue full, is counted as dropped,
never stretched over. A loop that did not run at all for a while (the computer
slept) is a gap between parts, not dropped frames. Changed rows are never dropped: capture waits for the
encoder instead, and the slots it misses are the ones counted.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from typing import Callable

from recorder.components import Paced
from recorder.errors import SourceUnavailable
from recorder.session.model import Session
from recorder.values import Changes

log = logging.getLogger("recorder.capture")

# Bounds memory whatever the resolution: a whole 4K frame and some, or
# several frames of changed rows, to ride out an encoder hiccup (a keyframe).
QUEUE_BYTES = 24 * 1024 * 1024


# Put in the queue when a pause begins: the encoder seals the part, so that the
# pause is a gap between parts (replayed, exported and recovered like one).
PAUSE = ("pause",)

# How often a source that cannot grab for now (a lock screen) is asked again.
RETRY_UNAVAILABLE = 0.25

# A capture loop this late for its slot did not fall behind: it did not run at all (the
# computer slept or hibernated, or the process was stopped). Its missing slots are not
# dropped frames but a gap, cut between parts as a pause is; a mere stall (a slow grab,
# an encoder catching up) is far shorter.
SUSPENDED = 10.0


def _size(item) -> int:
    if item is None or item is PAUSE:
        return 0
    frame = item[0]
    if isinstance(frame, Changes):
        return sum(len(rows) for _, rows in frame.bands)
    return len(frame)


class FrameQueue(queue.Queue):
    """A queue bounded by the bytes of the frames it holds (plus the one that
    crosses the bound) and by a second of frames: changed rows are small,
    whole frames at 4K are 33 MB, and frames still queued are what a crash
    loses."""

    def __init__(self, fps: float, max_bytes: int = QUEUE_BYTES):
        self.floor = max_bytes // max(2, round(fps))  # what any item counts as, at least
        super().__init__(max_bytes)

    def _init(self, maxsize: int) -> None:
        self.queue = collections.deque()
        self.bytes = 0

    def _qsize(self) -> int:
        return self.bytes

    def _put(self, item) -> None:
        cost = max(self.floor, _size(item))
        self.queue.append((item, cost))
        self.bytes += cost

    def _get(self):
        item, cost = self.queue.popleft()
        self.bytes -= cost
        return item


class Capture(threading.Thread):
    def __init__(self, session: Session, source, fps: float, frames: FrameQueue,
                 until: float | None, on_error: Callable[[BaseException], None], *, heartbeat: float = 0.0,
                 wall_clock: Callable[[], float] = time.time):
        super().__init__(name="recorder-capture", daemon=True)
        self.session, self.source, self.fps = session, source, fps
        self.frames, self.until, self.on_error = frames, until, on_error
        self.heartbeat = heartbeat  # > 0: skip unchanged frames, but send one at least this often
        self.wall_clock = wall_clock
        self.looked: tuple[float, float] | None = None  # (offset, wall clock) when last looked
        self.stop = threading.Event()
        self.held: tuple | None = None  # the last unchanged frame not sent
        self.last: tuple | None = None  # the last frame sent, and its time
        # Still spans (told to the session): the screen has shown the same picture
        # since ``changed_at``, up to the last grab at ``grabbed_at``.
        self.changed_at: float | None = None
        self.grabbed_at: float | None = None

    def run(self) -> None:
        try:
            self._loop()
            self._still_ends()  # a screen still until the end was still up to the end
            if self.held is not None:
                self.session.unchanged -= 1
                self._send(*self.held)  # the last frame, so the recording lasts to the end
        except BaseException as exc:
            self.on_error(exc)
        finally:
            self.frames.put(None)  # tells the encoder thread there is nothing more

    def _loop(self) -> None:
        interval = 1.0 / self.fps
        slot = 0
        start = self.session.offset()
        # A source that is not the screen may run faster than real time (soak
        # tests, benchmarks): its frames are timed as if taken on schedule.
        realtime = self.source.realtime if isinstance(self.source, Paced) else True
        while not self.stop.is_set():
            if self.session.paused is not None:
                self._pause()
                start = self.session.offset() - slot * interval  # the schedule goes on from now
                continue
            due = start + slot * interval
            if self.until is not None and slot * interval >= self.until:
                self.session.request_end("duration")
                return
            if realtime:
                wait = due - self._now()
                if wait > 0:
                    if self.stop.wait(wait):
                        return
                    late = self._now() - due  # the computer may have slept during the wait
                else:
                    late = -wait
                if late > SUSPENDED:
                    self._suspended(late)
                    # the schedule goes on from now: --duration counts recorded time
                    start = self.session.offset() - slot * interval
                    continue
                missed = int(late / interval) if wait <= 0 else 0  # whole slots we are late for
                if missed:
                    self.session.dropped += missed
                    slot += missed
                    continue
            if self.session.paused is not None:  # paused while waiting for the slot: grab nothing
                continue
            pts = self.session.offset() if realtime else due
            try:
                frame = self.source.grab()
            except SourceUnavailable as exc:
                frame = self._outage(str(exc), None if self.until is None else start + self.until)
                if frame is None:  # the session ended, or a pause began, before the screen came back
                    continue
                pts = self.session.offset()
                start = pts - slot * interval  # the schedule goes on from now, as after a pause
            slot += 1
            self.session.captured += 1
            same = self._same(frame)
            self._track_still(same, pts)
            if same and pts - self.last[1] < self.heartbeat:
                self.held = (frame, pts)
                self.session.unchanged += 1
                continue
            self.held = None
            self._send(frame, pts, wait=not realtime)

    def _pause(self) -> None:
        """Nothing is grabbed until the pause ends (or the session does)."""
        self._still_ends()  # the pause is a gap of its own, not idle screen
        if self.held is not None:  # the part lasts until the pause began
            self.session.unchanged -= 1
            self._send(*self.held, wait=True)
            self.held = None
        self.frames.put(PAUSE)
        self.last = None  # the first frame after the pause is sent whatever it shows
        while self.session.paused is not None and not self.stop.is_set():
            self.session.wait_unpaused(0.1)

    def _now(self) -> float:
        """The session's offset, after a sleep its monotonic clock did not see.

        Windows' monotonic clock (GetTickCount64) counts sleep; macOS's and Linux's stop
        while the computer sleeps. There the wall clock shows the sleep: the session's
        clock is moved on by it, so that timeline offsets keep following the wall clock
        (the event log, the parts and what a viewer sees at a given time agree). A wall
        clock set back is not a sleep, and one set forward by more than SUSPENDED at once
        reads as one (a gap in the timeline, nothing lost)."""
        offset, wall = self.session.offset(), self.wall_clock()
        if self.looked is not None:
            unseen = (wall - self.looked[1]) - (offset - self.looked[0])
            if unseen > SUSPENDED:
                self.session._t0 -= unseen  # noqa: SLF001 - the session clock has no setter; see above
                offset += unseen
        self.looked = (offset, wall)
        return offset

    def _end_part_here(self) -> None:
        """The part ends with the picture last seen (a frame held back as unchanged is sent
        first): what follows is a gap between parts, never a stale screen stretched over it."""
        self._still_ends()
        if self.held is not None:
            self.session.unchanged -= 1
            self._send(*self.held, wait=True)
            self.held = None
        self.frames.put(PAUSE)

    def _suspended(self, late: float) -> None:
        """The loop did not run for ``late`` seconds: the part ends with the picture last
        seen (never stretched over the sleep), the gap is an event, not dropped frames."""
        self._end_part_here()
        self.last = None  # the first frame after the wake is sent whatever it shows
        now = self.session.offset()
        log.warning("capture: not recording for %.0f s (the computer slept, or recorder was stopped)", late)
        self.session.add_event("suspended", f"not recording for {late:.0f} s: the computer slept, or recorder "
                               "was stopped", level="warning", by="capture", start=round(now - late, 3),
                               end=round(now, 3))

    def _outage(self, reason: str, deadline: float | None = None):
        """The source cannot grab for now (Windows' secure desktop, a lock screen). The
        part ends with the picture last seen, so that the outage is a gap between parts
        (as a pause is) and never shows a stale screen; grabbing is tried again every
        RETRY_UNAVAILABLE seconds. Returns the first frame grabbed after the outage, or
        None if the session ends (``--duration`` reached at ``deadline`` included) or a
        pause begins first."""
        self._end_part_here()
        self.last = None  # the first frame after the outage is sent whatever it shows
        began = self.session.offset()
        log.warning("capture: the screen cannot be grabbed for now (%s); trying again", reason)
        self.session.add_event("capture-unavailable", reason, level="warning", by="capture")
        while not self.stop.wait(RETRY_UNAVAILABLE) and self.session.paused is None:
            if deadline is not None and self.session.offset() >= deadline:
                self.session.request_end("duration")
                return None
            try:
                frame = self.source.grab()
            except SourceUnavailable:
                continue
            self.session.add_event("capture-available", f"after {self.session.offset() - began:.1f} s",
                                   by="capture")
            return frame
        return None

    def _same(self, frame) -> bool:
        """The frame shows what the last one sent showed. Such a frame adds nothing but
        encoding work (it is held back until the heartbeat is due; the timestamps of the
        next frame keep the timeline right: variable frame rate). Only looked at when
        skipping unchanged frames: otherwise nothing compares frames at all."""
        last = self.last
        if self.heartbeat <= 0 or last is None:
            return False
        if isinstance(frame, Changes):
            return not frame.bands
        return frame is not last[0] and frame == last[0]

    def _track_still(self, same: bool, pts: float) -> None:
        """A still span starts at a changed frame and ends at the next changed one
        (the session keeps only those long enough to matter)."""
        if self.heartbeat <= 0:
            return
        if not same:
            if self.changed_at is not None:
                self.session.add_still(self.changed_at, pts)
            self.changed_at = pts
        self.grabbed_at = pts

    def _still_ends(self) -> None:
        """Grabbing stops (a pause, the end): the span open since the last change ends at the last grab."""
        if self.changed_at is not None and self.grabbed_at is not None:
            self.session.add_still(self.changed_at, self.grabbed_at)
        self.changed_at = self.grabbed_at = None

    def _send(self, frame, pts: float, wait: bool = False) -> None:
        self.last = (frame, pts)
        if wait or isinstance(frame, Changes):
            # A change must not be dropped, or the picture would stay wrong: wait
            # for the encoder instead, and the slots missed meanwhile count as dropped.
            self.frames.put((frame, pts))
            return
        try:
            self.frames.put_nowait((frame, pts))
        except queue.Full:
            self.session.dropped += 1


class Encode(threading.Thread):
    """Feeds frames to the current part writer; ``parts`` opens and seals parts."""

    def __init__(self, frames: FrameQueue, parts, on_error: Callable[[BaseException], None]):
        super().__init__(name="recorder-encode", daemon=True)
        self.frames, self.parts, self.on_error = frames, parts, on_error

    def run(self) -> None:
        try:
            while (item := self.frames.get()) is not None:
                if item is PAUSE:
                    self.parts.cut()
                    continue
                frame, pts = item
                self.parts.write(frame, pts)
        except BaseException as exc:
            self.on_error(exc)
            self._drain()

    def _drain(self) -> None:
        # Keep the capture thread from blocking on a full queue after a failure.
        while self.frames.get() is not None:
            pass


def capture_until_end(session: Session, source, parts, *, fps: float, duration: float | None, heartbeat: float,
                      source_failed: Callable[[BaseException], None],
                      encoder_failed: Callable[[BaseException], None], tick: Callable[[], None],
                      budget: float, source_stuck: Callable[[], None]) -> None:
    """Capture and encode until the session is asked to end, then let the encoder take
    every frame captured. A source still stuck in ``grab()`` after ``budget`` seconds is
    left behind (``source_stuck`` says so): what was captured is sealed without it."""
    frames = FrameQueue(fps)
    capture = Capture(session, source, fps, frames, duration, source_failed, heartbeat=heartbeat)
    encode = Encode(frames, parts, encoder_failed)
    encode.start()
    capture.start()
    wait_for_end(session, tick)
    capture.stop.set()
    capture.join(budget)
    if capture.is_alive():
        source_stuck()
        frames.put(None)
    encode.join()


def wait_for_end(session: Session, tick: Callable[[], None], period: float = 0.5) -> None:
    """Block the main thread until the session is asked to end, calling ``tick`` for the status line."""
    while not session.wait_end(period):
        tick()
    tick()
