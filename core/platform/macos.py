"""macOS: POSIX (``recorder.platform.posix``) with F_FULLFSYNC, and iCloud Drive's
"Desktop & Documents Folders"."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from recorder.platform.files import is_under
from recorder.platform.posix import (admin_only, can_signal_for_control, fsync_folder, make_owner_only,
                                     no_core_dumps, process_alive, sync_flags, writable_by_others)

__all__ = ["admin_only", "can_signal_for_control", "cloud_synced", "fsync", "fsync_folder", "make_owner_only",
           "no_core_dumps", "process_alive", "sync_flags", "writable_by_others"]


def fsync(fd: int) -> None:
    """Plain fsync only reaches the drive's cache; F_FULLFSYNC flushes it (some
    filesystems refuse it, SMB or some FUSE: then plain fsync)."""
    if sys.platform != "win32":  # fcntl is POSIX's: type checkers for Windows skip this
        import fcntl  # imported here: the simulation gives Linux a macOS fcntl

        full = getattr(fcntl, "F_FULLFSYNC", None)  # macOS's alone
        if full is not None:
            try:
                fcntl.fcntl(fd, full)
                return
            except OSError:
                pass
    os.fsync(fd)


def cloud_synced(folder: Path, resolved: Path) -> str | None:
    """iCloud Drive (~/Library/Mobile Documents/com~apple~CloudDocs), which holds a
    Documents folder when "Desktop & Documents Folders" syncs ~/Documents, or a
    folder that is a link into it."""
    drive = Path.home() / "Library" / "Mobile Documents" / "com~apple~CloudDocs"
    if is_under(resolved, drive):
        return "iCloud Drive"
    if (drive / folder.name).is_dir() and is_under(resolved, Path.home()):
        return "iCloud Drive (Desktop & Documents Folders)"
    return None
