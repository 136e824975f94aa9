"""``recorder retention [--profile NAME] [--dry-run]``: the retention rules applied now, or
(``--dry-run``) only listed: each session that would go, and the rule that picks it."""

from __future__ import annotations

import click
from recorder import UsageError, human_size, known_sessions, profiles_using, session_files

from recorder.plugins.retention.policy import apply, line, plan


@click.command("retention")
@click.option("--profile", "-p", metavar="NAME", help="This profile's sessions (default: every profile with "
                                                       "the retention guard).")
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted and why; delete nothing.")
def retention_cmd(profile, dry_run):
    """Delete the saved sessions the retention rules pick (keep_days, keep_total_size), oldest first;
    never a held one. With --dry-run, only list them and the rule that picks each."""
    profile = profile or (click.get_current_context().obj or {}).get("profile")
    configured = {name: options for name, options in profiles_using("retention", profile).items() if options}
    if not configured:
        where = f"profile '{profile}' has" if profile else "no profile has"
        raise UsageError(f"{where} no retention rules (add guards = [\"+retention\"] and a "
                         f"[profiles.{profile or 'NAME'}.retention] table with keep_days or keep_total_size)")
    gone = freed = 0
    for name, options in configured.items():
        for verdict in plan(known_sessions(name), options, session_files):
            if not verdict.goes:
                click.echo(f"keep          {line(verdict)}")
                continue
            if dry_run:
                click.echo(f"would delete  {line(verdict)}")
            else:
                kept = apply(verdict)
                if kept:
                    click.echo(f"kept for now  {line(verdict)}: {kept}")
                    continue
                click.echo(f"deleted       {line(verdict)}")
            gone, freed = gone + 1, freed + verdict.row.size
    if dry_run:
        click.echo(f"{gone} session(s), {human_size(freed)}, would be deleted; nothing was deleted (--dry-run)")
    else:
        click.echo(f"{gone} session(s) deleted, {human_size(freed)} freed" if gone else "nothing to delete")
