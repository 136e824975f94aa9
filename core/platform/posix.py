"""Linux and the other POSIX systems (macOS builds on this module): fsync through
any descriptor, signal 0 for liveness, mode bits for privacy, root for the site policy."""

from __future__ import annotations

import ctypes
import os
import stat
import sys
from pathlib import Path

from recorder.platform.files import DIR_MODE, FILE_MODE


def fsync(fd: int) -> None:
    os.fsync(fd)


def sync_flags() -> int:
    return os.O_RDONLY  # fsync through any descriptor flushes the file


def fsync_folder(folder: str) -> None:
    """fsync of the folder itself makes a rename or a new file in it durable."""
    from recorder.platform.system import current

    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        current().fsync(fd)  # F_FULLFSYNC on macOS
    finally:
        os.close(fd)


def cloud_synced(folder: Path, resolved: Path) -> str | None:
    return None  # no cloud service redirects a Linux user's folders


def can_signal_for_control() -> bool:
    return True


def process_alive(pid: int) -> bool:
    """Signal 0 probes without sending anything."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


PR_SET_DUMPABLE = 4  # linux/prctl.h


def no_core_dumps() -> None:
    """RLIMIT_CORE 0 (no core file), and on Linux PR_SET_DUMPABLE 0 as well: a core pattern
    that pipes to a handler (systemd-coredump, apport) ignores RLIMIT_CORE, and a process
    that is not dumpable is never dumped, nor read through ptrace or /proc/PID/mem by
    another process of the same user. Best effort: a system that refuses either is left as it is."""
    if sys.platform == "win32":  # never chosen there (resource is POSIX's): type checkers for Windows skip this
        return
    import resource

    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def make_owner_only(path: str, *, folder: bool) -> None:
    os.chmod(path, DIR_MODE if folder else FILE_MODE)


def writable_by_others(path: Path) -> str | None:
    """From its owner and mode bits (a sticky folder is fine)."""
    if sys.platform != "win32":  # st_uid and getuid are POSIX's: type checkers for Windows skip this
        info = path.stat()
        if info.st_uid not in (os.getuid(), 0):
            return f"{path} belongs to another user"
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX:
            return f"{path} can be written by other users (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def admin_only(place: Path) -> str | None:
    """Owned by root, not writable by group or others."""
    info = place.stat()
    if info.st_uid != 0:
        return f"{place} does not belong to root"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{place} can be written by other users (mode {stat.S_IMODE(info.st_mode):04o})"
    return None
