"""The session journal: a small file per profile in the user state dir saying which
session is running or was interrupted, and where its parts are. Written with
fsync at every part boundary and event, it is what lets a later start know
that a session was cut short (restart, crash, power loss)."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from recorder.session.identity import boot_id
from recorder.disk.files import make_private_dir
from recorder.disk.state import StateFile, set_aside, state_dir

STATES = ("recording", "interrupted", "complete")  # complete: sealed, not yet handed to the sink


def _path(profile: str) -> Path:
    folder = state_dir() / "journal"
    make_private_dir(folder, exist_ok=True)
    return folder / f"{profile}.json"


def write(session, state: str) -> None:
    entry = {
        "session_id": session.id,
        "profile": session.profile,
        "folder": str(session.folder),
        "state": state,  # recording, interrupted
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "parts": [part.file for part in session.parts],
        "boot_id": boot_id(),  # a later start can tell whether the machine restarted since
        "updated": datetime.now(timezone.utc).astimezone().isoformat(),
    }
    StateFile(_path(session.profile)).write(entry)


def read(profile: str) -> dict[str, Any] | None:
    """The profile's journal entry, or None; a damaged or mis-shaped one is set aside."""
    path = _path(profile)
    entry = StateFile(path).read()
    if not entry:
        return None
    folder = entry.get("folder")
    if not (isinstance(folder, str) and os.path.isabs(folder) and isinstance(entry.get("session_id"), str)
            and entry.get("state") in STATES):
        set_aside(path, "not a journal entry")
        return None
    return entry


def clear(profile: str) -> None:
    _path(profile).unlink(missing_ok=True)


def update(profile: str, session_id: str, **changes: str) -> None:
    """Change the profile's entry if it is about ``session_id`` (a session saved
    elsewhere, or recovered by ``recorder recover``), so the next start finds it."""
    entry = read(profile)
    if entry and entry["session_id"] == session_id:
        entry.update(changes, updated=datetime.now(timezone.utc).astimezone().isoformat())
        StateFile(_path(profile)).write(entry)
