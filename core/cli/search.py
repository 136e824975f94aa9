"""``recorder search``: every moment a text was on screen, across the sessions on this
machine (and those plugins fetch: ``recorder_search_sessions``, the archive's ``--archive``).

What the index holds came from someone's screen: it is untrusted text, shown with its
control characters escaped (``for_terminal``) and written as JSON with ``--json``.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta
from pathlib import Path

import click
from recorder.cli.lookup import given_profile, identity_option, known_profile, roots
from recorder.cli.params import parse_duration, profile_name
from recorder.console import for_terminal, say, warn
from recorder.disk.files import make_private_dir
from recorder.disk.state import cache_dir
from recorder.errors import UsageError
from recorder.host.manager import PluginHost, load_plugins
from recorder.session import manifest as manifests
from recorder.session.identity import check_support_id, parse_labels
from recorder.store import text_catalog, text_search
from recorder.store.text_catalog import Listed
from recorder.store.text_search import IndexUnreadable, NeedsKey
from recorder.values import clock

NO_MATCH = 1  # as grep: a search that found nothing is not an error, but a script can tell


@click.command("search")
@click.argument("query")
@click.option("--profile", "-p", metavar="NAME", callback=profile_name, help="Only this profile's sessions.")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE",
              help="Only sessions with this label (repeatable: all must match).")
@click.option("--session-id", metavar="ID", help="Only the recording of this support session.")
@click.option("--since", metavar="DATE", help="Only moments from then on: 2026-12-01, 2026-12-01T14:30 (local "
                                              "time unless given an offset), or an age: 90m, 2h, 7d.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: one object per moment.")
@identity_option("to search sessions whose text index is encrypted")
@click.pass_context
def search_cmd(ctx, query, profile, labels, session_id, since, as_json, identity, **added):
    """Every moment QUERY was on screen, across the sessions here: words (all on one line of
    text), "a phrase", a prefix*; case does not matter, nor O/0 and l/1/I. Exit 0 with
    matches, 1 without, 2 on bad input."""
    parsed = text_search.parse_query(query)
    profile = given_profile(ctx, profile)
    wanted = parse_labels(labels)
    if session_id:
        check_support_id(session_id)
    after = parse_since(since) if since else None
    host = load_plugins()
    everything = text_catalog.sessions(roots(host))
    if profile is not None:
        known_profile(profile, everything)
    everything += fetched(host, ctx.params, {row.id for row in everything})

    def chosen(row: Listed) -> bool:
        return ((profile is None or row.profile == profile)
                and (not session_id or row.support_session_id == session_id)
                and all(row.labels.get(key) == value for key, value in wanted.items())
                and (after is None or _started(row) + timedelta(seconds=row.duration + 1) >= after))

    rows = [row for row in everything if chosen(row)]
    keys = _keys(host, identity)
    moments, locked, unindexed = [], [], 0
    for row in rows:
        try:
            db = text_search.open_session_index(Path(row.folder), host, keys)
        except NeedsKey as exc:
            locked.append((row, str(exc)))
            continue
        except IndexUnreadable as exc:
            warn(f"session {row.id[:8]} not searched: {exc}")
            continue
        if db is None:
            unindexed += 1
            continue
        try:
            hits = text_search.find(db, parsed, Path(row.folder) / text_search.INDEX_FILE)
        except IndexUnreadable as exc:
            warn(f"session {row.id[:8]} not searched: {exc}")
            continue
        finally:
            db.close()
        moments += [(row, seen) for seen in hits
                    if after is None or _started(row) + timedelta(seconds=seen.offset) >= after]
    moments.sort(key=lambda pair: (_started(pair[0]) + timedelta(seconds=pair[1].offset), pair[0].id))
    _report(moments, parsed, as_json)
    _say_not_searched(locked, unindexed)
    if not moments:
        raise SystemExit(NO_MATCH)


def _keys(host: PluginHost, identity: str | None) -> dict:
    from recorder.session import streams

    return streams.load_every_key(host, identity)


def fetched(host: PluginHost, options: dict, local: set[str]) -> list[Listed]:
    """Sessions plugins fetched for this search (recorder_search_sessions), those on this machine left out."""
    cache = cache_dir() / "search"
    make_private_dir(cache, exist_ok=True)
    rows = []
    for answer in host.call("recorder_search_sessions", options=dict(options), cache=cache, local=sorted(local)):
        for folder in answer or ():
            try:
                manifest = manifests.read(Path(folder))
            except manifests.ManifestError as exc:
                warn(str(exc))
                continue
            if manifest.session_id not in local:
                local.add(manifest.session_id)
                rows.append(text_catalog.listed(Path(folder), manifest))
    return rows


def _started(row: Listed) -> datetime:
    return row.started


def reference(session_id: str, offset: float) -> str:
    """What ``recorder play --at`` takes to open a hit: SESSION@OFFSET, the tenth of a second
    rounded up: rounded to the nearest, it could open on the frame before the text appeared
    (the text stays at least the half second that made the screen settled)."""
    return f"{session_id}@{math.ceil(round(offset * 10, 6)) / 10:.1f}"


def _report(moments: list, query: text_search.Query, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([_moment(row, seen, query) for row, seen in moments], indent=2, ensure_ascii=False))
        return
    for row, seen in moments:
        wall = _started(row) + timedelta(seconds=seen.offset)
        click.echo(f"{reference(row.id[:8], seen.offset)}  {wall.strftime('%Y-%m-%d %H:%M:%S')}  "
                   f"{clock(seen.offset)}  {row.profile:<9} {for_terminal(text_search.snippet(seen.text, query))}")
    if not moments:
        click.echo("no match")


def _moment(row: Listed, seen: text_search.Seen, query: text_search.Query) -> dict:
    return {"session": row.id, "ref": reference(row.id, seen.offset),
            "time": (_started(row) + timedelta(seconds=seen.offset)).isoformat(), "offset": seen.offset,
            "snippet": text_search.snippet(seen.text, query), **seen.to_dict(), "profile": row.profile,
            "support_session_id": row.support_session_id, "labels": row.labels, "folder": row.folder}


def _say_not_searched(locked: list, unindexed: int) -> None:
    if locked:
        whom = sorted({why for _, why in locked})
        say(f"{len(locked)} session(s) not searched: their text index is encrypted ({'; '.join(whom)}): "
            f"give --identity FILE ({', '.join(row.id[:8] for row, _ in locked[:10])}"
            + (", ..." if len(locked) > 10 else "") + ")")
    if unindexed:
        say(f"{unindexed} session(s) have no text index (recorder index --all reads them)")


_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*d", re.IGNORECASE)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """--since: a date or date and time (local unless it carries an offset), or an age (2h, 7d)."""
    now = now or datetime.now().astimezone()
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        pass
    else:
        return when if when.tzinfo else when.astimezone()
    if days := _AGE.fullmatch(text.strip()):
        return now - timedelta(days=float(days[1]))
    # an age says its unit (a bare 2026 is more likely a year than 2026 seconds ago)
    seconds = None if re.fullmatch(r"[\d.]+", text.strip()) else parse_duration(text)
    if seconds is not None and seconds < 1e10:
        return now - timedelta(seconds=seconds)
    raise UsageError(f"--since: {text[:60]!r} is not a date: give 2026-12-01, 2026-12-01T14:30 or an age "
                     "(90m, 2h, 7d)")


def split_reference(ref: str) -> tuple[str, float] | None:
    """SESSION@OFFSET (a search hit's reference) as (session, seconds); None when it is not one."""
    session, sep, at = ref.rpartition("@")
    seconds = parse_duration(at) if sep and session else None
    return (session, seconds) if seconds is not None else None


def play_moment(session: str | None, at: str | None) -> tuple[str | None, float | None]:
    """``recorder play``'s SESSION and --at as (session, seconds): --at is a time (00:12:31, 12:31,
    751) or a search hit's SESSION@OFFSET; SESSION may be a hit's reference too."""
    if session and (hit := split_reference(session)) and not (at and split_reference(at)):
        session, seconds = hit
        if at is None:
            return session, seconds
        raise UsageError(f"SESSION {hit[0]}@... already says where to open: give --at or the reference, not both")
    if at is None:
        return session, None
    if hit := split_reference(at):
        if session and session != hit[0]:
            raise UsageError(f"--at {at[:80]!r} is a moment of session {hit[0][:80]!r}, not of {session[:80]!r}")
        return hit
    seconds = parse_duration(at)
    if seconds is None:
        raise UsageError(f"--at: {at[:80]!r} is not a moment: give 00:12:31, 12:31, 751 (seconds) or a hit of "
                         "recorder search (SESSION@OFFSET)")
    return session, seconds


def check_moment(at: float | None, end: float, session_id: str) -> None:
    if at is not None and at > end + 0.5:
        raise UsageError(f"--at {clock(at)}: session {session_id[:8]} ends at {clock(end)}")
