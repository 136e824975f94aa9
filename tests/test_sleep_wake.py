"""Sleep and wake during a recording (simulated: a CI machine cannot sleep mid-test).

The capture thread is run with a source that, at one grab, makes an hour pass the way
each system shows a sleep: on Windows the monotonic clock (GetTickCount64) and the wall
clock both jump; on macOS and Linux the monotonic clock stops and only the wall clock
jumps. Either way the user relies on: timeline offsets that follow the wall clock, no
burst of "dropped" frames for the hour asleep, the picture before the sleep never
stretched over it (a gap between parts), and --duration counting recorded time.
"""

from __future__ import annotations

import threading
import time

import pytest

from recorder.pipeline.capture import PAUSE, Capture, FrameQueue
from recorder.session.model import Session

FPS = 10.0
HOUR = 3600.0


class Sleeper:
    """A screen source; at grab ``at`` the computer sleeps for an hour, as ``system`` shows it."""

    realtime = True

    def __init__(self, session: Session, system: str, at: int = 8):
        self.session, self.system, self.at = session, system, at
        self.grabs = 0
        self.wall_jump = 0.0

    def wall_clock(self) -> float:
        return time.time() + self.wall_jump

    def grab(self) -> bytes:
        self.grabs += 1
        if self.grabs == self.at:
            self.wall_jump += HOUR
            if self.system == "windows":  # GetTickCount64 counts the sleep
                self.session._t0 -= HOUR
        return bytes([self.grabs % 256]) * 64


def record(system: str, until: float = 2.0):
    session = Session(profile="rep", role="rep")
    source = Sleeper(session, system)
    frames = FrameQueue(FPS)
    errors: list[BaseException] = []
    capture = Capture(session, source, FPS, frames, until, errors.append, wall_clock=source.wall_clock)
    items: list = []

    def drain():
        while (item := frames.get()) is not None:
            items.append(item)

    drainer = threading.Thread(target=drain)
    drainer.start()
    began = time.monotonic()
    capture.start()
    capture.join(30)
    drainer.join(5)
    assert not capture.is_alive() and not errors
    return session, items, time.monotonic() - began


@pytest.mark.parametrize("system", ["windows", "macos-or-linux"])
def test_simulated_sleep_is_a_gap_not_dropped_frames(system):
    session, items, took = record(system)
    [suspended] = [e for e in session.events if e.kind == "suspended"]
    assert HOUR - 1 < suspended.data["end"] - suspended.data["start"] < HOUR + 1
    assert session.dropped <= 2  # not 36,000 frames "dropped" while asleep
    # a gap between parts: the picture before the sleep is not stretched over it
    cut = items.index(PAUSE)
    before, after = items[:cut], [i for i in items[cut + 1:] if i is not PAUSE]
    assert before and after
    # offsets follow the wall clock: the first frame after the wake is an hour on
    assert HOUR <= after[0][1] - before[-1][1] < HOUR + 1
    # --duration 2 counts recorded time: 20 frames at 10 fps, not ended at the wake
    assert len(before) + len(after) == session.captured == 2 * FPS
    assert took < 10


def test_a_short_stall_still_counts_dropped_frames():
    """A grab that takes a second is a stall, not a sleep: the slots it missed are dropped."""
    session = Session(profile="rep", role="rep")

    class Slow:
        realtime = True
        grabs = 0

        def grab(self):
            self.grabs += 1
            if self.grabs == 5:
                time.sleep(1.0)
            return b"x" * 64

    frames = FrameQueue(FPS)
    capture = Capture(session, Slow(), FPS, frames, 2.0, lambda exc: None)
    drainer = threading.Thread(target=lambda: [None for _ in iter(frames.get, None)])
    drainer.start()
    capture.start()
    capture.join(30)
    drainer.join(5)
    assert 5 <= session.dropped <= 12
    assert not [e for e in session.events if e.kind == "suspended"]
