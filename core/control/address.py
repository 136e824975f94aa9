"""Socket addresses that fit: a Unix socket path is limited by ``sun_path`` (108 bytes
on Linux, 104 on macOS, the terminating NUL included), and a runtime or state dir
under a long home can be longer."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import sys
from pathlib import Path
from typing import Iterator

from recorder import platform
from recorder.errors import RecorderError

MAX_PATH = 100
MACOS_SUN_PATH = 104  # sizeof(sockaddr_un.sun_path) in macOS's <sys/un.h>, the NUL included
SHORT_BASE = "/tmp"  # macOS: a short base for the fallback folder (tests point it elsewhere)


def fitting(path: Path) -> Path:
    """``path``, or on macOS, when it is too long for a socket there, a short one that
    stands for it: ``/tmp/recorder-<uid>/<hash of path>.sock``. The server and its
    clients compute the same one, and another runtime dir or profile gets another."""
    if not platform.is_macos() or len(os.fsencode(str(path))) < MACOS_SUN_PATH:
        return path
    # macOS has no O_PATH to name the folder by a short descriptor (bound_address's Linux way)
    digest = hashlib.sha256(os.fsencode(str(path))).hexdigest()[:24]
    short = _private_folder(Path(SHORT_BASE)) / f"{digest}.sock"
    if len(os.fsencode(str(short))) >= MACOS_SUN_PATH:
        raise RecorderError(f"the control socket path {path} is longer than macOS allows "
                            f"({MACOS_SUN_PATH - 1} bytes), and so is the fallback {short}")
    return short


def _private_folder(base: Path) -> Path:
    """``base/recorder-<uid>``: made 0700 here, or found a folder (not a link) of this
    user's that only this user may use. /tmp is shared: anything else is refused."""
    if sys.platform == "win32":  # an if, not an assert: type checkers for Windows skip the rest
        raise RecorderError("no Unix sockets on Windows: the named pipe serves")
    folder = base / f"recorder-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder, 0o700)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        what = "a link" if stat.S_ISLNK(info.st_mode) else "not this user's folder"
        raise RecorderError(f"cannot make the control socket: {folder} (the short folder for it on macOS, "
                            f"where {MACOS_SUN_PATH - 1} bytes is the limit) is {what}")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, 0o700)  # this user's folder in a sticky /tmp: nobody else can swap it
    return folder


@contextlib.contextmanager
def bound_address(path: Path) -> Iterator[str]:
    """The address to bind or connect to ``path`` with, valid inside the block."""
    text = str(path)
    if (sys.platform != "linux" or platform.is_macos() or len(os.fsencode(text)) <= MAX_PATH
            or not os.path.isdir("/proc/self/fd")):
        yield text
    else:
        # Linux: the folder through an O_PATH descriptor, a short name for the same place.
        fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            yield f"/proc/self/fd/{fd}/{path.name}"
        finally:
            os.close(fd)
