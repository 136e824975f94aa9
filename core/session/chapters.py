"""Chapters: the places on a session's timeline a reviewer jumps to, in each part and in exports.

Every mark the support tool or the rep puts on the timeline (``recorder mark``, the control
channel's ``mark``), every pause, gap and resumption is a chapter. A mark's title is its text
(its kind when it has none); the others are titled ``paused``, ``gap`` and ``resumed``. Nothing
else about the event goes into a title (not who made it, nor anything about the machine).

Each event is a chapter of exactly one part: the part being written when it happened. An
event between two parts (while paused, or while the recorder was not running) starts the
later part, except the pause itself, which ends the earlier one. The same rule is applied
when a part is sealed and when crash recovery seals it, so a part recovered after a kill
gets the chapters it would have had. Where a part file cannot hold chapters (a part written
through a part stream: encryption), exports still carry them: they are made from the
manifest's events on the session's timeline.
"""

from __future__ import annotations

from typing import Collection, Iterable

from recorder.session.model import Event, Part
from recorder.values import Chapter

# Core's events that are chapters, and their titles.
TITLES = {"paused": "paused", "unpaused": "resumed", "gap": "gap", "resumed": "resumed"}
# Core's events written on a person's behalf (their ``by`` is that person, as a mark's is):
# pause and resume (titled above), stop, consent, legal holds. Not marks.
ON_BEHALF = frozenset({"paused", "unpaused", "end-requested", "consent", "consent-declined", "hold", "release"})
# Between two parts, less than this is the jitter of a split, not an interruption
# (as playback/timeline.py's GAP_MIN): the next part starts where this one ends.
GAP_MIN = 0.5
MAX_TITLE = 255  # bytes of UTF-8: Nero chapters (chpl) store a title's length in one byte
LATER = float("inf")  # next_start of a part cut by a pause: a next part will come, when is not known


def title(event: Event, plugins: Collection[str]) -> str | None:
    """The chapter's title for ``event``, or None if it is no chapter. ``plugins``: the names of
    the plugins loaded (their events are about recorder itself: an indicator lost, an upload
    waiting), which are no marks."""
    if event.kind in TITLES:
        return TITLES[event.kind]
    if event.by == "recorder" or event.by in plugins or event.kind in ON_BEHALF:
        return None
    return shortened(event.text.strip() or event.kind)


def shortened(text: str) -> str:
    """``text`` cut to MAX_TITLE bytes of UTF-8, never inside a character."""
    data = text.encode("utf-8")
    return text if len(data) <= MAX_TITLE else data[:MAX_TITLE].decode("utf-8", errors="ignore")


def of_part(events: Iterable[Event], plugins: Collection[str], *, start: float, previous_end: float | None,
            next_start: float | None, end: float | None = None) -> list[Chapter]:
    """The chapters of the part that starts at ``start`` on the session timeline, at their
    offset into it (0 for an event just before its first frame).

    ``previous_end``: where the part before it ended (None: it is the first part).
    ``next_start``: where the next part starts (None: there is none, every later event is this
    part's; LATER: a pause cut this part at ``end``, its last frame's end: a later event is
    the next part's, except the pause itself)."""
    chapters = []
    for event in events:
        name = title(event, plugins)
        if name is None or not _belongs(event, start, previous_end, next_start, end):
            continue
        chapters.append(Chapter(max(0.0, round(event.t - start, 3)), name))
    return sorted(chapters, key=lambda chapter: chapter.start)


def _belongs(event: Event, start: float, previous_end: float | None, next_start: float | None,
             end: float | None) -> bool:
    t, pause = event.t, event.kind == "paused"
    if previous_end is not None:
        if start - previous_end < GAP_MIN:  # a split: the parts follow each other
            if t < start:
                return False
        elif t <= previous_end or (pause and t < start):  # in the gap: the pause ends the part before
            return False
    if next_start is None:
        return True
    if next_start == LATER:
        return end is None or t <= end or pause
    return t < next_start


def of_listed_part(events: Iterable[Event], plugins: Collection[str], parts: list[Part], part: Part) -> list[Chapter]:
    """The chapters of ``part``, one of the manifest's ``parts`` (crash recovery: the parts before
    it are sealed, with their durations; the last one takes every later event)."""
    ordered = sorted(parts, key=lambda p: p.start)
    index = next(i for i, p in enumerate(ordered) if p is part)
    before = ordered[index - 1] if index > 0 else None
    after = ordered[index + 1] if index + 1 < len(ordered) else None
    return of_part(events, plugins, start=part.start,
                   previous_end=before.start + before.duration if before is not None else None,
                   next_start=after.start if after is not None else None)


def on_timeline(events: Iterable[Event], plugins: Collection[str]) -> list[tuple[float, str]]:
    """Every chapter of the session at its time on the session timeline (for exports): a gap
    where recording stopped (its event is written when the recording resumes)."""
    out = []
    for event in events:
        name = title(event, plugins)
        if name is None:
            continue
        start = event.data.get("start") if event.kind == "gap" else None
        out.append((float(start) if isinstance(start, (int, float)) else event.t, name))
    return sorted(out, key=lambda chapter: chapter[0])
