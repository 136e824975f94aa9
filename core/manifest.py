"""``session.json``: what a session folder holds, written atomically and privately."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import attrs
import recorder
from recorder.session import Session

MANIFEST = "session.json"
FORMAT_VERSION = 1
FILE_MODE = 0o600
DIR_MODE = 0o700
RESERVE = ".recorder-reserve"  # space a disk guard sets aside in the session folder; never a part


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def state_of(session: Session) -> str:
    if session.ended_at is None:
        return "recording"
    return "interrupted" if session.end_reason == "interrupted" else "complete"


def to_dict(session: Session, **extra: Any) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "recorder_version": recorder.__version__,
        "session_id": session.id,
        "profile": session.profile,
        "role": session.role,
        "host": session.host,
        "pid": os.getpid(),
        "started_at": session.started_at.isoformat(),
        "ended_at": session.ended_at.isoformat() if session.ended_at else None,
        "end_reason": session.end_reason if session.ended_at else None,
        "state": state_of(session),
        "duration": round(sum(part.duration for part in session.parts), 3),
        "frames": session.frames,
        "dropped_frames": session.dropped,
        "unchanged_frames": session.unchanged,
        **extra,
        "parts": [attrs.asdict(part) for part in session.parts],
        "events": [attrs.asdict(event) for event in session.events],
    }


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, mode 0600."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_manifest(session: Session, **extra: Any) -> Path:
    path = session.folder / MANIFEST
    write_private(path, json.dumps(to_dict(session, **extra), indent=2).encode() + b"\n")
    return path


def create_private_file(path: Path) -> None:
    """Create an empty 0600 file, refusing to touch one that exists."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def make_private_dir(path: Path, *, exist_ok: bool = False) -> None:
    """Create ``path`` 0700 (parents as needed); an existing folder is left as it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        if not exist_ok or not path.is_dir():
            raise
        return
    os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask
