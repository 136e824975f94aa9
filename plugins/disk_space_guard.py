"""Guard ``disk-space``: warn everyone before the disk fills, end the session
before it is full, so that the recording is always completed.

Every ``interval`` it measures the free space of each filesystem the session
writes to and the session's write rate, and from them the time left. Below
``warn_free`` (or under ``warn_minutes`` left) it warns both parties once per
crossing; if space comes back it says so; if ``grace`` runs out, or free space
reaches ``stop_free``, it ends the session with reason ``disk-space``. A small
reserve file set aside at the start is released before sealing, so that the
last part and the manifest always have room.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import attrs
from recorder import ByteSize, UsageError, hookimpl, human_size, option, platform

RESERVE = ".recorder-reserve"  # space set aside in the session folder; never a part
PARTIAL = ".partial"  # a part while it is written (recorder's own suffix)


@attrs.frozen
class DiskSpaceOptions:
    interval: float = option(1.0, "Seconds between checks.",
                             validator=[attrs.validators.gt(0), attrs.validators.le(60)])
    warn_free: ByteSize = option(ByteSize(2 * 10**9), "Warn when free space falls below this.")
    warn_minutes: float = option(10.0, "Warn when the disk is estimated to fill within this many "
                                       "minutes at the current write rate (0: off).",
                                 validator=[attrs.validators.ge(0), attrs.validators.le(10080)])
    stop_free: ByteSize = option(ByteSize(200 * 10**6), "End the session when free space reaches this; "
                                                        "refuse to start below it.")
    grace: float = option(60.0, "Seconds after a warning for space to be freed before the session is ended.",
                          validator=[attrs.validators.ge(0), attrs.validators.le(86400)])
    reserve: ByteSize = option(ByteSize(8 * 2**20), "Space set aside at the start and released for sealing.")


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def distinct_filesystems(paths: list[Path]) -> list[Path]:
    seen, unique = set(), []
    for path in paths:
        existing = path
        while not existing.exists():
            existing = existing.parent
        device = existing.stat().st_dev
        if device not in seen:
            seen.add(device)
            unique.append(existing)
    return unique


class DiskSpaceGuard:
    # Ending for lack of space, the support session must end too: core asks the support tool.
    ends_support_session = {"disk-space": "not enough disk space where it is recorded"}

    def __init__(self, options: DiskSpaceOptions):
        self.options = options
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.reserve_path: Path | None = None
        self.warned_at: float | None = None

    def preflight(self, session) -> None:
        for place in distinct_filesystems(session.places):
            free = free_bytes(place)
            if free <= self.options.stop_free:
                raise UsageError(f"not enough free disk space to record in {place}: {human_size(free)} free, "
                                 f"the disk-space guard needs more than {human_size(self.options.stop_free)} "
                                 "(stop_free)")

    def start(self, session) -> None:
        self.session = session
        self.places = distinct_filesystems(session.places)
        self._make_reserve(session.folder)
        self.thread = threading.Thread(target=self._watch, name="recorder-disk-space", daemon=True)
        self.thread.start()

    def before_seal(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join()
        self._release_reserve()

    def stop(self) -> None:
        self.before_seal()

    def _make_reserve(self, folder: Path) -> None:
        if not self.options.reserve:
            return
        path = folder / RESERVE
        fd = platform.open_binary(path, platform.nofollow(os.O_WRONLY | os.O_CREAT | os.O_EXCL))
        try:
            platform.preallocate(fd, self.options.reserve)
        except BaseException as exc:
            # Closed before the unlink (Windows cannot delete an open file), and gone
            # whatever failed, so that the folder never keeps a stray reserve.
            os.close(fd)
            path.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                return  # no room even for the reserve: the watcher will end the session
            raise
        os.close(fd)
        self.reserve_path = path

    def _release_reserve(self) -> None:
        if self.reserve_path is not None:
            self.reserve_path.unlink(missing_ok=True)
            self.reserve_path = None

    def written(self) -> int:
        """Bytes the session's parts hold, the write rate's measure: a sealed part's size as
        recorder recorded it; the part being written measured through the file itself
        (os.stat opens it on Windows). Never a folder listing's sizes, which NTFS does not
        update while a file is open, and never a file someone else put in the folder."""
        total = 0
        for part in list(self.session.parts):
            if part.state == "sealed":
                total += part.size
                continue
            for name in (part.file + PARTIAL, part.file):
                try:
                    total += os.stat(self.session.folder / name).st_size
                    break
                except OSError:
                    continue
        return total

    def _watch(self) -> None:
        last_bytes, last_time, rate = self.written(), time.monotonic(), 0.0
        while not self.stopping.wait(self.options.interval):
            written, now = self.written(), time.monotonic()
            if now > last_time:
                sample = max(0, written - last_bytes) / (now - last_time)
                rate = sample if rate == 0 else 0.7 * rate + 0.3 * sample  # smooth the 1 s fragments
            last_bytes, last_time = written, now
            self.check(rate)

    def check(self, rate: float) -> None:
        """One look at every filesystem; ``rate`` is the session's write rate in bytes/s."""
        place, free = min(((p, free_bytes(p)) for p in self.places), key=lambda item: item[1])
        usable = free - self.options.stop_free
        minutes_left = usable / rate / 60 if rate > 0 else float("inf")
        if free <= self.options.stop_free:
            self._end(f"only {human_size(free)} free in {place}")
            return
        low = free < self.options.warn_free or (self.options.warn_minutes and
                                                minutes_left < self.options.warn_minutes)
        if low and self.warned_at is None:
            self.warned_at = time.monotonic()
            left = f"about {minutes_left:.0f} min of recording left" if minutes_left != float("inf") else \
                "the recording is not growing"
            self._tell("warning", "Disk space is low where the session is recorded. Unless space is freed "
                                  f"within {self.options.grace:g} s, the session will be ended to keep the "
                                  "recording intact.",
                       f"Disk space is low: {human_size(free)} free in {place}, {left}.")
        elif not low and self.warned_at is not None:
            self.warned_at = None
            self._tell("info", "Disk space was freed: the recording continues.",
                       f"Disk space was freed: {human_size(free)} free in {place}.")
        elif low and time.monotonic() - self.warned_at >= self.options.grace:
            self._end(f"no space was freed within {self.options.grace:g} s ({human_size(free)} free in {place})")

    def _tell(self, level: str, everyone: str, here: str) -> None:
        """What everyone is told carries nothing of this machine (no folder, no figures);
        the details go to the person at this machine only."""
        self.session.notify(level, everyone, by="disk-space")
        self.session.notify(level, here, audience=(self.session.role,), by="disk-space")

    def _end(self, why: str) -> None:
        if self.session.ending:
            return
        self._tell("warning", "Ending the session to keep the recording intact: the disk where it is "
                              "recorded is nearly full.", f"Disk space: {why}.")
        self.session.request_end("disk-space", by="disk-space", text=why)
        self.stopping.set()


@hookimpl
def recorder_session_recovered(session, report):
    # A crashed run could not release its reserve: it is ours, and no part of the session.
    (session.folder / RESERVE).unlink(missing_ok=True)


@hookimpl
def recorder_register_guards(register):
    register("disk-space", DiskSpaceGuard, options=DiskSpaceOptions,
             description="warns before the disk fills, ends the session before it is full")
