"""Which operating system's module answers, chosen at call time.

``current()`` reads ``sys.platform`` on every call, never once at import: tests give
Linux another system's semantics by patching this module's ``sys``
(tests/foreign_os.py), and the code under test then takes that system's path.
Each system's module (``windows``, ``macos``, ``posix``) implements ``System``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Protocol


class System(Protocol):
    """What differs between operating systems; one module implements it per system."""

    def fsync(self, fd: int) -> None: ...

    def sync_flags(self) -> int: ...

    def fsync_folder(self, folder: str) -> None: ...

    def process_alive(self, pid: int) -> bool: ...

    def can_signal_for_control(self) -> bool: ...

    def no_core_dumps(self) -> None: ...

    def make_owner_only(self, path: str, *, folder: bool) -> None: ...

    def writable_by_others(self, path: Path) -> str | None: ...

    def admin_only(self, place: Path) -> str | None: ...

    def cloud_synced(self, folder: Path, resolved: Path) -> str | None: ...


def is_windows() -> bool:
    return sys.platform == "win32"


def is_macos() -> bool:
    return sys.platform == "darwin"


def current() -> System:
    """The module of the system this process runs on (as tests may pretend)."""
    if is_windows():
        from recorder.platform import windows

        return windows
    if is_macos():
        from recorder.platform import macos

        return macos
    from recorder.platform import posix

    return posix
