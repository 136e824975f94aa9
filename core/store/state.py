"""Where recorder and its plugins keep state of their own (the user state dir),
and small JSON state files updated under a lock.

Plugins get a folder of their own (``plugin_state_dir``); nothing in core
knows what a plugin keeps there.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import platformdirs
from recorder.store.files import make_private_dir, write_private

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; a lost entry is the worst case
    fcntl = None

APP = "recorder"


def state_dir() -> Path:
    path = platformdirs.user_state_path(APP)
    make_private_dir(path, exist_ok=True)
    return path


def plugin_state_dir(plugin: str) -> Path:
    """A private folder for one plugin's state (``recorder.plugin_state_dir("prompt")``)."""
    path = state_dir() / "plugins" / plugin
    make_private_dir(path.parent, exist_ok=True)
    make_private_dir(path, exist_ok=True)
    return path


def data_dir() -> Path:
    path = platformdirs.user_data_path(APP)
    make_private_dir(path, exist_ok=True)
    return path


def documents_dir() -> Path:
    return Path(platformdirs.user_documents_dir())


def recordings_dir() -> Path:
    """Where sessions are saved unless the profile says otherwise: Documents/SessionRecordings."""
    return documents_dir() / "SessionRecordings"


class StateFile:
    """A small JSON object kept in one file; ``update()`` is a locked
    read-modify-write, so that two recorders (two profiles) finishing at once
    do not lose each other's entry."""

    def __init__(self, path: Path):
        self.path = path

    def read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def write(self, data: dict[str, Any]) -> None:
        write_private(self.path, json.dumps(data, indent=2).encode() + b"\n")

    @contextmanager
    def update(self) -> Iterator[dict[str, Any]]:
        fd = os.open(self.path.with_name(f".{self.path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            data = self.read()
            yield data
            self.write(data)
        finally:
            os.close(fd)
