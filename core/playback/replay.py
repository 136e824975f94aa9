"""``recorder play``: a self-contained replay page for a session.

The page is one local HTML file (no external resources, and a content
security policy that forbids any) that plays the session's parts from disk
as one timeline, with its gaps, still stretches and events. It lives in the
user cache dir, so the session folder stays exactly what its manifest lists.
Parts a browser cannot play are converted to H.264 MP4 once and cached beside
the page, and so are the thumbnails shown when hovering over the timeline.
"""

from __future__ import annotations

import json
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Callable

import av
from recorder.control.protocol import RESERVED
from recorder.playback.export import ExportJob, encode
from recorder.playback import text_hits
from recorder.playback.thumbnails import part_thumbnails, remove_unused, thumbnail_every
from recorder.playback.timeline import Timeline
from recorder.session.manifest import Manifest
from recorder.session.model import Event
from recorder.disk import state
from recorder.disk.files import make_private_dir, private_temporary, write_private

BROWSER_CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"}
BROWSER_CODECS = {"h264", "vp8", "vp9", "av1"}
# Core's kinds a reviewer follows the session by; core's other kinds (plugin-error,
# notifier-failure, part-repaired, staged, end-reason, retention...) are about
# recorder itself: listed, but hidden until asked for. The support tool's own
# kinds (chat, remote-control, connect...) are never reserved, so always shown.
MILESTONES = {"started", "paused", "unpaused", "gap", "resumed", "crashed", "stopped", "notification", "saved",
              "end-requested", "error", "rescued"}



def internal(event: Event) -> bool:
    return event.kind in RESERVED and event.kind not in MILESTONES


def _marker_time(event: Event) -> float:
    # a gap is recorded when the session resumes; its marker belongs where recording stopped
    start = event.data.get("start")
    return float(start) if event.kind == "gap" and isinstance(start, (int, float)) else event.t


def _marker(event: Event, manifest: Manifest) -> dict:
    t = _marker_time(event)
    marker = {"t": t, "kind": event.kind, "text": event.text, "level": event.level, "by": event.by,
              "wall": _wall(event, t, manifest), "internal": internal(event)}
    program = event.data.get("program")  # the program an event names (window events): the page filters by it
    if isinstance(program, str):
        marker["program"] = program
    return marker


def _wall(event: Event, t: float, manifest: Manifest) -> float:
    """When the marker happened, in seconds since the epoch: the event's own clock where
    it was taken at that offset, else the session's start plus the offset."""
    if t == event.t:
        try:
            return datetime.fromisoformat(event.time).timestamp()
        except ValueError:
            pass
    return manifest.at(t).timestamp()


# Inside <script>, "</script>" ends the element and "<!--<script>" changes how the rest
# is parsed: no markup character may appear in the data, nor the two line breaks
# that JavaScript strings cannot hold.
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                              "\u2028": "\\u2028", "\u2029": "\\u2029"})


def script_json(data) -> str:
    """``data`` as JSON that can be embedded in a <script> element whatever its strings hold."""
    return json.dumps(data).translate(_SCRIPT_SAFE)


def browser_playable(path: Path) -> bool:
    with av.open(str(path)) as container:
        codec = container.streams.video[0].codec_context.name
        return container.format.name in BROWSER_CONTAINERS and codec in BROWSER_CODECS


def cache_dir(session_id: str) -> Path:
    folder = state.cache_dir() / "replay"
    make_private_dir(folder, exist_ok=True)
    folder = folder / session_id
    make_private_dir(folder, exist_ok=True)
    return folder


def prepare(timeline: Timeline, progress: Callable[[float], None] = lambda seconds: None,
            folder: Path | None = None, search: dict | None = None) -> Path:
    """Write the replay page (converting unplayable parts and making thumbnails first,
    part by part: ``progress`` is told the seconds of recording done) in ``folder`` (by
    default the session's cache folder; a memory folder for protected parts); returns its path.
    ``search``: the page's search box and where it opens (text_hits.with_search's arguments)."""
    manifest = timeline.manifest
    folder = folder or cache_dir(manifest.session_id)
    every = thumbnail_every(timeline.recorded)
    done = 0.0
    segments, strips, used = [], [], set()
    for index, seg in enumerate(timeline.segments):
        source = seg.path
        if not browser_playable(seg.path):
            source = folder / f"{seg.path.stem}.browser.mp4"
            if not source.exists() or source.stat().st_mtime < seg.path.stat().st_mtime:
                single = Timeline(timeline.folder, manifest, [seg], [])
                temporary = private_temporary(source)
                encode(ExportJob(single, temporary, progress=lambda s: progress(done + s)),
                       container="mp4", codec="libx264", pix_fmt="yuv420p",
                       options={"crf": "23", "preset": "veryfast"}, container_options={"movflags": "+faststart"})
                temporary.replace(source)
        strips += part_thumbnails(timeline, index, every, folder, used)
        done += seg.duration
        progress(done)
        segments.append({"src": source.resolve().as_uri(), "start": seg.start, "duration": seg.duration})
    remove_unused(folder, used)
    data = session_data(timeline, segments, strips)
    path = folder / "index.html"
    page = page_html(data) if search is None else text_hits.with_search(page_html(data), **search)
    write_private(path, page.encode())
    return path


def page_html(data: dict) -> str:
    """The replay page showing ``data`` (``session_data``)."""
    page = files("recorder.playback").joinpath("replay.html").read_text(encoding="utf-8")
    return page.replace("/*SESSION*/null", script_json(data), 1)


def session_data(timeline: Timeline, segments: list[dict], strips: list[dict]) -> dict:
    """What the page shows (its SESSION): ``segments`` are where each part is played from."""
    manifest = timeline.manifest
    offset = manifest.started_at.utcoffset()
    return {
        "manifest": {"session_id": manifest.session_id, "profile": manifest.profile, "role": manifest.role,
                     "started_at": manifest.started_at.isoformat(),
                     "ended_at": manifest.ended_at.isoformat() if manifest.ended_at else None,
                     "end_reason": manifest.end_reason, "state": manifest.state,
                     "support_session_id": manifest.support_session_id, "labels": manifest.labels},
        # times of day are shown as the recording machine's clock read them
        "clock": {"start": manifest.started_at.timestamp(), "utc_offset": offset.total_seconds() if offset else 0},
        "segments": segments,
        "gaps": [{"start": g.start, "end": g.end, "reason": g.reason} for g in timeline.gaps],
        "still": [[start, end] for start, end in manifest.still if end > start],
        "markers": sorted((_marker(e, manifest) for e in timeline.events()), key=lambda m: m["t"]),
        "thumbnails": strips,
        "end": timeline.end,
        "recorded": timeline.recorded,
    }
