"""A plugin that adds a command: ``recorder sessions-csv`` writes the sessions recorder
knows about as CSV, one row each, for a spreadsheet or an audit::

    recorder sessions-csv --profile rep --output sessions.csv

It uses only the public API (``recorder.known_sessions``) and click, through the
``recorder_register_commands`` hook.
"""

from __future__ import annotations

import csv
import sys

import click

from recorder import clock, hookimpl, known_sessions

FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet would run as a formula


def _cell(value: object) -> str:
    """A value as a cell no spreadsheet runs: a label such as "=HYPERLINK(...)" stays text."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA) else text


COLUMNS = ("id", "profile", "started_at", "duration", "parts", "size", "state", "support_session_id",
           "labels", "folder")


@click.command("sessions-csv")
@click.option("--profile", "-p", metavar="NAME", help="Only this profile's sessions.")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8", lazy=True), default="-",
              metavar="FILE", help="Write here instead of standard output.")
@click.pass_context
def sessions_csv(ctx: click.Context, profile: str | None, output) -> None:
    """The sessions recorder knows about, as CSV (one row each)."""
    profile = profile or (ctx.obj or {}).get("profile")  # also: recorder --profile rep sessions-csv
    writer = csv.writer(output or sys.stdout, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in known_sessions(profile):
        labels = ";".join(f"{key}={value}" for key, value in row.labels.items())
        writer.writerow([_cell(value) for value in (row.id, row.profile, row.started_at, clock(row.duration),
                                                    row.parts, row.size, row.state, row.support_session_id,
                                                    labels, row.folder)])


@hookimpl
def recorder_register_commands(cli: click.Group) -> None:
    cli.add_command(sessions_csv)
