"""The worker that empties the queue: beside recording, never in its way.

It runs at the lowest CPU priority, at most ``max_rate`` bytes a second, one
object at a time, and never writes to the recording's disk except the queue's
own small files. A failure is retried with backoff and reported once per
object (an event on the timeline, a notice to the person at this machine);
it never ends the recording.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from recorder import platform
from recorder.plugins.archive import queue, s3

log = logging.getLogger("recorder")
BACKOFF = (1.0, 2.0, 5.0, 15.0, 60.0)
LEGAL_HOLD = "legal-hold"  # a queue entry that puts the session's objects under a legal hold (or off)


# macOS's <sys/resource.h>: "#define PRIO_DARWIN_THREAD 3 /* Second argument is always 0
# (current thread) */" and "#define PRIO_DARWIN_BG 0x1000" (background: lowest CPU and I/O
# priority). Python names them only from 3.12 on.
PRIO_DARWIN_THREAD = 3
PRIO_DARWIN_BG = 0x1000


def lowest_priority() -> None:
    """This thread only, so that recording keeps the CPU. Linux schedules threads as
    tasks: PRIO_PROCESS with the thread's id is nice 19 for it alone. macOS: a thread id
    is a Mach id, no process id, so the same call would target the wrong process or fail
    (ESRCH); PRIO_DARWIN_THREAD puts the calling thread in the background band instead.
    Windows has no setpriority: the thread keeps normal priority."""
    if sys.platform == "win32" or platform.is_windows():
        return
    try:
        if platform.is_macos():
            os.setpriority(getattr(os, "PRIO_DARWIN_THREAD", PRIO_DARWIN_THREAD), 0,
                           getattr(os, "PRIO_DARWIN_BG", PRIO_DARWIN_BG))
        else:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except OSError:
        pass


class CpuBudget:
    """While a recording runs, this thread uses at most ``share`` of the CPU the rest of
    the process (capture, encoding, sealing) uses: it waits until the recording has
    spent enough to pay for the next megabyte. With no recording running: no limit."""

    def __init__(self, share: float, recording: Callable[[], bool]):
        self.share, self.recording = share, recording
        self.mine = self.process = None

    def __call__(self, upcoming: float = 0.0) -> None:
        """Wait until the budget pays for what was spent and ``upcoming`` CPU seconds more."""
        while self.recording():
            mine, process = time.thread_time(), time.process_time()
            if self.mine is None:
                self.mine, self.process = mine, process
            spent, others = mine - self.mine, (process - self.process) - (mine - self.mine)
            if spent + upcoming <= self.share * others + 0.02:  # 20 ms of slack: a few megabytes' hashing
                return
            time.sleep(0.1)
        self.mine = None  # measured afresh when the next recording starts


def locate(entry: queue.Entry, find: Callable[[str], Path | None]) -> Path | None:
    """The file to upload: where it was queued, or where its session was saved since."""
    path = entry.source()
    if path.is_file():
        return path
    folder = find(entry.session_id)
    if folder is not None and (folder / entry.name).is_file():
        return folder / entry.name
    return None


class Uploader:
    def __init__(self, *, chunk_size: int, max_rate: int, verify: str,
                 find: Callable[[str], Path | None], report: Callable[[queue.Entry, str], None],
                 uploaded: Callable[[queue.Entry], None] = lambda entry: None,
                 budget: Callable[..., None] = lambda upcoming=0.0: None,
                 held: Callable[[str], bool] = lambda session_id: False):
        self.chunk_size, self.max_rate, self.verify, self.budget = chunk_size, max_rate, verify, budget
        self.find, self.report, self.uploaded = find, report, uploaded
        self.held = held  # the session is under a legal hold: each object it uploads gets one
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.passes = threading.Condition()
        self.requested = 0  # pokes so far
        self.completed = -1  # the poke count when the last full pass over the queue began
        self.outcome = (0, 0)  # that pass's (uploaded, failed)
        self.thread: threading.Thread | None = None
        self.clients: dict[tuple, object] = {}
        self.legal_holds: list[tuple[queue.Entry, int]] = []  # applied: (entry, objects)

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="recorder-archive", daemon=True)
        self.thread.start()

    def poke(self) -> None:
        with self.passes:
            self.requested += 1
        self.wake.set()

    def stop(self, wait: float) -> None:
        """Up to ``wait`` seconds of passes over the queue, for as long as they make progress
        (a part that failed once is retried; an endpoint that takes nothing is not waited
        for); what is left waits for the next start."""
        deadline = time.monotonic() + wait
        while True:
            self.poke()
            with self.passes:
                target = self.requested
                finished = self.passes.wait_for(lambda: self.completed >= target,
                                                timeout=max(0.0, deadline - time.monotonic()))
                uploaded, failed = self.outcome
            if not finished or not failed or not uploaded or time.monotonic() >= deadline:
                break
        self.stopping.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(max(0.0, min(wait, 5.0)))

    def _run(self) -> None:
        lowest_priority()
        rounds = 0  # failed rounds in a row: the wait between them grows
        while not self.stopping.is_set():
            self.wake.clear()
            with self.passes:
                began = self.requested
            uploaded, failed = self.drain_once()
            with self.passes:
                self.completed, self.outcome = began, (uploaded, failed)
                self.passes.notify_all()
            if failed:
                self.wake.wait(BACKOFF[min(rounds, len(BACKOFF) - 1)])
                rounds += 1
            else:
                rounds = 0
                self.wake.wait(30.0)  # new work pokes; otherwise a periodic look for old entries

    def drain_once(self) -> tuple[int, int]:
        """Try every queued entry once; (uploaded, failed)."""
        uploaded = failed = 0
        for entry in queue.entries():
            if self.stopping.is_set():
                break
            if self.upload(entry):
                uploaded += 1
            else:
                failed += 1
        return uploaded, failed

    def upload(self, entry: queue.Entry) -> bool:
        if entry.kind == LEGAL_HOLD:
            return self._legal_hold(entry)
        path = locate(entry, self.find)
        if path is None:
            entry.last_error = f"{entry.name} of session {entry.session_id[:8]} is no longer on this machine"
            self._failed(entry)
            return False
        try:
            client = self._client(entry.target)
            if entry.upload_id:  # a crash cut a multipart upload short: start that object again
                s3.abort(client, entry.target, entry.key, entry.upload_id)
                entry.upload_id = ""
            s3.upload(client, entry.target, entry.key, path, entry.sha256, chunk_size=self.chunk_size,
                      throttle=s3.Throttle(self.max_rate, self.budget), remember_upload=lambda upload_id: self._note(entry, upload_id),
                      verify=self.verify)
        except s3.StoreError as exc:
            entry.last_error = str(exc)
            self._failed(entry)
            return False
        queue.done(entry)
        self.uploaded(entry)
        if self.held(entry.session_id):
            try:
                s3.hold_object(client, entry.target, entry.key)
            except s3.StoreError:  # uploaded all the same: the hold is put on every version, queued
                queue.put(queue.Entry(entry.session_id, LEGAL_HOLD, LEGAL_HOLD, entry.folder,
                                      entry.key.rsplit("/", 1)[0], "", 0, entry.target, status="ON"))
        return True

    def _legal_hold(self, entry: queue.Entry) -> bool:
        """Every object of the session (each version) gets the legal hold ON, or OFF."""
        try:
            count = s3.legal_hold(self._client(entry.target), entry.target, entry.key, entry.status)
        except s3.StoreError as exc:
            entry.last_error = f"legal hold {entry.status}: {exc}"
            self._failed(entry)
            return False
        queue.done(entry)
        self.legal_holds.append((entry, count))
        return True

    def _note(self, entry: queue.Entry, upload_id: str) -> None:
        entry.upload_id = upload_id
        queue.put(entry)

    def _failed(self, entry: queue.Entry) -> None:
        entry.attempts += 1
        queue.put(entry)
        if entry.attempts == 1 or entry.attempts % 10 == 0:  # said once, and now and then, not at every retry
            self.report(entry, entry.last_error)

    def _client(self, target: dict[str, str]):
        key = tuple(sorted(target.items()))
        if key not in self.clients:
            self.clients[key] = s3.client(target)
        return self.clients[key]
