"""Files that live in memory only: what a part stream reads back from protected parts.

Content a part stream protects (an encrypted part, read back with a key) never
reaches a disk: it goes into an anonymous memory file (``memfd``, reachable as
``/proc/self/fd/N`` by PyAV and FFmpeg) for ``export`` and ``info``, or into a
private folder on a tmpfs (the user's runtime dir, or ``/dev/shm``) for
``play``, whose browser needs a path; that folder is removed when ``play`` ends.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import Iterator

from recorder import platform
from recorder.errors import UsageError
from recorder.disk.files import DIR_MODE, FILE_MODE, NOFOLLOW

MEMORY_FILESYSTEMS = ("tmpfs", "ramfs")


def memory_file(data: bytes, name: str = "recorder-part") -> Path:
    """``data`` in an anonymous memory file, as a path PyAV and FFmpeg open; it lives
    as long as this process (the descriptor is deliberately never closed)."""
    fd = _memfd(name)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    return Path(f"/proc/self/fd/{fd}")


def memory_output(name: str = "recorder-export") -> Path:
    return Path(f"/proc/self/fd/{_memfd(name)}")


def _memfd(name: str) -> int:
    """An anonymous memory file (Linux only, by design: protected content never touches a disk;
    macOS and Windows have no equivalent PyAV can open by path)."""
    if sys.platform != "linux":
        raise UsageError("reading a protected session into memory needs Linux (memfd); see docs/platforms.md")
    return os.memfd_create(name, os.MFD_CLOEXEC)


def release(path: Path) -> None:
    """Give back the memory of a file from ``memory_file`` or ``memory_output``."""
    os.close(int(path.name))


def write_new(path: Path, data: bytes) -> None:
    """``data`` as a new 0600 file (in a memory folder)."""
    fd = platform.open_binary(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, FILE_MODE)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _filesystem_of(path: Path) -> str:
    """The type of the filesystem ``path`` is on (from /proc/self/mounts)."""
    best, kind = "", ""
    try:
        lines = Path("/proc/self/mounts").read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except OSError:
        return ""
    target = str(path.resolve())
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        mount = fields[1].replace("\\040", " ")
        if (target == mount or target.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best):
            best, kind = mount, fields[2]
    return kind


def memory_places() -> list[Path]:
    places = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        places.append(Path(runtime))
    places.append(Path("/dev/shm"))
    return [p for p in places if p.is_dir() and _filesystem_of(p) in MEMORY_FILESYSTEMS]


@contextlib.contextmanager
def memory_folder(purpose: str) -> Iterator[Path]:
    """A private (0700) folder in memory (tmpfs), removed with everything in it afterwards."""
    places = memory_places()
    if not places:
        raise UsageError(f"no memory-backed folder to read protected parts into for {purpose} (neither "
                         "$XDG_RUNTIME_DIR nor /dev/shm is a tmpfs): they are never written to a disk")
    folder = places[0] / f"recorder-{purpose}-{os.getpid()}-{secrets.token_hex(8)}"
    os.mkdir(folder, DIR_MODE)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_stale_folders(purpose: str) -> None:
    """Folders left by a ``play`` that was killed (its process is gone)."""
    for place in memory_places():
        for stale in place.glob(f"recorder-{purpose}-*"):
            try:
                pid = int(stale.name.split("-")[2])
            except (IndexError, ValueError):
                continue
            if stale.owner() == _me() and not Path(f"/proc/{pid}").exists():
                shutil.rmtree(stale, ignore_errors=True)


def _me() -> str:
    if sys.platform == "win32":
        return platform.user_name()
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name
