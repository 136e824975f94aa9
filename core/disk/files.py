"""Private files and folders: 0700 folders, 0600 files from the first byte,
written whole (temporary file, fsync, rename) so a crash never leaves half a file."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from recorder import platform
from recorder.disk.crashpoints import crash_point

FILE_MODE = 0o600
DIR_MODE = 0o700
NOFOLLOW = platform.nofollow(0)  # not on Windows, which has no symlinks for users to plant


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_private(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Write ``data`` (bytes, or blocks of them: a download) to ``path`` whole: a temporary
    file with an unpredictable name, created exclusively 0600, fsynced, then renamed over
    ``path`` (which replaces a symlink there rather than following it)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            for block in (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data:
                fh.write(block)
            fh.flush()
            platform.fsync(fh.fileno())
        crash_point("write:temporary")
        platform.replace(tmp, path)  # retried while a reader on Windows holds ``path``
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def private_workdir(near: Path) -> Iterator[Path]:
    """A 0700 folder with an unpredictable name beside ``near``, removed afterwards
    with whatever is left in it: the place to write a result before renaming it into place."""
    folder = Path(tempfile.mkdtemp(prefix=f".{near.name}.", suffix=".partial", dir=near.parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def private_temporary(near: Path, suffix: str = ".partial") -> Path:
    """An empty 0600 file with an unpredictable name beside ``near``, created exclusively
    (never through a symlink someone planted), for a result renamed into place when complete."""
    fd, name = tempfile.mkstemp(prefix=f".{near.name}.", suffix=suffix, dir=near.parent)
    os.close(fd)
    return Path(name)


def create_private_file(path: Path) -> None:
    """Create an empty 0600 file, refusing to touch one that exists (or a symlink)."""
    os.close(platform.open_binary(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, FILE_MODE))


def make_private_dir(path: Path, *, exist_ok: bool = False) -> None:
    """Create ``path`` 0700, and any missing parent 0700 too (whatever the umask);
    an existing folder is left as it is."""
    missing = []
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    if not parent.is_dir():  # say which one is in the way
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(parent))
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=DIR_MODE)
            platform.make_owner_only(folder, folder=True)  # mkdir's mode is filtered by the umask
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        if not exist_ok or not path.is_dir():
            raise
        return
    platform.make_owner_only(path, folder=True)  # Windows: mkdir's mode is ignored


def shared_with_others(folder: Path) -> str | None:
    """Why other users could plant files or links in ``folder`` (or None): it is
    writable by group or others without the sticky bit (POSIX) or by an ACE for someone
    else (Windows), or belongs to someone else."""
    return platform.writable_by_others(folder)


def fsync_folder(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (a no-op where folders cannot be opened)."""
    platform.fsync_folder(folder)


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
