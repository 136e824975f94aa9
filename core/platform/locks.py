"""Exclusive locks that the system releases when the process dies, however it dies:
flock on POSIX, LockFileEx on Windows, by the ``filelock`` library."""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

import filelock

from recorder.platform.files import FILE_MODE


def file_lock(path: str | os.PathLike) -> filelock.BaseFileLock:
    """An exclusive lock on ``path``. Not reentrant across processes;
    ``acquire(timeout=0)`` does not wait."""
    return filelock.FileLock(os.fspath(path), mode=FILE_MODE, is_singleton=False)


@contextlib.contextmanager
def locked(path: str | os.PathLike, timeout: float = -1) -> Iterator[None]:
    """Hold ``file_lock(path)`` for the block (waiting for it unless ``timeout`` >= 0)."""
    with file_lock(path).acquire(timeout=timeout):
        yield


def lock_held(path: str | os.PathLike) -> bool:
    """Whether another process holds ``file_lock(path)`` now (tried without waiting)."""
    lock = file_lock(path)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        return True
    lock.release()
    return False
