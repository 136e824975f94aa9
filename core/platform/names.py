"""Names every system accepts: folder names, the control pipe's name, and the OS's
own metadata files that appear in folders a user opens."""

from __future__ import annotations

import getpass
import os
import re


def user_name() -> str:
    """The login name, for per-user names such as the control pipe (no pwd on Windows)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return str(getattr(os, "getuid", lambda: "user")())


def pipe_name(profile: str) -> str:
    """The Windows named pipe of a profile's control channel (``\\\\.\\pipe\\recorder-USER-PROFILE``):
    Windows has no Unix sockets in Python, and a pipe's name is per machine, so the
    user is part of it; its ACL admits only that user."""
    user = re.sub(r"[^A-Za-z0-9_.-]", "_", user_name())
    return rf"\\.\pipe\recorder-{user}-{profile}"


def check_folder_name(name: str, what: str) -> str | None:
    """Why ``name`` cannot be a folder name on every system recorder runs on, or None:
    Windows refuses ``: * ? " < > |``, control characters, trailing dots and spaces and
    the device names (CON, NUL, COM1...); POSIX refuses ``/`` and NUL; macOS ``:``.
    Checked with pathvalidate for the universal platform."""
    from pathvalidate import ValidationError, validate_filename

    if name in (".", ".."):
        return f"{what}: {name!r} is not a folder name"
    try:
        validate_filename(name, platform="universal")
    except ValidationError as exc:
        return f"{what}: {name!r} cannot be a folder name on every system ({exc.reason.name.lower()})"
    return None


def safe_folder_name(name: str) -> str:
    """``name`` made valid on every system (see ``check_folder_name``), for names built
    from the support session's input: invalid characters become ``_``."""
    from pathvalidate import sanitize_filename

    return sanitize_filename(name, replacement_text="_", platform="universal") or "_"


# OS metadata that Finder, Explorer and file sync write into any folder a user opens:
# never part of a session, never a reason to call one damaged or to keep it.
METADATA_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini", "Icon\r", ".localized", "ehthumbs.db"})


def is_os_metadata(name: str) -> bool:
    """Whether ``name`` is a file the OS or its file manager writes into folders:
    .DS_Store, Icon\\r, ._* AppleDouble (macOS), Thumbs.db, desktop.ini (Windows)."""
    return name in METADATA_NAMES or name.startswith("._")
