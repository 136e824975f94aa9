"""What the session commands share: finding a session (by folder, id, id prefix or support
session id, or through a plugin), the profile given before the command, plugins' notes, and
the progress bar shown only on a terminal."""

from __future__ import annotations

from pathlib import Path

import click
from recorder.config import layers
from recorder.console import console
from recorder.errors import UsageError
from recorder.host.manager import PluginHost, load_plugins
from recorder.session import manifest as manifests
from recorder.store import catalog
from recorder.disk.files import make_private_dir
from recorder.disk.state import cache_dir
from recorder.values import SessionNote
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn


def roots(host: PluginHost) -> list[Path]:
    """Folders plugins keep sessions in (staging), scanned besides the catalog."""
    return [Path(root) for found in host.call("recorder_session_roots") for root in found or ()]


def given_profile(ctx: click.Context, profile: str | None) -> str | None:
    """--profile after the command name, or before it (recorder --profile rep list)."""
    return profile or (ctx.obj or {}).get("profile")


def known_profile(profile: str, rows: list[catalog.Summary]) -> None:
    known = layers.load_config().profiles()
    if profile not in known and not any(row.profile == profile for row in rows):
        raise UsageError(f"unknown profile '{profile}' (known profiles: {', '.join(known) or 'none'})")


def identity_option(purpose: str):
    return click.option("--identity", "-i", metavar="FILE", help=f"For a session whose parts are protected (by a "
                        f"part stream: the encrypt guard's, say): the key that opens them, {purpose}; a file, "
                        "'-' for standard input, or env:NAME for an environment variable holding it. Passed to "
                        "the part streams, never kept anywhere.")


def progress_bar(label: str) -> Progress:
    # Off when stderr is not a terminal: a transient bar there leaves a blank line in logs.
    return Progress(TextColumn(label), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                    console=console(), transient=True, disable=not console().is_terminal)


def notes(host: PluginHost, session_ids: list[str]) -> dict[str, list[SessionNote]]:
    """What plugins know about these sessions (recorder_session_notes), by session id."""
    found: dict[str, list[SessionNote]] = {}
    for answer in host.call("recorder_session_notes", session_ids=session_ids):
        for note in answer or ():
            if isinstance(note, SessionNote):
                found.setdefault(note.session_id, []).append(note)
    return found


def refuse_live(manifest: manifests.Manifest, what: str) -> None:
    # Live until its recorder lets the lock go: sealed, it may still be asking where to save.
    if catalog.held_by_its_recorder(manifest):
        raise UsageError(f"session {manifest.session_id[:8]} is being recorded (pid {manifest.pid}) and cannot "
                         f"be {what}; end it first: recorder stop --profile {manifest.profile}")


def by_support_id(support_id: str, host: PluginHost) -> Path | None:
    """The recording of support session ``support_id`` on this machine (as ``list --session-id``
    finds it); None when there is none, a usage error when several recordings serve it."""
    rows = [row for row in catalog.sessions(roots=roots(host)) if row.support_session_id == support_id]
    if len(rows) > 1:
        raise UsageError(f"support session '{support_id}' has {len(rows)} recordings: "
                         f"{', '.join(row.id[:8] for row in rows)}; give one of those ids")
    return Path(rows[0].folder) if rows else None


def find_session(ref: str, host: PluginHost | None = None) -> Path:
    """A session on this machine (folder, id, id prefix, support session id), or else a copy
    a plugin fetched (recorder_find_session)."""
    host = host or load_plugins()
    try:
        return catalog.find(ref, roots=roots(host))
    except UsageError as exc:
        if found := by_support_id(ref, host):
            return found
        cache = cache_dir() / "found"
        make_private_dir(cache, exist_ok=True)
        fetched = host.call("recorder_find_session", ref=ref, cache=cache)
        if fetched is None:
            raise exc from None
        return Path(fetched)
