"""Where recorder keeps its own state: staging, remembered save locations, the catalog."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import platformdirs
from recorder.manifest import make_private_dir, write_private

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; a lost catalog entry is the worst case
    fcntl = None

APP = "recorder"


def state_dir() -> Path:
    path = platformdirs.user_state_path(APP)
    make_private_dir(path, exist_ok=True)
    return path


def staging_root() -> Path:
    """Private folder where sessions are written until the user says where they go."""
    return platformdirs.user_data_path(APP) / "staging"


def default_save_dir() -> Path:
    return Path(platformdirs.user_documents_dir()) / "SessionRecordings"


def read_state(name: str) -> dict[str, Any]:
    try:
        return json.loads((state_dir() / name).read_text())
    except (OSError, ValueError):
        return {}


def write_state(name: str, data: dict[str, Any]) -> None:
    write_private(state_dir() / name, json.dumps(data, indent=2).encode() + b"\n")


@contextmanager
def updating(name: str) -> Iterator[dict[str, Any]]:
    """Read-modify-write a state file under an exclusive lock, so that two
    recorders (two profiles) finishing at once do not lose each other's entry."""
    fd = os.open(state_dir() / f".{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        data = read_state(name)
        yield data
        write_state(name, data)
    finally:
        os.close(fd)


def remembered_location(profile: str) -> Path | None:
    value = read_state("locations.json").get(profile)
    return Path(value) if value else None


def remember_location(profile: str, path: Path) -> None:
    with updating("locations.json") as data:
        data[profile] = str(path)
