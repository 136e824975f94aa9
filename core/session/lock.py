"""One recorder per profile and user: an exclusive lock on a file in the runtime dir.

The system releases the lock when the process dies, however it dies, so a lock
left by a crashed recorder is simply free to take over. The lock is the
``filelock`` library's (flock on POSIX, LockFileEx on Windows, where a locked
file cannot even be read): the pid, for ``recorder stop`` and messages, is kept
in a file of its own beside it.
"""

from __future__ import annotations

import os
from pathlib import Path

import filelock
from recorder import platform
from recorder.errors import UsageError
from recorder.disk.files import make_private_dir
from recorder.disk.state import runtime_path, state_dir


def runtime_dir() -> Path:
    # Outside a login session Linux has no XDG_RUNTIME_DIR (or one that is no usable folder),
    # and platformdirs would fall back to a folder shared by every HOME of the user: use the state dir.
    path = runtime_path()
    if path is not None:
        try:
            make_private_dir(path, exist_ok=True)
            return path
        except OSError:
            pass
    fallback = state_dir() / "run"
    make_private_dir(fallback, exist_ok=True)
    return fallback


def lock_path(profile: str) -> Path:
    return runtime_dir() / f"{profile}.lock"


def pid_path(profile: str) -> Path:
    return runtime_dir() / f"{profile}.pid"


class ProfileLock:
    def __init__(self, profile: str):
        self.profile = profile
        self.lock: filelock.BaseFileLock | None = None

    def acquire(self) -> None:
        lock = platform.file_lock(lock_path(self.profile))
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            pid = holder(self.profile)
            raise UsageError(f"a recorder is already running for profile '{self.profile}'"
                             f"{f' (pid {pid})' if pid else ''}; end it with: "
                             f"recorder stop --profile {self.profile}") from None
        _write_pid(pid_path(self.profile))
        self.lock = lock

    def release(self) -> None:
        if self.lock is not None:
            pid_path(self.profile).unlink(missing_ok=True)  # nothing left behind by a clean exit
            self.lock.release()
            self.lock = None


def _write_pid(path: Path) -> None:
    """The pid, replaced whole (a reader never sees half of it); read only while the lock is held."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = platform.open_binary(temporary, platform.nofollow(os.O_WRONLY | os.O_CREAT | os.O_TRUNC))
    try:
        os.write(fd, str(os.getpid()).encode())
    finally:
        os.close(fd)
    platform.replace(temporary, path)


def holder(profile: str) -> int | None:
    """The pid of the recorder running for ``profile``, or None (0 when one runs but
    its pid file is not there yet)."""
    path = lock_path(profile)
    if not path.exists() or not platform.lock_held(path):
        return None
    try:
        text = pid_path(profile).read_bytes().decode("ascii", "replace").strip()
    except OSError:
        return 0
    return int(text) if text.isdigit() else 0


def running_profiles() -> list[str]:
    return sorted(p.stem for p in runtime_dir().glob("*.lock") if holder(p.stem) is not None)
