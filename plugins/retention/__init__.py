"""Guard ``retention``: at session start, delete the profile's oldest saved sessions
beyond ``keep_days`` or ``keep_total_size``. Never an unsaved, incomplete or
in-progress session, never a held one (a legal hold: ``recorder hold``), and never
a folder that holds anything but a session (what belongs to a session is what
``recorder.session_files`` says: its manifest, its parts and what plugins keep there).

``recorder retention [--dry-run]`` (command.py) applies the same plan on demand, or
only lists what would go and which rule picks it (policy.py)."""

from __future__ import annotations

import click
from recorder import hookimpl, session_files

from recorder.plugins.retention import command
from recorder.plugins.retention.policy import RetentionOptions, _only_a_session, apply, plan  # noqa: F401


class Retention:
    def __init__(self, options: RetentionOptions):
        self.options = options

    def start(self, session) -> None:
        from recorder import known_sessions

        for verdict in plan(known_sessions(session.profile), self.options, session_files, skip=session.id):
            folder = verdict.row.folder
            if not verdict.goes:  # held: as it should be; a folder with others' files: worth a look
                session.add_event("retention", f"{folder}: {verdict.why}", level="info" if verdict.held else "warning",
                                  by="retention")
                continue
            kept = apply(verdict)
            if kept:
                session.add_event("retention", f"kept {folder} for now: {kept}; retention tries again at the "
                                  "next start", level="warning", by="retention")
                continue
            session.add_event("retention", f"deleted {folder} ({verdict.why})", by="retention")

    def stop(self) -> None:
        pass


@hookimpl
def recorder_register_guards(register):
    register("retention", Retention, options=RetentionOptions,
             description="deletes the profile's oldest saved sessions beyond an age or size limit (never a held one)")


@hookimpl
def recorder_register_commands(cli: click.Group):
    cli.add_command(command.retention_cmd)
