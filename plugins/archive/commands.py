"""The archive from the command line: the upload queue (``recorder archive``), the
sessions in the bucket (``recorder list --archive``), what waits to be uploaded in
``list`` and ``info``, and archived sessions fetched for ``info``, ``verify``,
``play``, ``export`` and ``save``. Each is reached through a hook, as a
third-party plugin's commands would be; core knows nothing of an archive."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import click
from recorder import (RecorderError, SessionNote, UsageError, check_support_id, clock, console, human_size,
                      parse_labels, profiles_using)

from recorder.plugins.archive import s3
from recorder.plugins.archive.guard import ArchiveGuard

EXIT_RUNTIME = 1  # as recorder's own commands: the work failed
SESSION_ID = re.compile(r"[0-9a-f]{4,32}")  # what may name an archived session: an id or its prefix


def archives(profile: str | None) -> list[tuple[str, ArchiveGuard]]:
    """(profile, its archive) for the profile given, or for every profile that has one."""
    found = [(name, ArchiveGuard(options)) for name, options in profiles_using("archive", profile).items()]
    if profile and not found:
        raise UsageError(f"profile '{profile}' has no archive (add guards = [\"+archive\"] and an "
                         f"[profiles.{profile}.archive] table)")
    return found


def configured(profile: str | None) -> list[tuple[str, ArchiveGuard]]:
    """As archives(), for a command that has nothing to do without one: no archive is a
    usage error (exit 2), not an empty archive, so that a script can tell the two apart."""
    found = archives(profile)
    if not found:
        raise UsageError("no profile has an archive configured (add guards = [\"+archive\"] and a "
                         "[profiles.NAME.archive] table: see docs/archive.md)")
    return found


def _group_profile(profile: str | None) -> str | None:
    """--profile given to the command, or before its name (recorder --profile rep archive)."""
    return profile or (click.get_current_context().obj or {}).get("profile")


@click.command("archive")
@click.option("--profile", "-p", metavar="NAME", help="This profile's archive (default: every profile's).")
@click.option("--status", "show", is_flag=True, help="What waits in the upload queue, and why.")
@click.option("--drain", is_flag=True, help="Upload everything queued now, and say what is left.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable --status.")
def archive_cmd(profile, show, drain, as_json):
    """The upload queue of the archive: what waits (--status), and uploading it now (--drain)."""
    profile = _group_profile(profile)
    if not (show or drain):
        raise UsageError("give --status or --drain")
    _, archive = configured(profile)[0]  # one queue per user, whichever profile's archive reads it
    if drain:
        left = archive.archive_drain(click.echo)
        click.echo(f"{left} object(s) left in the queue" if left else "the queue is empty")
        if left:
            raise SystemExit(EXIT_RUNTIME)
        return
    from recorder.plugins.archive import queue

    queued = archive.archive_status()
    if as_json:
        click.echo(json.dumps([queue.describe(entry) for entry in queued], indent=2))
        return
    for entry in queued:
        tries = f"  {entry.attempts} attempt(s): {entry.last_error}" if entry.attempts else ""
        click.echo(f"{entry.session_id[:8]}  {entry.kind:<8} {entry.key}  {human_size(entry.size)}{tries}")
    click.echo(f"{len(queued)} object(s) queued" if queued else "the queue is empty")


def archived(profile: str | None) -> list[tuple[str, s3.ArchivedSession]]:
    """(profile whose archive has it, session) for each session in the bucket(s), oldest first."""
    found: dict[str, tuple[str, s3.ArchivedSession]] = {}
    for name, archive in configured(profile):
        try:
            sessions = archive.archive_sessions()
        except Exception as exc:
            raise RecorderError(f"archive: {exc}") from None
        for session in sessions:
            if not profile or session.profile == profile:
                found[session.session_id] = (name, session)
    return sorted(found.values(), key=lambda pair: pair[1].started_at)


def _list_archived(profile: str | None, session_id: str | None, labels: tuple[str, ...], as_json: bool) -> None:
    wanted = parse_labels(labels)
    if session_id:
        check_support_id(session_id)
    rows = [(name, session) for name, session in archived(profile)
            if (not session_id or session.support_session_id == session_id)
            and all(session.labels.get(key) == value for key, value in wanted.items())]
    if as_json:
        click.echo(json.dumps([{"id": s.session_id, "profile": s.profile, "started_at": s.started_at,
                                "state": s.state, "duration": s.duration, "parts": s.parts,
                                "support_session_id": s.support_session_id, "labels": s.labels,
                                "key": s.key, "archive": name} for name, s in rows], indent=2))
        return
    for _, s in rows:
        tags = " ".join([*([f"id={s.support_session_id}"] if s.support_session_id else []),
                         *(f"{key}={value}" for key, value in s.labels.items())])
        click.echo(f"{s.session_id[:8]}  {s.started_at[:19].replace('T', ' ')}  {s.profile:<9} "
                   f"{clock(s.duration)}  {s.parts} part(s)  {s.state:<11}  {s.key}"
                   + (f"  [{tags}]" if tags else ""))
    click.echo(f"{len(rows)} session(s) in the archive" if rows else "no sessions in the archive")


def add_archive_option(listing: click.Command) -> None:
    """``recorder list --archive``: the sessions in the bucket instead, with the same filters."""
    listing.params.insert(-1, click.Option(["--archive", "in_archive"], is_flag=True,
                                           help="The sessions in the archive's bucket instead "
                                                "(from every machine that uploads there)."))
    local = listing.callback

    @functools.wraps(local)
    def callback(*args, in_archive=False, **params):
        if not in_archive:
            return local(*args, **params)
        return _list_archived(_group_profile(params.get("profile")), params.get("session_id"),
                              params.get("labels", ()), params.get("as_json", False))

    listing.callback = callback


def add_search_option(search: click.Command | None) -> None:
    """``recorder search --archive``: the sessions in the bucket searched too (search_sessions)."""
    if search is not None:
        search.params.insert(-1, click.Option(["--archive", "in_archive"], is_flag=True,
                                              help="Search the archive's sessions too (from every machine that "
                                                   "uploads there): only their text indexes are fetched, into "
                                                   "the private cache."))
        local = search.callback

        @functools.wraps(local)
        def callback(*args, in_archive=False, **params):
            if in_archive:
                configured(_group_profile(params.get("profile")))  # none: a usage error, before searching
            return local(*args, in_archive=in_archive, **params)

        search.callback = callback


def search_sessions(options: dict, cache: Path, local: list[str]) -> list[Path]:
    """For ``recorder search --archive``: the archived sessions not on this machine that pass
    search's filters, each fetched as its session.json and text index (no part) into ``cache``.
    A session that cannot be fetched is named in one line; the others are searched."""
    if not options.get("in_archive"):
        return []
    profile = _group_profile(options.get("profile"))
    wanted = parse_labels(options.get("labels") or ())
    support = options.get("session_id")
    here, folders, guards = set(local), [], dict(configured(profile))
    for name, session in archived(profile):
        if session.session_id in here or (support and session.support_session_id != support) \
                or any(session.labels.get(key) != value for key, value in wanted.items()):
            continue
        try:
            folder = guards[name].archive_fetch_index(session, cache)
        except s3.StoreError as exc:
            console().print(f"recorder: warning: archive: session {session.session_id[:8]} not searched: {exc}",
                            markup=False, highlight=False)
            continue
        if folder is not None:
            folders.append(folder)
    return folders


def queued() -> dict[str, int]:
    """Objects waiting in the upload queue, per session id (empty without an archive)."""
    try:
        found = archives(None)
    except RecorderError:
        return {}
    counts: dict[str, int] = {}
    if found:
        for entry in found[0][1].archive_status():
            counts[entry.session_id] = counts.get(entry.session_id, 0) + 1
    return counts


def notes(session_ids: list[str]) -> list[SessionNote]:
    waiting = queued()
    return [SessionNote(session_id, "archive_queued", waiting.get(session_id, 0),
                        tag=f"archive: {waiting[session_id]} queued" if session_id in waiting else "",
                        line=f"archive   {waiting[session_id]} object(s) waiting to be uploaded "
                             "(recorder archive --status)" if session_id in waiting else "")
            for session_id in session_ids]


def fetch(ref: str, cache: Path) -> Path | None:
    """An archived session fetched into ``cache``, or None if no archive has it."""
    if not SESSION_ID.fullmatch(ref):
        return None
    try:
        found = archives(None)
    except UsageError:
        return None
    for _, archive in found:
        try:
            folder = archive.archive_fetch(ref, cache)
        except Exception as exc:
            raise RecorderError(f"archive: {exc}") from None
        if folder is not None:
            return folder
    return None
