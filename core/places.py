"""Where recorder keeps its own state: staging, remembered save locations, the catalog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import platformdirs
from recorder.manifest import make_private_dir, write_private

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


def remembered_location(profile: str) -> Path | None:
    value = read_state("locations.json").get(profile)
    return Path(value) if value else None


def remember_location(profile: str, path: Path) -> None:
    data = read_state("locations.json")
    data[profile] = str(path)
    write_state("locations.json", data)
