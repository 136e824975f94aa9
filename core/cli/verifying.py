"""``recorder verify``: one session, against its receipt too, or every session at once.
A session still being recorded is not verified (its manifest and parts are still being written):
nothing is checked, nor remembered, until it has ended."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
from recorder.cli.lookup import find_session, roots
from recorder.errors import EXIT_RUNTIME, UsageError
from recorder.host.manager import load_plugins
from recorder.session import manifest as manifests, receipt as receipts
from recorder.store import catalog
from recorder.disk.files import sha256_file
from recorder.store.verify import verify

FINISHED = ("saved", "unsaved", "damaged")  # the states verify checks; the others are still being written


@click.command("verify")
@click.argument("session", required=False)
@click.option("--receipt", metavar="FILE|HASH", help="Also check against the receipt issued when the session "
                                                   "ended: its file (or an events file holding it), or its head hash.")
@click.option("--all", "every", is_flag=True, help="Verify every session recorder knows about, one line each.")
def verify_cmd(session, receipt, every):
    """Check every part's SHA-256, the hash chain, that each part decodes, the folder's files,
    and that the manifest's totals and events agree with its parts. A session being recorded
    is verified once it has ended."""
    if every:
        if session or receipt:
            raise UsageError("--all verifies every session: give no SESSION or --receipt with it")
        _verify_all()
        return
    if not session:
        raise UsageError("give a SESSION to verify (a folder or an id from 'recorder list'), or --all")
    host = load_plugins()
    folder = find_session(session, host)
    _refuse_recording(folder)
    ok, problems = verify(folder, host)
    if receipt:
        manifest = manifests.read(folder)
        expected = _receipt(receipt, manifest.session_id)
        found = receipts.check(folder, manifest, expected, sha256_file)
        problems += [f"receipt: {line}" for line in found]
        if not found:
            ok.append(f"matches the receipt (head {receipts.receipt(manifest)['head'][:16]}...)")
        for said in host.call("recorder_verify_receipt", folder=folder, manifest=manifest, receipt=expected) or []:
            for checks_out, line in said or []:  # a plugin's own checks of the session against it (a signature)
                (ok if checks_out else problems).append(str(line))
    for line in ok:
        click.echo(f"ok       {line}")
    for line in problems:
        click.echo(f"PROBLEM  {line}")
    if problems:
        click.echo(f"{folder}: {len(problems)} problem(s)", err=True)
        raise SystemExit(EXIT_RUNTIME)
    click.echo(f"{folder}: verified")


def _refuse_recording(folder: Path) -> None:
    """A session whose recorder still runs: one line, exit 2, as ``verify --all`` skips it."""
    try:
        manifest = manifests.read(folder)
    except manifests.ManifestError:
        return  # verify names what is wrong with the manifest
    if catalog.held_by_its_recorder(manifest):
        raise UsageError(f"session {manifest.session_id[:8]} is being recorded (pid {manifest.pid}): verify it "
                         f"once it has ended (recorder stop --profile {manifest.profile})")


def _verify_all() -> None:
    damaged = 0
    host = load_plugins()
    rows = catalog.sessions(roots=roots(host))
    for row in rows:
        if row.state not in FINISHED:
            click.echo(f"skipped  {row.id[:8]}  {row.state} (verify it once it has ended)  {row.folder}")
            continue
        _, problems = verify(Path(row.folder), host)
        if problems:
            damaged += 1
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            click.echo(f"DAMAGED  {row.id[:8]}  {problems[0]}{more}  {row.folder}")
        else:
            click.echo(f"ok       {row.id[:8]}  {row.folder}")
    if damaged:
        click.echo(f"{damaged} of {len(rows)} session(s) damaged: recorder verify SESSION names every problem",
                   err=True)
        raise SystemExit(EXIT_RUNTIME)
    click.echo(f"{len(rows)} session(s) checked" if rows else "no sessions")


def _receipt(given: str, session_id: str) -> dict | str:
    """A receipt from a head hash, a receipt file, or an events file (its last receipt for the session)."""
    if re.fullmatch(r"[0-9a-f]{64}", given):
        return given
    try:
        text = Path(given).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--receipt {given}: not a head hash, and cannot be read: {exc}") from None
    candidates = []
    for chunk in [text, *text.splitlines()]:
        try:
            data = json.loads(chunk)
        except ValueError:
            continue
        if isinstance(data, dict) and "head" in data and data.get("session_id") == session_id:
            candidates.append(data)
    if not candidates:
        raise UsageError(f"--receipt {given}: holds no receipt for session {session_id[:8]}")
    return candidates[-1]
