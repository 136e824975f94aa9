"""A session as one timeline: its parts placed by their start, the gaps between them
(restarts, crashes), and its events. Replay and export both read it."""

from __future__ import annotations

from pathlib import Path

import attrs
from recorder.errors import UsageError
from recorder.session import manifest as manifests
from recorder.session.manifest import Manifest
from recorder.session.model import Event

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
class Timeline:
    folder: Path
    manifest: Manifest
    segments: list[Segment]
    gaps: list[Gap]

    @property
    def end(self) -> float:
        return max((s.start + s.duration for s in self.segments), default=0.0)

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
    reasons = {round(float(e.data["start"]), 1): str(e.data.get("reason", "interrupted"))
               for e in manifest.events if e.kind == "gap" and isinstance(e.data.get("start"), (int, float))}
    gaps = []
    for before, after in zip(segments, segments[1:]):
        end = before.start + before.duration
        if after.start - end >= GAP_MIN:
            gaps.append(Gap(round(end, 3), after.start, reasons.get(round(end, 1), "interrupted")))
    return Timeline(folder, manifest, segments, gaps)
