"""One recorder per profile and user: an exclusive lock on a file in the runtime dir.

The kernel releases the lock when the process dies, however it dies, so a
lock left by a crashed recorder is simply free to take over. The file holds
the pid, for ``recorder stop``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs
from recorder.errors import UsageError
from recorder.store.files import make_private_dir
from recorder.store.state import state_dir

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


def runtime_dir() -> Path:
    # Outside a login session Linux has no XDG_RUNTIME_DIR, and platformdirs
    # would fall back to a folder shared by every HOME of the user: use the state dir.
    if not (sys.platform.startswith("linux") and not os.environ.get("XDG_RUNTIME_DIR")):
        path = platformdirs.user_runtime_path("recorder")
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


class ProfileLock:
    def __init__(self, profile: str):
        self.profile = profile
        self.fd: int | None = None

    def acquire(self) -> None:
        path = lock_path(self.profile)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                pid = holder(self.profile)
                raise UsageError(f"a recorder is already running for profile '{self.profile}'"
                                 f"{f' (pid {pid})' if pid else ''}; end it with: "
                                 f"recorder stop --profile {self.profile}") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock
            self.fd = None


def holder(profile: str) -> int | None:
    """The pid of the recorder running for ``profile``, or None."""
    path = lock_path(profile)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
                return None  # nobody holds it
            except BlockingIOError:
                pass
        text = os.read(fd, 32).decode().strip()
        return int(text) if text.isdigit() else None
    finally:
        os.close(fd)


def running_profiles() -> list[str]:
    return sorted(p.stem for p in runtime_dir().glob("*.lock") if holder(p.stem) is not None)
