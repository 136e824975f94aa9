"""Opening, writing and replacing files the same way on every system.

What differs is decided at call time: by the features ``os`` has (``os.pread``,
``os.posix_fallocate``, ``os.O_BINARY``) or by the system's module
(``system.current()``), so that tests can take a feature away (tests/foreign_os.py).
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import IO, Any

from recorder.platform import system

UTF8 = "utf-8"
FILE_MODE = 0o600
DIR_MODE = 0o700
# Windows: ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION: another
# handle (antivirus, the search indexer, OneDrive, `recorder list`) has the file open.
SHARING_VIOLATIONS = frozenset({5, 32, 33})
REPLACE_ATTEMPTS = 20
REPLACE_DELAY = 0.05  # seconds, doubled up to REPLACE_MAX_DELAY: about 5 s in all
REPLACE_MAX_DELAY = 0.5


# -- opening files ------------------------------------------------------------------

def binary_flags(flags: int) -> int:
    """``flags`` for an ``os.open`` of bytes. Windows opens in text mode unless O_BINARY
    is given (a CRLF for every LF written, a read stopping at ^Z): a copied part would
    fail its hash. O_BINARY exists only on Windows; elsewhere this adds nothing."""
    return flags | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOINHERIT", 0)


def nofollow(flags: int) -> int:
    """``flags`` refusing to open through a symlink (O_NOFOLLOW on POSIX). Windows has
    no O_NOFOLLOW; creating symlinks there needs a privilege ordinary users lack."""
    return flags | getattr(os, "O_NOFOLLOW", 0)


def open_binary(path: str | os.PathLike, flags: int, mode: int = FILE_MODE) -> int:
    """``os.open`` of a file of bytes, never in Windows' text mode (see ``binary_flags``)."""
    return os.open(path, binary_flags(flags), mode)


def open_text(path: str | os.PathLike, mode: str = "r", **kwargs: Any) -> IO[str]:
    """A text file, always UTF-8: the locale's encoding is cp1252 on many Windows
    machines and would fail on (or silently change) anything outside it."""
    return open(path, mode, encoding=UTF8, **kwargs)


def read_text(path: Path) -> str:
    """``path``'s text as UTF-8, whatever the locale (see ``open_text``)."""
    return path.read_text(encoding=UTF8)


# -- durability ---------------------------------------------------------------------

def fsync(fd: int) -> None:
    """Flush ``fd``'s file to the drive. macOS: plain fsync only reaches the drive's
    cache, F_FULLFSYNC flushes it. Windows: fsync is FlushFileBuffers, which needs a
    handle opened for writing; ``fd`` must be one there (see ``sync_handle``)."""
    system.current().fsync(fd)


def sync_handle(path: str | os.PathLike) -> int:
    """A descriptor of ``path`` that ``fsync`` can flush and ``pread`` can read (the
    rescue copy reads a lost folder's part through it). POSIX: read-only is enough, an
    fsync through any descriptor flushes the file. Windows: FlushFileBuffers needs write
    access and a read needs read access, so both."""
    return os.open(path, binary_flags(nofollow(system.current().sync_flags())))


def fsync_folder(folder: str | os.PathLike) -> None:
    """Make a rename or a new file in ``folder`` durable (nothing to do on Windows,
    where NTFS journals the rename and a folder cannot be opened)."""
    system.current().fsync_folder(os.fspath(folder))


def replace(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """``os.replace`` that outlasts a moment of sharing: on Windows a rename onto (or
    of) a file another process holds open fails with a sharing violation (winerror
    5/32/33) until that handle closes; retried with backoff for about 5 s, then raised.
    POSIX renames never fail that way: one attempt."""
    _retry(os.replace, source, target)


def rename(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """``os.rename`` (refuses an existing target on Windows, replaces a file on POSIX)
    with the same retry on sharing violations as ``replace``."""
    _retry(os.rename, source, target)


def _retry(call, source, target) -> None:
    delay = REPLACE_DELAY
    for attempt in range(REPLACE_ATTEMPTS):
        try:
            call(source, target)
            return
        except PermissionError as exc:
            if getattr(exc, "winerror", None) not in SHARING_VIOLATIONS or attempt == REPLACE_ATTEMPTS - 1:
                raise
        time.sleep(delay)
        delay = min(delay * 2, REPLACE_MAX_DELAY)


def pread(fd: int, size: int, offset: int) -> bytes:
    """Read ``size`` bytes at ``offset`` without moving the file position on POSIX.
    Windows has no os.pread: seek and read there (the caller owns the descriptor)."""
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, size)


def pwrite(fd: int, data: bytes, offset: int) -> int:
    """Write ``data`` at ``offset`` (os.pwrite on POSIX; seek and write on Windows, which has none)."""
    if hasattr(os, "pwrite"):
        return os.pwrite(fd, data, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.write(fd, data)


def preallocate(fd: int, size: int) -> None:
    """Set ``size`` bytes aside for ``fd``'s file. Linux: posix_fallocate (real blocks,
    ENOSPC now rather than later). macOS and Windows have no posix_fallocate: the bytes
    are written as zeros in 1 MiB blocks (a truncate alone would make a sparse file and
    reserve nothing). Raises OSError only (ENOSPC when the disk is too full)."""
    allocate = getattr(os, "posix_fallocate", None)
    if allocate is not None:
        try:
            allocate(fd, 0, size)
            return
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOSYS):
                raise  # ENOSPC and the like: the answer. Unsupported filesystem: write zeros.
    block = b"\0" * min(size, 1 << 20)
    os.lseek(fd, 0, os.SEEK_SET)
    left = size
    while left > 0:
        left -= os.write(fd, block[:left])
    fsync(fd)


def is_under(path: Path, root: Path) -> bool:
    """Whether ``path`` (resolved) is ``root`` or inside it, compared as the system
    compares names (case-insensitively on Windows)."""
    try:
        root = root.expanduser().resolve()
    except OSError:
        pass
    name, top = os.path.normcase(str(path)), os.path.normcase(str(root))
    return name == top or name.startswith(top.rstrip("\\/") + os.sep)
