"""Reading the text on screen while recording: settled screens, changed rectangles only,
at the lowest priority and within a CPU budget, never at the recording's cost.

The encoder thread calls ``see`` with every frame it writes (the whole picture, and
what changed): cheap bookkeeping, and when the screen has settled (a change, then
``SETTLE`` seconds with none) a copy of the rectangles that changed since the last
settled screen goes into a one-slot mailbox. The indexing thread takes it, waits
until the budget pays for it (its CPU at most ``share`` of what the rest of the
process uses) and has the indexer read it. Nothing waits for that thread: when
it is behind, the next settled screen replaces what it has not taken yet, the
region still to read grows to cover both, and the part's progress stops where
the first screen was skipped so that the catch-up after the end (or ``recorder
index``) reads those moments from the part itself.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any

from recorder.errors import describe
from recorder.host.isolation import running
from recorder.session.model import Session
from recorder.store.text_regions import merge, rows_as_rects
from recorder.store.text_writer import IndexWriter
from recorder.values import Screen

log = logging.getLogger("recorder")
SETTLE = 0.5  # seconds without a change after one: the screen has settled
SLOW = 30.0  # seconds: an indexer this slow on one screen is stopped for the session
PER_PIXEL = 1e-6  # CPU seconds a pixel costs to read, until measured (Tesseract: a dense 1280x720 in ~1 s)


def lowest_priority() -> None:
    """This thread only (Linux schedules threads as tasks: nice 19 for its id alone); macOS
    and Windows keep normal priority, the CPU budget still holds."""
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except OSError:
            pass


class CpuBudget:
    """This thread uses at most ``share`` of the CPU the rest of the process uses (capture,
    encoding, sealing), measured since it started: it waits until recording has paid for it."""

    def __init__(self, share: float):
        self.share = share
        self.mine, self.process = time.thread_time(), time.process_time()

    def wait(self, stop: threading.Event, upcoming: float) -> None:
        """Until what this thread spent and ``upcoming`` CPU seconds more are paid for (or ``stop``)."""
        while not stop.is_set():
            mine = time.thread_time() - self.mine
            others = (time.process_time() - self.process) - mine
            if mine + upcoming <= self.share * others + 0.02:  # 20 ms of slack: a small change at once
                return
            stop.wait(0.1)


class _Snapshot:
    def __init__(self, offset: float, part: str, rects: list, crops: list[bytes], skipped: float | None):
        self.offset, self.part, self.rects, self.crops = offset, part, rects, crops
        self.skipped = skipped  # the offset of the first settled screen it stands in for, if any


class LiveIndexer:
    def __init__(self, session: Session, name: str, plugin: str, indexer: Any, writer: IndexWriter,
                 width: int, height: int, share: float):
        self.session, self.name, self.plugin, self.indexer, self.writer = session, name, plugin, indexer, writer
        self.width, self.height, self.stride = width, height, width * 4
        self.share = share
        self.pending: list = []  # changed since the last settled screen (encoder thread)
        self.changed_at: float | None = None
        self.previous = None  # the last whole frame seen, when sources send whole frames
        self.mailbox: _Snapshot | None = None
        self.lock = threading.Condition()
        self.stop = threading.Event()
        self.ending = False  # after capture: no budget, the catch-up deadline instead
        self.failed = False
        self.behind: dict[str, float] = {}  # part -> offset of the first screen skipped in it
        self.busy_since: float | None = None
        self.per_pixel = PER_PIXEL
        self.in_hand: _Snapshot | None = None  # taken from the mailbox, not yet written
        self.last: tuple | None = None  # the picture last seen (the encoder's own) and its part
        self.canvas = bytearray(self.stride * height)
        self.thread = threading.Thread(target=self._run, name="recorder-index", daemon=True)
        self.thread.start()

    # -- the encoder thread: cheap, never waits --------------------------------------
    def see(self, picture, pts: float, rows, rects, part: str) -> None:
        """A frame written to ``part``: ``rows`` the changed row ranges (None: unknown),
        ``rects`` the changed rectangles where the source knows them."""
        if self.failed:
            return
        self.check()
        if rows is None:
            if self.previous is not None and picture == self.previous:
                rows = []
            else:
                rects = [(0, 0, self.width, self.height)]
            self.previous = bytes(picture) if not isinstance(picture, bytes) else picture
        self.last = (picture, part)
        if rects or rows:
            self.pending += list(rects) if rects else rows_as_rects(rows, self.width)
            self.changed_at = pts
            return
        if self.pending and self.changed_at is not None and pts - self.changed_at >= SETTLE - 0.05:
            self._settled(picture, self.changed_at, part)

    def _settled(self, picture, offset: float, part: str) -> None:
        with self.lock:
            waiting = self.mailbox
            skipped = None
            if waiting is not None:  # the thread is behind: one read covers both screens
                self.pending += waiting.rects
                skipped = waiting.skipped if waiting.skipped is not None else waiting.offset
                if waiting.part != part:
                    self.behind.setdefault(waiting.part, skipped)
            rects = merge(self.pending, self.width, self.height)
            crops = [self._crop(picture, rect) for rect in rects]
            self.mailbox = _Snapshot(offset, part, rects, crops, skipped)
            self.pending = []
            self.lock.notify()

    def _crop(self, picture, rect) -> bytes:
        x, y, w, h = rect
        stride = self.stride
        return b"".join(bytes(picture[(y + r) * stride + x * 4:(y + r) * stride + (x + w) * 4]) for r in range(h))

    # -- the indexing thread ---------------------------------------------------------
    def _run(self) -> None:
        lowest_priority()
        budget = CpuBudget(self.share)
        while True:
            with self.lock:
                while self.mailbox is None and not self.stop.is_set():
                    self.lock.wait(0.5)
                snapshot, self.mailbox = self.mailbox, None
                self.in_hand = snapshot
            if snapshot is None or (self.stop.is_set() and not self.ending):
                return  # the end left no time to read: recorder index reads it from the part
            pixels = sum(w * h for _, _, w, h in snapshot.rects)
            if not self.ending:
                budget.wait(self.stop, self.per_pixel * pixels)
                if self.stop.is_set() and not self.ending:
                    return
            began = time.thread_time()
            if not self._read(snapshot):
                return
            if pixels:  # what reading costs here, for the next wait
                self.per_pixel = 0.5 * self.per_pixel + 0.5 * (time.thread_time() - began) / pixels
            self.in_hand = None

    def _read(self, snap: _Snapshot) -> bool:
        for rect, crop in zip(snap.rects, snap.crops):
            x, y, w, h = rect
            for r in range(h):
                at = (y + r) * self.stride + x * 4
                self.canvas[at:at + w * 4] = crop[r * w * 4:(r + 1) * w * 4]
        self.busy_since = time.monotonic()
        try:
            with running(self.plugin):
                seen = self.indexer.read(Screen(self.width, self.height, self.stride, self.canvas), list(snap.rects))
            if snap.skipped is not None:
                self.behind.setdefault(snap.part, snap.skipped)
            behind = self.behind.get(snap.part)
            self.writer.step(snap.part, snap.offset, seen, indexed_to=None if behind is not None else snap.offset)
        except Exception as exc:  # noqa: BLE001 - a failing indexer never costs the recording
            self._give_up(f"failed: {describe(exc)}")
            return False
        finally:
            self.busy_since = None
        return True

    def _give_up(self, why: str) -> None:
        if self.failed:
            return
        self.failed = True
        line = f"indexer '{self.name}' {why}; the recording goes on without a text index (recorder index reads it later)"
        log.warning("%s", line)
        self.session.add_event("indexing-stopped", line, level="warning", by=self.plugin)

    def check(self) -> None:
        """Encoder thread, with each frame: an indexer stuck on one screen is named and left behind."""
        since = self.busy_since
        if since is not None and time.monotonic() - since > SLOW:
            self._give_up(f"took more than {SLOW:g} s on one screen")

    # -- the end -------------------------------------------------------------------
    def end(self, deadline: float) -> bool:
        """Capture has ended: read what is waiting without the budget, until ``deadline``
        (monotonic). True when the thread finished (its last screen read)."""
        self.ending = deadline > time.monotonic()  # no time: the thread stops, the parts keep the rest
        if self.pending and self.last is not None and self.changed_at is not None and not self.failed:
            self._settled(self.last[0], self.changed_at, self.last[1])  # nothing changes after the end
        self.stop.set()
        with self.lock:
            self.lock.notify()
        if self.failed:
            return not self.thread.is_alive()  # a stuck indexer is not waited for
        self.thread.join(max(0.0, deadline - time.monotonic()))
        return not self.thread.is_alive()

    def part_sealed(self, part: str, last_offset: float) -> None:
        """A part is sealed: read to its end unless a screen of it was skipped (the catch-up reads it then)."""
        if self.failed or part in self.behind:
            return
        known = self.writer.progress(part)
        waiting, in_hand = self.mailbox, self.in_hand
        if self.pending or any(s is not None and s.part == part for s in (waiting, in_hand)):
            # a screen of it still to read: the catch-up reads the part's end from the file
            self.behind.setdefault(part, known[0] if known else -1.0)
            return
        try:
            self.writer.step(part, last_offset, [], indexed_to=known[0] if known else last_offset, complete=True)
        except Exception as exc:  # noqa: BLE001
            self._give_up(f"could not be written: {describe(exc)}")

