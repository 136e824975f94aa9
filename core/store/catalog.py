"""The sessions recorder knows about, wherever they were saved.

An index in the user state dir maps each session id to its folder; it is
updated when a session starts, ends and is saved. The folders plugins name
(``recorder_session_roots``: the prompt sink's staging) are scanned too, so a
session left unsaved is found even if the index lost it.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Iterable

import attrs
from recorder.console import warn
from recorder.errors import UsageError
from recorder.session import lock, manifest as manifests
from recorder.session.manifest import MANIFEST, Manifest, ManifestError
from recorder.store import results
from recorder.disk.state import StateFile, state_dir

INDEX = "catalog.json"


@attrs.frozen
class Summary:
    """One line of ``recorder list``."""

    id: str
    profile: str
    started_at: str
    duration: float
    size: int
    parts: int
    state: str  # recording states, plus saved / unsaved / in progress / incomplete / damaged (failed verify)
    end_reason: str | None
    folder: str
    support_session_id: str = ""
    labels: dict[str, str] = attrs.Factory(dict)
    held: bool = False  # under a legal hold (recorder hold): retention never deletes it

    def to_dict(self) -> dict:
        return attrs.asdict(self)


def _index() -> StateFile:
    return StateFile(state_dir() / INDEX)


def remember(session) -> None:
    with _index().update() as entries:
        entries[session.id] = {"folder": str(session.folder), "profile": session.profile}


def moved(session_id: str, folder: Path) -> None:
    with _index().update() as entries:
        entry = entries.get(session_id)
        entries[session_id] = {**(entry if isinstance(entry, dict) else {}), "folder": str(folder)}


def forget(session_id: str) -> None:
    with _index().update() as entries:
        entries.pop(session_id, None)


def _folders(roots: Iterable[Path]) -> list[Path]:
    folders = [Path(entry["folder"]) for entry in _index().read().values()
               if isinstance(entry, dict) and isinstance(entry.get("folder"), str)]
    for root in roots:
        if root.is_dir():
            folders += sorted(p for p in root.iterdir() if (p / MANIFEST).is_file())
    seen, unique = set(), []
    for folder in folders:
        if folder not in seen and (folder / MANIFEST).is_file():
            seen.add(folder)
            unique.append(folder)
    return unique


def folders(roots: Iterable[Path] = ()) -> list[Path]:
    """Every session folder: the catalog's first, then those found in ``roots``, each once."""
    return _folders(roots)


def state_of(manifest: Manifest) -> str:
    if manifest.state == "interrupted":
        return "interrupted"
    if manifest.state == "recording":
        return "in progress" if held_by_its_recorder(manifest) else "incomplete"
    return "unsaved" if manifest.unsaved else "saved"


def checked_state(manifest: Manifest) -> str:
    """``state_of``, except that a finished session whose last ``recorder verify``
    failed is ``damaged`` until it verifies again."""
    state = state_of(manifest)
    if state in ("saved", "unsaved"):
        verified = results.last(manifest.session_id)
        if verified is not None and not verified["ok"]:
            return "damaged"
    return state


def held_by_its_recorder(manifest: Manifest) -> bool:
    """The recorder that wrote the manifest still runs (the profile lock says so: a pid
    alone may have been reused since a crash)."""
    return manifest.host == socket.gethostname() and lock.holder(manifest.profile) == manifest.pid


def summary(folder: Path, manifest: Manifest) -> Summary:
    return Summary(manifest.session_id, manifest.profile, manifest.started_at.isoformat(), manifest.duration,
                   manifest.size, len(manifest.parts), checked_state(manifest), manifest.end_reason, str(folder),
                   manifest.support_session_id, dict(manifest.labels), manifest.held is not None)


def sessions(profile: str | None = None, roots: Iterable[Path] = ()) -> list[Summary]:
    """One row per session; where a crash left two copies (a move cut short), the
    one the catalog names."""
    rows: dict[str, Summary] = {}
    for folder in _folders(roots):  # the catalog's folders come first
        try:
            manifest = manifests.read(folder)
        except ManifestError as exc:
            warn(str(exc))  # said, not silently left out
            continue
        if (profile is None or manifest.profile == profile) and manifest.session_id not in rows:
            rows[manifest.session_id] = summary(folder, manifest)
    return sorted(rows.values(), key=lambda row: row.started_at)


def session_files(folder: Path, host=None) -> set[str]:
    """The names of every file that belongs to the session in ``folder``: session.json, its parts
    and the files kept beside them, and what plugins keep there (``recorder_session_files``: a
    signature, say). ManifestError (one line) if its session.json cannot be read."""
    from recorder.host.manager import load_plugins  # here: only what asks loads plugins

    manifest = manifests.read(folder)
    names = {MANIFEST} | {part.file for part in manifest.parts} | \
        {name for part in manifest.parts for name in part.sidecars}
    if manifest.text_index is not None:  # the text index (store/text_index.py)
        names.add(manifest.text_index.file)
    answers = (host or _plugins(load_plugins)).call("recorder_session_files", folder=folder) or []
    return names | {name for found in answers for name in found or []
                    if isinstance(name, str) and manifests.plain_name(name)}


_loaded: list = []  # the plugins session_files asks when not given them: loaded once per process


def _plugins(load):
    if not _loaded:
        _loaded.append(load())
    return _loaded[0]


def copies(session_id: str, roots: Iterable[Path]) -> list[Path]:
    """Every folder holding that session (more than one only after a move a crash cut short)."""
    found = []
    for folder in _folders(roots):
        try:
            if manifests.read(folder).session_id == session_id:
                found.append(folder)
        except ManifestError:
            continue
    return found


def find(ref: str, roots: Iterable[Path] = ()) -> Path:
    """A session folder from a path, a session id, or a unique prefix of one."""
    path = Path(ref).expanduser()
    if (path / MANIFEST).is_file():
        return path.resolve()
    matches = [row for row in sessions(roots=roots) if row.id.startswith(ref.lower())] if ref else []
    if len(matches) == 1:
        return Path(matches[0].folder)
    if not matches:
        raise UsageError(f"no session '{ref}': give a session folder or an id from 'recorder list'")
    raise UsageError(f"session id '{ref}' is ambiguous: {', '.join(m.id[:12] for m in matches)}")
