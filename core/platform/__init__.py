"""The operating system, in one place: every call whose behaviour differs between
Linux, macOS and Windows goes through a function here, named after what it does
and documented with the behaviour it covers on each system.

``__all__`` is the part plugins may use (``from recorder import platform``; see
docs/plugins.md). The other names here serve recorder's own modules and may change.

Where the systems differ, the work is done by one module per system (``windows``,
``macos``, ``posix``), chosen at call time by ``system.current()``, never at import
time, so that tests can give Linux another system's semantics (tests/foreign_os.py).
Shared logic lives in ``files``, ``locks``, ``names`` and ``sddl``; the Win32
functions called through ctypes are declared in ``win32``.
"""

from __future__ import annotations

import os
from pathlib import Path

from recorder.platform import win32
from recorder.platform.files import (UTF8, binary_flags, fsync, nofollow, open_binary, open_text, pread, preallocate,
                                     pwrite, read_text, rename, replace)
from recorder.platform.names import check_folder_name, is_os_metadata, safe_folder_name
from recorder.platform.system import current, is_macos, is_windows

# For recorder's own modules, not for plugins: durability, locks, permissions, names.
from recorder.platform.files import DIR_MODE as DIR_MODE, FILE_MODE as FILE_MODE
from recorder.platform.files import SHARING_VIOLATIONS as SHARING_VIOLATIONS
from recorder.platform.files import fsync_folder as fsync_folder, sync_handle as sync_handle
from recorder.platform.locks import file_lock as file_lock, lock_held as lock_held, locked as locked
from recorder.platform.names import pipe_name as pipe_name, user_name as user_name
from recorder.platform.sddl import ADMIN_SIDS as ADMIN_SIDS
from recorder.platform.sddl import owner_only_sddl as owner_only_sddl, sddl_writers as sddl_writers

__all__ = [
    # which system
    "is_windows", "is_macos",
    # files of bytes and text
    "UTF8", "open_binary", "binary_flags", "nofollow", "open_text", "read_text",
    "fsync", "replace", "rename", "pread", "pwrite", "preallocate",
    # processes and signals
    "process_alive", "shutdown_signals", "no_core_dumps",
    # names and folders
    "check_folder_name", "safe_folder_name", "is_os_metadata", "cloud_synced",
    # Win32 through ctypes, declared (Windows only)
    "win32",
]


# -- processes ----------------------------------------------------------------------

def process_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs. POSIX: signal 0 probes without sending.
    Windows: OpenProcess + GetExitCodeProcess (os.kill would send CTRL_C_EVENT to a
    console group or terminate the process)."""
    return pid > 0 and current().process_alive(pid)


def no_core_dumps() -> None:
    """This process will not leave its memory in a core dump (call it before it holds a
    private key or decrypted content). Linux: RLIMIT_CORE 0 and PR_SET_DUMPABLE 0 (also
    for core handlers such as systemd-coredump, which ignore the limit; and no other
    process of the user may ptrace it or read its memory). macOS: RLIMIT_CORE 0.
    Windows: nothing (no core files; Windows Error Reporting dumps only where an
    administrator configured LocalDumps). Lasts until the process ends."""
    current().no_core_dumps()


def can_signal_for_control() -> bool:
    """Whether another process may be asked to stop by a signal. Windows: os.kill is
    TerminateProcess (no sealing, and maybe a stale pid reused by someone else's
    process): control goes through the channel only there."""
    return current().can_signal_for_control()


def shutdown_signals() -> tuple[str, ...]:
    """The signals that mean the machine or the session is going away. SIGHUP exists
    only on POSIX; Windows delivers shutdown through a window message (the
    windows-shutdown guard) and SIGTERM only when raised in-process."""
    import signal

    return tuple(name for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


# -- permissions --------------------------------------------------------------------

def make_owner_only(path: str | os.PathLike, *, folder: bool) -> None:
    """Only the user may open ``path``. POSIX: mode 0700/0600. Windows: a protected
    DACL granting full control to the user and SYSTEM, nobody else (``owner_only_sddl``)."""
    current().make_owner_only(os.fspath(path), folder=folder)


def writable_by_others(path: Path) -> str | None:
    """Why users other than this one (and the system) could plant files in ``path``, or
    None. POSIX: its owner and mode bits. Windows: its owner and DACL (a NULL DACL lets
    everyone write)."""
    return current().writable_by_others(path)


def admin_only(path: Path) -> str | None:
    """Why ``path`` (a site policy file) or its folder is not an administrator's alone,
    or None. POSIX: owned by root, not writable by group or others. Windows: owned by
    Administrators or SYSTEM, nobody else may write or create files there."""
    for place in (path, path.parent):
        why = current().admin_only(place)
        if why:
            return why
    return None


# -- folders ------------------------------------------------------------------------

def cloud_synced(folder: Path) -> str | None:
    """Which cloud service syncs ``folder`` to a third party, or None. Windows: OneDrive's
    folder redirection ("back up" Documents). macOS: iCloud's "Desktop & Documents
    Folders", or Documents as a link into iCloud Drive."""
    try:
        resolved = folder.expanduser().resolve()
    except OSError:
        resolved = folder
    return current().cloud_synced(folder, resolved)
