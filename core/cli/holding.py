"""``recorder hold`` and ``recorder release``: a legal hold on a session (store/holds.py).

A session being recorded is held through its recorder's control channel (its recorder
owns its session.json); any other is held here."""

from __future__ import annotations

import click
from recorder.cli.lookup import by_support_id, roots
from recorder.console import warn
from recorder.errors import EXIT_RUNTIME, UsageError
from recorder.host.manager import load_plugins
from recorder.session import manifest as manifests
from recorder.store import catalog, holds

REASON = click.option("--reason", metavar="TEXT", help="Why (required): kept on the session's timeline.")
BY = click.option("--by", metavar="WHO", default="control", show_default=True,
                  help="Who does it (a name, a role, the support tool's name): kept on the timeline.")


def _check_by(by: str) -> str:
    from recorder.control.protocol import WHO

    if not WHO.fullmatch(by) or by.strip() == "recorder":
        raise UsageError("--by: 1 to 64 letters, digits, spaces or . @ : + - (and not 'recorder')")
    return by.strip()


def _run(verb: str, session: str, reason: str | None, by: str) -> None:
    done = {"hold": "held", "release": "released"}[verb]
    reason, by = holds.check_reason(reason, done), _check_by(by)
    host = load_plugins()
    for line in holds.finish_cut_holds(host):
        click.echo(line)
    folder = _find(session, host)
    manifest = manifests.read(folder)
    if catalog.held_by_its_recorder(manifest):
        _over_the_channel(verb, manifest, reason, by)
        return
    said = (holds.hold if verb == "hold" else holds.release)(folder, reason, by, host)
    click.echo(f"session {manifest.session_id[:8]} {done}: {reason}")
    for ok, line in said:
        if ok:
            click.echo(line)
        else:
            warn(line)
    if not all(ok for ok, _ in said):
        raise SystemExit(EXIT_RUNTIME)


def _find(ref: str, host):
    """A session on this machine (folder, id, its start, support session id); never a copy fetched
    from an archive: what is held is the recording here."""
    try:
        return catalog.find(ref, roots=roots(host))
    except UsageError:
        found = by_support_id(ref, host)
        if found is None:
            raise
        return found


def _over_the_channel(verb: str, manifest: manifests.Manifest, reason: str, by: str) -> None:
    from recorder.control.client import Client

    with Client(manifest.profile) as client:
        client.request(verb, reason=reason, by=by)
    click.echo(f"session {manifest.session_id[:8]} (being recorded) "
               f"{'held' if verb == 'hold' else 'released'}: {reason}")


@click.command("hold")
@click.argument("session")
@REASON
@BY
def hold_cmd(session, reason, by):
    """Put a legal hold on a session: retention never deletes it, and the archive keeps its objects
    under an S3 Object Lock legal hold. SESSION: a folder, an id (or its start) from 'recorder list',
    or a support session id."""
    _run("hold", session, reason, by)


@click.command("release")
@click.argument("session")
@REASON
@BY
def release_cmd(session, reason, by):
    """Release a session's legal hold (retention may delete it again; the archive's legal hold is
    taken off its objects)."""
    _run("release", session, reason, by)
