"""Guard ``archive``: every sealed part, then the final ``session.json`` and the
receipt, to an S3-compatible bucket (AWS, MinIO, Ceph RGW), queued on disk so
that nothing is lost to a crash, a restart or a week offline.

It is a guard because it may refuse to start: a bucket that does not exist or
credentials the server refuses are known before anything is recorded (exit 2).
An endpoint that cannot be reached is not a reason to refuse: uploads wait in
the queue and the person at this machine is told. Uploading never ends or
slows a recording (see uploader.py). Nothing local is ever deleted.

The guard (guard.py) hears its own session's parts, receipt and end; the
archive's commands and what it adds to ``list``, ``info``, ``search --archive`` and fetching a
session come through the command-line hooks (commands.py).
"""

from __future__ import annotations

from pathlib import Path

import click
from recorder import SessionNote, hookimpl

from recorder.plugins.archive import commands, holding
from recorder.plugins.archive.guard import ArchiveGuard, ArchiveOptions


@hookimpl
def recorder_register_guards(register):
    register("archive", ArchiveGuard, options=ArchiveOptions,
             description="upload sealed parts, the manifest and the receipt to an S3-compatible bucket")


@hookimpl
def recorder_register_commands(cli: click.Group):
    cli.add_command(commands.archive_cmd)
    commands.add_archive_option(cli.get_command(None, "list"))
    commands.add_search_option(cli.get_command(None, "search"))


@hookimpl
def recorder_session_notes(session_ids: list[str]) -> list[SessionNote]:
    return commands.notes(session_ids)


@hookimpl
def recorder_find_session(ref: str, cache: Path) -> Path | None:
    return commands.fetch(ref, cache)


@hookimpl
def recorder_search_sessions(options: dict, cache: Path, local: list[str]) -> list[Path]:
    return commands.search_sessions(options, cache, local)


@hookimpl(trylast=True)  # after the signing plugin signed the changed session.json again
def recorder_session_indexed(session):
    holding.index_changed(session)


@hookimpl(trylast=True)  # after the others: the signing plugin signs the changed session.json first
def recorder_session_hold(session, event):
    return holding.hold_changed(session, event)
