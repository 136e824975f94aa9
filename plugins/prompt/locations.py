"""The prompt sink's own state: its staging folder and the save location it
remembers per profile."""

from __future__ import annotations

from pathlib import Path

import platformdirs
from recorder import StateFile, make_private_dir, plugin_state_dir

LOCATIONS = "locations.json"


def staging_root() -> Path:
    """Private folder where sessions are written until the user says where they go."""
    root = platformdirs.user_data_path("recorder", appauthor=False) / "staging"
    make_private_dir(root.parent, exist_ok=True)
    make_private_dir(root, exist_ok=True)
    return root


def _locations() -> StateFile:
    return StateFile(plugin_state_dir("prompt") / LOCATIONS)


def remembered_location(profile: str) -> Path | None:
    value = _locations().read().get(profile)
    if not value:  # recorder 0.1 kept it in the state folder itself
        value = StateFile(plugin_state_dir("prompt").parent.parent / LOCATIONS).read().get(profile)
    return Path(value) if isinstance(value, str) and value else None


def remember_location(profile: str, path: Path) -> None:
    with _locations().update() as data:
        data[profile] = str(path)
