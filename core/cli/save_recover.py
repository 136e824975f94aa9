"""``recorder save`` and ``recorder recover``: a finished session moved where the user wants
it, and what a crash left unsealed (or, with a key, cut short and protected) made whole."""

from __future__ import annotations

from pathlib import Path

import click
from recorder.cli.lookup import find_session, given_profile, identity_option, refuse_live, roots
from recorder.cli.params import PathParam, profile_name
from recorder.errors import UsageError
from recorder.host.manager import load_plugins
from recorder.session import journal, manifest as manifests, recovery, rescued, streams, whole
from recorder.store import catalog, saving
from recorder.store.saving import missing_parent


@click.command("save")
@click.argument("session")
@click.argument("directory", type=PathParam(path_type=Path, file_okay=False))
def save_cmd(session, directory):
    """Save a session (for example one left unsaved in staging) into DIRECTORY, which is created
    if the folder holding it exists."""
    if not directory.expanduser().exists() and (parent := missing_parent(directory)) is not None:
        raise UsageError(f"{parent} does not exist: recorder creates only the last folder of DIRECTORY "
                         "(check the path, or create it first)")
    host = load_plugins()
    folder = find_session(session, host)
    refuse_live(manifests.read(folder), "saved")
    click.echo(str(saving.save(folder, directory, host, roots(host))))


@click.command("recover")
@click.option("--profile", "-p", metavar="NAME", callback=profile_name, help="Only this profile's sessions.")
@identity_option("of a recipient: protected parts a crash cut short are then joined with what it left "
                 "beside them and protected again, whole")
@click.pass_context
def recover_cmd(ctx, profile, identity):
    """Recover sessions a crash left unsealed: each part repaired by its encoder, sealed and hashed."""
    profile = given_profile(ctx, profile)
    host = load_plugins()
    identities = streams.load_every_key(host, identity)
    found = 0
    for row in catalog.sessions(profile, roots=roots(host)):
        if row.state == "interrupted":  # recovered by a run a crash cut short before its journal
            journal.update(row.profile, row.id, state="interrupted")
        if row.state != "incomplete":
            continue
        found += 1
        folder = Path(row.folder)
        report = recovery.recover_folder(folder, host)
        journal.update(row.profile, row.id, state="interrupted")  # the next start resumes it, not re-recovers
        click.echo(f"{row.id[:8]}  {folder}")
        for line in report:
            click.echo(f"    {line}")
    for line in rescued.reconcile_lost_folders(profile):  # a folder lost while recording, writable again
        found += 1
        click.echo(line)
    if identities:
        found += _make_whole(profile, host, identities)
    if not found:
        click.echo("nothing to recover")


def _make_whole(profile: str | None, host, identities: dict) -> int:
    """Protected parts a crash cut short, in every session the key opens; returns how many sessions."""
    done = 0
    for row in catalog.sessions(profile, roots=roots(host)):
        if row.state in ("incomplete", "recording"):
            continue
        folder = Path(row.folder)
        try:
            manifest = manifests.read(folder)
        except manifests.ManifestError:
            continue
        if not any(p.stream in identities for p in manifest.parts):
            continue
        if catalog.held_by_its_recorder(manifest):
            continue  # still being recorded (resumed): its recorder owns the manifest
        report = whole.make_whole(folder, identities, host, manifest)
        if report:
            done += 1
            click.echo(f"{row.id[:8]}  {folder}")
            for line in report:
                click.echo(f"    {line}")
    return done
