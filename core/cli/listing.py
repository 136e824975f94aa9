"""``recorder list`` and ``recorder info``: which sessions there are, and what one holds."""

from __future__ import annotations

import json

import click
from recorder.cli.lookup import (
    by_support_id,
    find_session,
    given_profile,
    identity_option,
    known_profile,
    notes,
    roots,
)
from recorder.cli.params import profile_name
from recorder.cli.report import describe_session, session_summary
from recorder.errors import UsageError
from recorder.host.manager import load_plugins
from recorder.session import manifest as manifests, streams
from recorder.session.identity import check_support_id, parse_labels
from recorder.disk import memory
from recorder.store import catalog
from recorder.values import clock, human_size


@click.command("list")
@click.option("--profile", "-p", metavar="NAME", callback=profile_name, help="Only this profile's sessions.")
@click.option("--session-id", metavar="ID", help="Only the recording of this support session.")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="Only sessions with this label "
                                                                         "(repeatable: all must match).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_cmd(ctx, profile, session_id, labels, as_json):
    """List the sessions recorder knows about: saved, unsaved, in progress, incomplete."""
    profile = given_profile(ctx, profile)
    wanted = parse_labels(labels)
    if session_id:
        check_support_id(session_id)
    host = load_plugins()
    everything = catalog.sessions(roots=roots(host))
    if profile is not None:
        known_profile(profile, everything)
    rows = [row for row in everything if (profile is None or row.profile == profile)
            and (not session_id or row.support_session_id == session_id)
            and all(row.labels.get(key) == value for key, value in wanted.items())]
    noted = notes(host, [row.id for row in rows])
    if as_json:
        click.echo(json.dumps([row.to_dict() | {note.key: note.value for note in noted.get(row.id, [])}
                               for row in rows], indent=2))
        return
    if not rows:
        click.echo("no sessions")
        return
    for row in rows:
        tags = " ".join([*(["held"] if row.held else []),
                         *([f"id={row.support_session_id}"] if row.support_session_id else []),
                         *(f"{key}={value}" for key, value in row.labels.items()),
                         *(note.tag for note in noted.get(row.id, []) if note.tag)])
        click.echo(f"{row.id[:8]}  {row.started_at[:19].replace('T', ' ')}  {row.profile:<9} "
                   f"{clock(row.duration)}  {human_size(row.size):>9}  {row.parts} part(s)  "
                   f"{row.state:<11}  {row.folder}" + (f"  [{tags}]" if tags else ""))
    unsaved = [row for row in rows if row.state == "unsaved"]
    if unsaved:
        click.echo(f"save an unsaved session with: recorder save {unsaved[0].id[:8]} DIR")


@click.command("info")
@click.argument("session", required=False)
@click.option("--session-id", metavar="ID", help="The recording of this support session (instead of SESSION).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: the manifest's summary, "
                                                      "its parts and events.")
@identity_option("to check that every part opens and count its frames")
def info_cmd(session, session_id, as_json, identity):
    """Show a session's manifest in human form: parts, events, end reason. SESSION: a folder,
    an id (or its start) from 'recorder list', or a support session id."""
    if bool(session) == bool(session_id):
        raise UsageError("give SESSION or --session-id (one of them)")
    host = load_plugins()
    if session_id:
        folder = by_support_id(check_support_id(session_id), host)
        if folder is None:
            raise UsageError(f"no session of support session '{session_id}' here (recorder list shows them)")
    else:
        folder = find_session(session, host)
    manifest = manifests.read(folder)
    noted = notes(host, [manifest.session_id]).get(manifest.session_id, [])
    if as_json:
        click.echo(json.dumps(session_summary(folder) | {note.key: note.value for note in noted},
                              indent=2, ensure_ascii=False))
        return
    keys = streams.load_keys(manifest, host, identity)
    click.echo(describe_session(folder), nl=False)
    protected = streams.protected(manifest, host)
    for said in protected:
        click.echo(said + ("" if keys else " (the pictures need --identity FILE: play, export, info)"))
    if protected and keys:
        _open_protected(folder, manifest, host, keys)
    for note in noted:
        if note.line:
            click.echo(note.line)


def _open_protected(folder, manifest, host, keys) -> None:
    """Each protected part opened with the key, its frames counted."""
    for part in manifest.parts:
        if part.stream and part.state == "sealed" and streams.require(host, part.stream).protects:
            repair, _ = host.repairer(part.encoder)
            path, stats = streams.materialize(host, folder, part, keys.get(part.stream), repair, manifest.fps)
            frames = stats.frames if stats else "?"
            joined = f" (joined with {', '.join(part.sidecars)})" if part.sidecars else ""
            click.echo(f"opens     {part.file}: {frames} frames with the key{joined}")
            if path is not None:
                memory.release(path)
