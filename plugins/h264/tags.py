"""The session's details as a part's container tags (the mp4 muxer's ``title``,
``comment`` and ``creation_time``: ``©nam``, ``©cmt`` and the ``mvhd`` creation
time), so that a part found on its own still says what it is.

Tags live in the ``moov`` at the start of the file, written with the first
packet: a part recovered after a crash has them too.
"""

from __future__ import annotations

import json

import threading
import weakref
from datetime import timezone
from pathlib import Path

_waiting: weakref.WeakSet = weakref.WeakSet()  # part writers whose header is not written yet
_lock = threading.Lock()


def wait_for_tags(writer) -> None:
    """``writer`` (with ``path`` and ``set_tags(dict)``) takes tags until it forgets them."""
    with _lock:
        _waiting.add(writer)


def forget(writer) -> None:
    with _lock:
        _waiting.discard(writer)


def tag_part(session, part) -> None:
    """Give the writer of ``part`` its tags. Core calls ``recorder_part_opened``
    on the encoder thread right after ``open_part``, before the part's first frame."""
    folder, name = Path(getattr(session, "folder", None) or "."), getattr(part, "file", "")
    with _lock:
        writers = [w for w in _waiting if w.path.parent == folder and w.path.name.startswith(name)]
    if writers:
        values = tags_for(session, part)
        for writer in writers:
            writer.set_tags(values)


def tags_for(session, part) -> dict[str, str]:
    """The tags ``recorder export`` gives an export, the part's number added to the title.
    Read defensively: a session from an older core may lack some of these."""
    session_id = str(getattr(session, "id", "") or "")
    support_id = str(getattr(session, "support_id", "") or "")
    labels = dict(getattr(session, "labels", None) or {})
    started = getattr(session, "started_at", None)
    index = getattr(part, "index", None)
    title = f"Support session {support_id or session_id[:8]}" + (f", part {index}" if index else "")
    # JSON, as recorder export writes it: a label's value may hold any separator a joined list would use
    fields = {"session": session_id, "support_session_id": support_id, "labels": labels}
    tags = {"title": title, "comment": json.dumps({k: v for k, v in fields.items() if v}, ensure_ascii=False)}
    if started is not None:
        tags["creation_time"] = started.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {key: value for key, value in tags.items() if value}
