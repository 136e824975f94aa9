"""The sessions recorder knows about, wherever they were saved.

An index in the user state dir maps each session id to its folder; it is
updated when a session starts, ends and is saved. Staging is scanned too, so a
session left unsaved is always found.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from recorder.errors import UsageError
from recorder.manifest import MANIFEST
from recorder.places import read_state, staging_root, updating

INDEX = "catalog.json"


def remember(session) -> None:
    with updating(INDEX) as entries:
        entries[session.id] = {"folder": str(session.folder), "profile": session.profile}


def moved(session_id: str, folder: Path) -> None:
    with updating(INDEX) as entries:
        entries.setdefault(session_id, {})["folder"] = str(folder)


def forget(session_id: str) -> None:
    with updating(INDEX) as entries:
        entries.pop(session_id, None)


def _folders() -> list[Path]:
    folders = [Path(entry["folder"]) for entry in read_state(INDEX).values() if "folder" in entry]
    root = staging_root()
    if root.is_dir():
        folders += [p for p in root.iterdir() if (p / MANIFEST).is_file()]
    seen, unique = set(), []
    for folder in folders:
        if folder not in seen and (folder / MANIFEST).is_file():
            seen.add(folder)
            unique.append(folder)
    return unique


def state_of(manifest: dict[str, Any], folder: Path) -> str:
    if manifest.get("state") == "interrupted":
        return "interrupted"
    if manifest.get("state") == "recording":
        alive = manifest.get("host") == socket.gethostname() and _alive(manifest.get("pid"))
        return "in progress" if alive else "incomplete"
    if folder.parent == staging_root():
        return "unsaved"
    return "saved"


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def summary(folder: Path) -> dict[str, Any]:
    manifest = json.loads((folder / MANIFEST).read_text())
    return {
        "id": manifest["session_id"],
        "profile": manifest["profile"],
        "started_at": manifest["started_at"],
        "duration": manifest.get("duration", 0.0),
        "size": sum(part.get("size", 0) for part in manifest["parts"]),
        "parts": len(manifest["parts"]),
        "state": state_of(manifest, folder),
        "end_reason": manifest.get("end_reason"),
        "folder": str(folder),
    }


def sessions(profile: str | None = None) -> list[dict[str, Any]]:
    rows = []
    for folder in _folders():
        try:
            row = summary(folder)
        except (OSError, ValueError, KeyError):
            continue
        if profile is None or row["profile"] == profile:
            rows.append(row)
    return sorted(rows, key=lambda row: row["started_at"])


def find(ref: str) -> Path:
    """A session folder from a path, a session id, or a unique prefix of one."""
    path = Path(ref).expanduser()
    if (path / MANIFEST).is_file():
        return path.resolve()
    matches = [row for row in sessions() if row["id"].startswith(ref.lower())] if ref else []
    if len(matches) == 1:
        return Path(matches[0]["folder"])
    if not matches:
        raise UsageError(f"no session '{ref}': give a session folder or an id from 'recorder list'")
    raise UsageError(f"session id '{ref}' is ambiguous: {', '.join(m['id'][:12] for m in matches)}")
