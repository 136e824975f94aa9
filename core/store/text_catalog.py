"""The sessions ``recorder search`` looks through, remembered between searches.

Reading and checking every ``session.json`` (0.3 s for 1,000 sessions) would cost
more than searching their indexes. So what search needs of each session (id,
profile, start, length, support session id, labels) is kept in the user cache dir,
keyed by its folder and its ``session.json``'s size, modification time and inode: a
``session.json`` rewritten (an event, a hold, a save) is read again, and a folder
gone is forgotten. The file is only a shortcut (0600, in the private cache): lost or
damaged, it is rebuilt from the session folders, which stay the truth.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Iterable

import attrs
from recorder.console import warn
from recorder.disk.files import write_private
from recorder.disk.state import cache_dir
from recorder.session import manifest as manifests
from recorder.session.manifest import MANIFEST, Manifest, ManifestError
from recorder.store import catalog

CACHE_FILE = "search-sessions.json"
FORMAT = 1


@attrs.frozen
class Listed:
    """A session as search filters and shows it."""

    id: str
    profile: str
    started_at: str  # ISO 8601 with the recording machine's offset
    duration: float
    folder: str
    support_session_id: str = ""
    labels: dict[str, str] = attrs.Factory(dict)

    @property
    def started(self) -> datetime:
        return datetime.fromisoformat(self.started_at)


def listed(folder: Path, manifest: Manifest) -> Listed:
    return Listed(manifest.session_id, manifest.profile, manifest.started_at.isoformat(), manifest.duration,
                  str(folder), manifest.support_session_id, dict(manifest.labels))


def _stamp(path: Path) -> list[int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [stat.st_mtime_ns, stat.st_size, stat.st_ino]


def _read_cache(path: Path) -> dict:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("sessions"), dict):
        return {}
    return data["sessions"]


def _from_cache(entry) -> Listed | None:
    try:
        return Listed(**entry["session"])
    except (TypeError, KeyError):
        return None


def sessions(roots: Iterable[Path] = ()) -> list[Listed]:
    """Every session recorder knows about (catalog.folders), oldest first; one row per session id
    (where a crash left two copies, the one the catalog names)."""
    path = cache_dir() / CACHE_FILE
    cached, kept, changed = _read_cache(path), {}, False
    rows: dict[str, Listed] = {}
    for folder in catalog.folders(roots):
        stamp = _stamp(folder / MANIFEST)
        entry = cached.get(str(folder))
        row = _from_cache(entry) if isinstance(entry, dict) and entry.get("stamp") == stamp else None
        if row is None:
            try:
                row = listed(folder, manifests.read(folder))
            except ManifestError as exc:
                warn(str(exc))
                continue
            changed = True
        kept[str(folder)] = {"stamp": stamp, "session": attrs.asdict(row)}
        rows.setdefault(row.id, row)
    if changed or kept.keys() != cached.keys():
        try:
            write_private(path, json.dumps({"format": FORMAT, "sessions": kept}).encode())
        except OSError:
            pass  # a shortcut only: the next search reads the folders again
    return sorted(rows.values(), key=lambda row: row.started_at)
