"""The upload queue: one small JSON file per object still to upload, in the plugin's
private state folder, written whole (fsynced, renamed) before the upload begins.

A crash, a restart or a week offline leaves the entries where they are; the
next recorder start (or ``recorder archive --drain``) picks them up. An entry
is removed only after its object was uploaded and verified.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Iterator

import attrs
from recorder import platform, plugin_state_dir, write_private


@attrs.define
class Entry:
    session_id: str
    kind: str  # part, manifest, receipt, file (a plugin's: a signature), legal-hold
    name: str  # the file's name in the session folder (or the snapshot's, for manifest and receipt)
    folder: str  # where the file was when queued (a session saved elsewhere is found again)
    key: str  # the object key
    sha256: str
    size: int
    target: dict[str, str]  # endpoint, bucket, region, aws_profile: where it goes, never a secret
    snapshot: str = ""  # for the manifest and receipt: a private copy in the queue folder
    attempts: int = 0
    last_error: str = ""
    upload_id: str = ""  # a multipart upload in progress: aborted if a crash left it
    status: str = ""  # legal-hold: ON or OFF for every object under ``key`` (the session's prefix)
    id: str = attrs.field(factory=lambda: uuid.uuid4().hex)

    def source(self) -> Path:
        return Path(self.snapshot) if self.snapshot else Path(self.folder) / self.name


def folder() -> Path:
    path = plugin_state_dir("archive") / "queue"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def put(entry: Entry) -> None:
    write_private(folder() / f"{entry.id}.json", json.dumps(attrs.asdict(entry)).encode())


def snapshot(data: bytes) -> str:
    """A private copy of a small file (the final manifest, the receipt) as it is now."""
    path = folder() / f"{uuid.uuid4().hex}.snapshot"
    write_private(path, data)
    return str(path)


def entries() -> Iterator[Entry]:
    """Every queued entry, oldest first; an unreadable one is set aside, never retried blindly."""
    paths = sorted(folder().glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    for path in paths:
        try:
            yield Entry(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            platform.replace(path, path.with_suffix(".damaged"))


def done(entry: Entry) -> None:
    (folder() / f"{entry.id}.json").unlink(missing_ok=True)
    if entry.snapshot:
        Path(entry.snapshot).unlink(missing_ok=True)


def describe(entry: Entry) -> dict[str, Any]:
    return {"session_id": entry.session_id, "kind": entry.kind, "name": entry.name, "key": entry.key,
            "size": entry.size, "bucket": entry.target.get("bucket", ""), "attempts": entry.attempts,
            "last_error": entry.last_error}
