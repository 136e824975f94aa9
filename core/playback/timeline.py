"""A session as one timeline: its parts placed by their start, the gaps between them
(restarts, crashes), and its events. Replay and export both read it."""

from __future__ import annotations

from pathlib import Path

import attrs
from recorder.errors import UsageError
from recorder.session import manifest as manifests
from recorder.session.manifest import Manifest
from recorder.session.model import Event
from recorder.session.recovery import pause_spans

GAP_MIN = 0.5  # seconds between parts that count as a gap rather than jitter


@attrs.frozen
class Segment:
    path: Path
    start: float  # on the session timeline
    duration: float
    frames: int


@attrs.frozen
class Gap:
    start: float
    end: float
    reason: str


@attrs.frozen
class Pause:
    start: float
    end: float
    by: str
    reason: str

    def describe(self) -> str:
        return f"paused by {self.by}" + (f": {self.reason}" if self.reason else "")


@attrs.frozen
class Timeline:
    folder: Path
    manifest: Manifest
    segments: list[Segment]
    gaps: list[Gap]
    pauses: list[Pause] = attrs.Factory(list)

    @property
    def end(self) -> float:
        return max([s.start + s.duration for s in self.segments] + [g.end for g in self.gaps], default=0.0)

    @property
    def recorded(self) -> float:
        return sum(s.duration for s in self.segments)

    def events(self) -> list[Event]:
        return self.manifest.events


def load(folder: Path) -> Timeline:
    manifest = manifests.read(folder)
    segments = [Segment(folder / p.file, p.start, p.duration, p.frames)
                for p in manifest.sealed_parts if p.frames > 0]
    if not segments:
        raise UsageError(f"{folder}: the session has no sealed part to play or export")
    return assemble(folder, manifest, segments)


def assemble(folder: Path, manifest: Manifest, segments: list[Segment]) -> Timeline:
    """The timeline of ``segments`` (in order, at least one): the gaps between them named
    by the pauses and gap events (live watching also places the part still being written)."""
    reasons = {round(float(e.data["start"]), 1): str(e.data.get("reason", "interrupted"))
               for e in manifest.events if e.kind == "gap" and isinstance(e.data.get("start"), (int, float))}
    pauses = pauses_of(manifest.events)
    gaps = []
    for before, after in zip(segments, segments[1:]):
        end = before.start + before.duration
        if after.start - end >= GAP_MIN:
            pause = _pause_at(pauses, end, after.start)
            gaps.append(Gap(round(end, 3), after.start, pause.describe() if pause
                            else reasons.get(round(end, 1), "interrupted")))
    last = segments[-1].start + segments[-1].duration
    trailing = _pause_at(pauses, last, float("inf"))
    if trailing is not None and trailing.end - last >= GAP_MIN:  # paused until the session ended
        gaps.append(Gap(round(last, 3), trailing.end, trailing.describe()))
    return Timeline(folder, manifest, segments, gaps, pauses)


def pauses_of(events: list[Event]) -> list[Pause]:
    """The paused spans: from ``paused`` to ``unpaused``, or to the end of the session
    (stopped, crashed, interrupted by a restart) for a pause never resumed."""
    last = max((e.t for e in events), default=0.0)
    return [Pause(opened.t, max(opened.t, closed.t if closed else last), opened.by,
                  str(opened.data.get("reason", "")))
            for opened, closed in pause_spans(events)]


def _pause_at(pauses: list[Pause], start: float, end: float) -> Pause | None:
    """The pause a gap from ``start`` to ``end`` is (a part is sealed just after the pause began)."""
    for pause in pauses:
        if start - 1.0 <= pause.start < end:
            return pause
    return None
