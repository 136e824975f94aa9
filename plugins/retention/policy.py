"""Which saved sessions retention deletes, and why: the rules of a profile's ``retention``
table applied to its sessions, oldest first. The guard applies the plan at each session start,
``recorder retention`` on demand, and ``recorder retention --dry-run`` only says it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable

import attrs
from recorder import (ByteSize, ManifestError, SessionSummary, delete_session_folder, forget_session, human_size,
                      option, platform, read_manifest)


@attrs.frozen
class RetentionOptions:
    keep_days: float = option(0.0, "Delete saved sessions older than this many days (0: keep).",
                              validator=[attrs.validators.ge(0), attrs.validators.le(36500)])
    keep_total_size: ByteSize = option(ByteSize(0), "Delete the oldest saved sessions while the "
                                                    "profile's total is above this (0: no limit).")


@attrs.frozen
class Verdict:
    row: SessionSummary
    goes: bool  # deleted (or, in a dry run, would be)
    why: str  # the rule that picks it, and for one kept, why it stays anyway
    held: bool = False  # kept because it is under a legal hold (as it should be: no warning)


def _only_a_session(folder: Path, session_files: set[str]) -> bool:
    """The folder holds the session's files and at most the OS's metadata files
    (.DS_Store, Thumbs.db, desktop.ini, ._* written by a file manager that opened it)."""
    return all(p.is_file() and (p.name in session_files or (platform.is_os_metadata(p.name) and not p.is_symlink()))
               for p in folder.iterdir())


def plan(rows: Iterable[SessionSummary], options: RetentionOptions, belongs: Callable[[Path], set[str]],
         now: datetime | None = None, skip: str = "") -> list[Verdict]:
    """Each saved session a rule picks, oldest first, and whether it goes. A held session (a legal
    hold) stays and still counts towards the total; so does a folder holding files that are not
    the session's (``belongs``: the names that are). ``skip``: the session being recorded."""
    now = now or datetime.now(timezone.utc)
    saved = [row for row in rows if row.state == "saved" and row.id != skip]
    total = sum(row.size for row in saved)
    limit = int(options.keep_total_size)
    verdicts = []
    for row in sorted(saved, key=lambda row: row.started_at):
        too_old = bool(options.keep_days) and \
            now - datetime.fromisoformat(row.started_at) > timedelta(days=options.keep_days)
        too_big = bool(limit) and total > limit
        if not (too_old or too_big):
            continue
        why = f"older than {options.keep_days:g} days" if too_old else \
            f"the profile's sessions are over {human_size(limit)} in total ({human_size(total)})"
        kept = _kept(Path(row.folder), row, belongs)
        if kept:
            verdicts.append(Verdict(row, False, f"{why}, but {kept}", held=row.held))
            continue
        verdicts.append(Verdict(row, True, why))
        total -= row.size
    return verdicts


def _kept(folder: Path, row: SessionSummary, belongs: Callable[[Path], set[str]]) -> str:
    """Why a session a rule picks stays ('' if it goes)."""
    try:
        held = read_manifest(folder).held
        if held is not None:
            return f"kept: held since {held.time[:19].replace('T', ' ')} by {held.by} " \
                   f"({held.data.get('reason', held.text)})"
        if not _only_a_session(folder, belongs(folder)):
            return "kept: its folder holds files that are not the session's"
    except (ManifestError, OSError) as exc:
        return f"kept: {exc}"
    return ""


def apply(verdict: Verdict) -> str | None:
    """Delete a session the plan says goes; None, or why it is kept for now."""
    folder = Path(verdict.row.folder)
    try:
        held = read_manifest(folder).held  # held since the plan was made: it stays
    except (ManifestError, OSError) as exc:
        return str(exc)
    if held is not None:
        return f"held since {held.time[:19].replace('T', ' ')}"
    kept = delete_session_folder(folder, unless_held=True)
    if kept:
        return kept
    forget_session(verdict.row.id)
    return None


def line(verdict: Verdict) -> str:
    row = verdict.row
    return (f"{row.id[:8]}  {row.started_at[:19].replace('T', ' ')}  {row.profile:<9} {human_size(row.size):>9}  "
            f"{row.folder}  ({verdict.why})")
