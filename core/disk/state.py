"""Where recorder and its plugins keep state of their own (the user state dir),
and small JSON state files updated under a lock.

Plugins get a folder of their own (``plugin_state_dir``); nothing in core
knows what a plugin keeps there.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import platformdirs
from recorder import platform
from recorder.console import warn
from recorder.errors import UsageError
from recorder.disk.files import make_private_dir, write_private

APP = "recorder"
# Every platformdirs call passes appauthor=False: on Windows the author defaults to the app's
# name, which doubles it (AppData\Local\recorder\recorder, C:\ProgramData\recorder\recorder)
# where the docs name one folder. Linux and macOS paths have no author part: unchanged.

# platformdirs warns (RuntimeDirWarning, printed with its source file and line) when
# XDG_RUNTIME_DIR is no usable folder and it falls back to another one. recorder copes
# (runtime_path: its own state folder then), so there is nothing for the user to see.
if hasattr(platformdirs, "RuntimeDirWarning"):  # platformdirs 4.4 and later
    warnings.filterwarnings("ignore", category=platformdirs.RuntimeDirWarning)


def own_folder(path: Path, variable: str) -> Path:
    """``path`` created 0700 if need be; one line naming the environment variable
    behind it if it cannot be (``XDG_STATE_HOME`` pointing to a file, say)."""
    try:
        make_private_dir(path, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot use {path} as recorder's folder: {exc.strerror or exc} "
                         f"(check {variable})") from None
    return path


def state_dir() -> Path:
    return own_folder(platformdirs.user_state_path(APP, appauthor=False), "XDG_STATE_HOME")


def plugin_state_dir(plugin: str) -> Path:
    """A private folder for one plugin's state (``recorder.plugin_state_dir("prompt")``)."""
    own_folder(state_dir() / "plugins", "XDG_STATE_HOME")
    return own_folder(state_dir() / "plugins" / plugin, "XDG_STATE_HOME")


def runtime_path() -> Path | None:
    """The user's runtime folder for recorder; None on Linux where XDG_RUNTIME_DIR is unset or
    is no folder platformdirs accepts (a file, another user's, not 0700): platformdirs would
    then fall back to a folder shared by every HOME of the user, and recorder uses its state
    folder instead (``state_dir() / "run"``)."""
    path = platformdirs.user_runtime_path(APP, appauthor=False)
    if sys.platform.startswith("linux"):
        variable = os.environ.get("XDG_RUNTIME_DIR")
        if not variable or path.parent != Path(variable):
            return None
    return path


def data_dir() -> Path:
    return own_folder(platformdirs.user_data_path(APP, appauthor=False), "XDG_DATA_HOME")


def cache_dir() -> Path:
    return own_folder(platformdirs.user_cache_path(APP, appauthor=False), "XDG_CACHE_HOME")


def documents_dir() -> Path:
    return Path(platformdirs.user_documents_dir())


def recordings_dir() -> Path:
    """Where sessions are saved unless the profile says otherwise: Documents/SessionRecordings."""
    return documents_dir() / "SessionRecordings"


def set_aside(path: Path, why: str) -> Path | None:
    """Rename a damaged file out of the way (kept for a look), and say so in one line."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    try:
        platform.replace(path, aside)
    except OSError:
        aside = None
    where = f"; set aside as {aside.name}" if aside else ""
    warn(f"{path} is damaged ({why.splitlines()[0][:120]}){where}")
    return aside


class StateFile:
    """A small JSON object kept in one file; ``update()`` is a locked
    read-modify-write, so that two recorders (two profiles) finishing at once
    do not lose each other's entry."""

    def __init__(self, path: Path):
        self.path = path

    def read(self) -> dict[str, Any]:
        """The object in the file; a damaged file is set aside (renamed, named in one
        warning) and reads as empty, so that it never stops the next recording."""
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            warn(f"{self.path}: cannot be read ({exc.strerror}); ignored")
            return {}
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            set_aside(self.path, str(exc))
            return {}
        return data

    def write(self, data: dict[str, Any]) -> None:
        write_private(self.path, json.dumps(data, indent=2).encode() + b"\n")

    @contextmanager
    def update(self) -> Iterator[dict[str, Any]]:
        with platform.locked(self.path.with_name(f".{self.path.name}.lock")):
            data = self.read()
            yield data
            self.write(data)
