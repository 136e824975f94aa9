"""Guard ``retention``: at session start, delete the profile's oldest saved sessions
beyond ``keep_days`` or ``keep_total_size``. Never an unsaved, incomplete or
in-progress session, and never a folder that holds anything but a session."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs
from recorder import (ByteSize, delete_session_folder, forget_session, hookimpl, human_size, known_sessions, option,
                      platform, read_manifest)

MANIFEST = "session.json"


@attrs.frozen
class RetentionOptions:
    keep_days: float = option(0.0, "Delete saved sessions older than this many days (0: keep).",
                              validator=[attrs.validators.ge(0), attrs.validators.le(36500)])
    keep_total_size: ByteSize = option(ByteSize(0), "Delete the oldest saved sessions while the "
                                                    "profile's total is above this (0: no limit).")


def _only_a_session(folder: Path, manifest_files: set[str]) -> bool:
    """The folder holds the session's files and at most the OS's metadata files
    (.DS_Store, Thumbs.db, desktop.ini, ._* written by a file manager that opened it)."""
    return all(p.is_file() and (p.name in manifest_files or (platform.is_os_metadata(p.name) and not p.is_symlink()))
               for p in folder.iterdir())


class Retention:
    def __init__(self, options: RetentionOptions):
        self.options = options

    def start(self, session) -> None:
        rows = [row for row in known_sessions(session.profile)
                if row.state == "saved" and row.id != session.id]
        now = datetime.now(timezone.utc)
        total = sum(row.size for row in rows)
        for row in rows:  # oldest first
            too_old = (self.options.keep_days and
                       now - datetime.fromisoformat(row.started_at) > timedelta(days=self.options.keep_days))
            too_big = self.options.keep_total_size and total > self.options.keep_total_size
            if not (too_old or too_big):
                continue
            folder = Path(row.folder)
            parts = read_manifest(folder).parts
            files = {MANIFEST} | {part.file for part in parts} | {name for part in parts for name in part.sidecars}
            if not _only_a_session(folder, files):
                session.add_event("retention", f"kept {folder}: it holds files that are not the session's",
                                  level="warning", by="retention")
                continue
            kept = delete_session_folder(folder)
            if kept:
                session.add_event("retention", f"kept {folder} for now: {kept}; retention tries again at the "
                                  "next start", level="warning", by="retention")
                continue
            forget_session(row.id)
            total -= row.size
            why = f"older than {self.options.keep_days:g} days" if too_old else \
                f"over {human_size(self.options.keep_total_size)} in total"
            session.add_event("retention", f"deleted {folder} ({human_size(row.size)}, {why})",
                              by="retention")

    def stop(self) -> None:
        pass


@hookimpl
def recorder_register_guards(register):
    register("retention", Retention, options=RetentionOptions,
             description="deletes the profile's oldest saved sessions beyond an age or size limit")
