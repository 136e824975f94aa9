"""``recorder index SESSION|--all``: read the text on a session's screens into its index
(store/text_session.py), resuming where a previous run, a crash or a kill stopped."""

from __future__ import annotations

from pathlib import Path

import click
from recorder.cli.lookup import find_session, identity_option, roots
from recorder.console import warn
from recorder.errors import EXIT_RUNTIME, RecorderError, UsageError
from recorder.host.manager import load_plugins
from recorder.session import manifest as manifests
from recorder.store import catalog


@click.command("index")
@click.argument("session", required=False)
@click.option("--all", "every", is_flag=True, help="Every session on this machine whose index is not complete.")
@click.option("--indexer", metavar="NAME", help="The indexer to read with (default: the one that began the "
                                                "session's index, else tesseract).")
@identity_option("to read them (the index is then written encrypted as they are)")
def index_cmd(session, every, indexer, identity):
    """Read the text on a session's screens into its index, for recorder search."""
    if bool(session) == bool(every):
        raise UsageError("give one session, or --all" if not session else "give a session or --all, not both")
    from recorder.session import streams
    from recorder.store.text_session import index_session

    host = load_plugins()
    folders = [find_session(session, host)] if session else \
        [Path(row.folder) for row in catalog.sessions(roots=roots(host))]
    keys = streams.load_every_key(host, identity) if every and identity else None
    failed = False
    for folder in folders:
        try:
            manifest = manifests.read(folder)
            if catalog.held_by_its_recorder(manifest):
                click.echo(f"session {manifest.session_id[:8]}: being recorded; its recorder indexes it")
                continue
            if every and manifest.text_index is not None and manifest.text_index.complete:
                continue
            complete, line = index_session(folder, host, indexer_name=indexer, identity=identity, keys=keys)
            click.echo(line)
            failed |= not complete
        except UsageError:
            if session:
                raise
            warn(f"{folder.name}: skipped: needs --identity or is not a session folder")
        except RecorderError as exc:
            warn(f"{folder.name}: {exc}")
            failed = True
    if failed:
        raise SystemExit(EXIT_RUNTIME)
