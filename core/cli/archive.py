"""The archive from the command line: the upload queue (``recorder archive``),
sessions in the bucket (``recorder list --archive``), and archived sessions
fetched for ``info``, ``verify``, ``play`` and ``export``.

Core knows no object store: a guard component that offers ``archive_status``,
``archive_drain``, ``archive_sessions`` and ``archive_fetch`` (the built-in
``archive`` guard does) is an archive.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from recorder.cli.params import profile_name
from recorder.config import layers
from recorder.config.profile import resolve_profile
from recorder.errors import EXIT_RUNTIME, RecorderError, UsageError
from recorder.host.manager import PluginHost, load_plugins
from recorder.pipeline.assembly import make
from recorder.store.files import make_private_dir, write_private
from recorder.store.state import cache_dir
from recorder.values import human_size


def archives(host: PluginHost, profile: str | None) -> list[tuple[str, object]]:
    """(profile, archive) for the profile given, or for every profile that has one."""
    config = layers.load_config()
    names = [profile] if profile else config.profiles()
    found = []
    for name in names:
        try:
            resolved = resolve_profile(config, host.registry, name)
        except UsageError:
            if profile:
                raise
            continue  # another profile's mistake is said when that profile is used
        # Only the archive itself is created: not the profile's source, encoder or sink.
        found += [(name, make(host, resolved, guard)) for guard in resolved.settings.guards
                  if hasattr(host.registry.get(guard).factory, "archive_sessions")]
    if profile and not found:
        raise UsageError(f"profile '{profile}' has no archive (add guards = [\"+archive\"] and an "
                         f"[profiles.{profile}.archive] table)")
    return found


def _archive_error(exc: Exception) -> RecorderError:
    return RecorderError(f"archive: {exc}")


@click.command("archive")
@click.option("--profile", "-p", metavar="NAME", callback=profile_name,
              help="This profile's archive (default: every profile's).")
@click.option("--status", "show", is_flag=True, help="What waits in the upload queue, and why.")
@click.option("--drain", is_flag=True, help="Upload everything queued now, and say what is left.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable --status.")
@click.pass_context
def archive_cmd(ctx, profile, show, drain, as_json):
    """The upload queue of the archive: what waits (--status), and uploading it now (--drain)."""
    profile = profile or (ctx.obj or {}).get("profile")
    if not (show or drain):
        raise UsageError("give --status or --drain")
    host = load_plugins()
    found = archives(host, profile)
    if not found:
        raise UsageError("no profile has an archive configured")
    _, archive = found[0]  # one queue per user, whichever profile's archive reads it
    if drain:
        left = archive.archive_drain(click.echo)
        click.echo(f"{left} object(s) left in the queue" if left else "the queue is empty")
        if left:
            raise SystemExit(EXIT_RUNTIME)
        return
    queued = archive.archive_status()
    if as_json:
        click.echo(json.dumps(queued, indent=2))
        return
    for item in queued:
        tries = f"  {item['attempts']} attempt(s): {item['last_error']}" if item["attempts"] else ""
        click.echo(f"{item['session_id'][:8]}  {item['kind']:<8} {item['key']}  {human_size(item['size'])}{tries}")
    click.echo(f"{len(queued)} object(s) queued" if queued else "the queue is empty")


def archived_rows(profile: str | None) -> list[dict]:
    """Sessions in the bucket(s), as ``recorder list --archive`` shows them."""
    rows = []
    for name, archive in archives(load_plugins(), profile):
        try:
            for manifest in archive.archive_sessions():
                if profile and manifest.get("profile") != profile:
                    continue
                rows.append({"id": manifest.get("session_id", ""), "profile": manifest.get("profile", ""),
                             "started_at": manifest.get("started_at", ""), "state": manifest.get("state", ""),
                             "duration": manifest.get("duration", 0.0), "parts": len(manifest.get("parts", [])),
                             "support_session_id": manifest.get("support_session_id", ""),
                             "labels": manifest.get("labels", {}), "key": manifest["key"], "archive": name})
        except Exception as exc:
            raise _archive_error(exc) from None
    unique = {row["id"]: row for row in rows}
    return sorted(unique.values(), key=lambda row: row["started_at"])


def fetch(host: PluginHost, session_id: str) -> Path | None:
    """An archived session fetched into the private cache, or None if no archive has it."""
    try:
        found = archives(host, None)
    except UsageError:
        return None
    cache = cache_dir() / "archive"
    make_private_dir(cache, exist_ok=True)
    for _, archive in found:
        try:
            folder = archive.archive_fetch(session_id, cache, write_private)
        except Exception as exc:
            raise _archive_error(exc) from None
        if folder is not None:
            return folder
    return None


def queued(host: PluginHost) -> dict[str, int]:
    """Objects waiting in the upload queue, per session id (empty without an archive)."""
    try:
        found = archives(host, None)
    except RecorderError:
        return {}
    counts: dict[str, int] = {}
    if found:
        for item in found[0][1].archive_status():
            counts[item["session_id"]] = counts.get(item["session_id"], 0) + 1
    return counts
