"""Private files and folders: 0700 folders, 0600 files from the first byte,
written whole (temporary file, fsync, rename) so a crash never leaves half a file."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, mode 0600."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def create_private_file(path: Path) -> None:
    """Create an empty 0600 file, refusing to touch one that exists."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def make_private_dir(path: Path, *, exist_ok: bool = False) -> None:
    """Create ``path`` 0700 (parents as needed); an existing folder is left as it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        if not exist_ok or not path.is_dir():
            raise
        return
    os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
