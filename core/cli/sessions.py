"""The commands about recorded sessions: list, info, verify, save, stop, recover, export, play."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import webbrowser
from pathlib import Path

import click
from recorder.cli.params import MAX_FPS, PathParam, finite, profile_name
from recorder.cli.report import describe_session
from recorder.config import layers
from recorder.console import console
from recorder.errors import EXIT_RUNTIME, RecorderError, UsageError
from recorder.host.manager import PluginHost, load_plugins
from recorder.playback import export, replay, timeline
from recorder.session import streams, whole
from recorder.store import memory
from recorder.session import journal, manifest as manifests, receipt as receipts, recovery
from recorder.session.identity import check_support_id, parse_labels
from recorder.store import catalog, saving
from recorder.store.verify import verify
from recorder.store.files import make_private_dir, sha256_file
from recorder.store.state import cache_dir
from recorder.values import SessionNote, clock, human_size
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)


def roots(host: PluginHost) -> list[Path]:
    """Folders plugins keep sessions in (staging), scanned besides the catalog."""
    return [Path(root) for found in host.call("recorder_session_roots") for root in found or ()]


def _profile(ctx: click.Context, profile: str | None) -> str | None:
    return profile or (ctx.obj or {}).get("profile")


def _known_profile(profile: str, rows: list[catalog.Summary]) -> None:
    known = layers.load_config().profiles()
    if profile not in known and not any(row.profile == profile for row in rows):
        raise UsageError(f"unknown profile '{profile}' (known profiles: {', '.join(known) or 'none'})")


def identity_option(purpose: str):
    return click.option("--identity", "-i", metavar="FILE", help=f"For a session whose parts are protected (by a "
                        f"part stream: the encrypt guard's, say): the key that opens them, {purpose}; a file, "
                        "'-' for standard input, or env:NAME for an environment variable holding it. Passed to "
                        "the part streams, never kept anywhere.")


def progress_bar(label: str) -> Progress:
    return Progress(TextColumn(label), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                    console=console(), transient=True)


@click.command("list")
@click.option("--profile", "-p", metavar="NAME", callback=profile_name, help="Only this profile's sessions.")
@click.option("--session-id", metavar="ID", help="Only the recording of this support session.")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="Only sessions with this label "
                                                                         "(repeatable: all must match).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_cmd(ctx, profile, session_id, labels, as_json):
    """List the sessions recorder knows about: saved, unsaved, in progress, incomplete."""
    profile = _profile(ctx, profile)
    wanted = parse_labels(labels)
    if session_id:
        check_support_id(session_id)
    host = load_plugins()
    everything = catalog.sessions(roots=roots(host))
    if profile is not None:
        _known_profile(profile, everything)
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
        tags = " ".join([*([f"id={row.support_session_id}"] if row.support_session_id else []),
                         *(f"{key}={value}" for key, value in row.labels.items()),
                         *(note.tag for note in noted.get(row.id, []) if note.tag)])
        click.echo(f"{row.id[:8]}  {row.started_at[:19].replace('T', ' ')}  {row.profile:<9} "
                   f"{clock(row.duration)}  {human_size(row.size):>9}  {row.parts} part(s)  "
                   f"{row.state:<11}  {row.folder}" + (f"  [{tags}]" if tags else ""))
    unsaved = [row for row in rows if row.state == "unsaved"]
    if unsaved:
        click.echo(f"save an unsaved session with: recorder save {unsaved[0].id[:8]} DIR")


def notes(host: PluginHost, session_ids: list[str]) -> dict[str, list[SessionNote]]:
    """What plugins know about these sessions (recorder_session_notes), by session id."""
    found: dict[str, list[SessionNote]] = {}
    for answer in host.call("recorder_session_notes", session_ids=session_ids):
        for note in answer or ():
            if isinstance(note, SessionNote):
                found.setdefault(note.session_id, []).append(note)
    return found


@click.command("info")
@click.argument("session")
@identity_option("to check that every part opens and count its frames")
def info_cmd(session, identity):
    """Show a session's manifest in human form: parts, events, end reason."""
    host = load_plugins()
    folder = _find(session, host)
    manifest = manifests.read(folder)
    keys = streams.load_keys(manifest, host, identity)
    click.echo(describe_session(folder), nl=False)
    protected = streams.protected(manifest, host)
    for said in protected:
        click.echo(said + ("" if keys else " (the pictures need --identity FILE: play, export, info)"))
    if protected and keys:
        for part in manifest.parts:
            if part.stream and part.state == "sealed" and streams.require(host, part.stream).protects:
                repair, _ = host.repairer(part.encoder)
                path, stats = streams.materialize(host, folder, part, keys.get(part.stream), repair, manifest.fps)
                frames = stats.frames if stats else "?"
                joined = f" (joined with {', '.join(part.sidecars)})" if part.sidecars else ""
                click.echo(f"opens     {part.file}: {frames} frames with the key{joined}")
                if path is not None:
                    memory.release(path)
    for note in notes(host, [manifest.session_id]).get(manifest.session_id, []):
        if note.line:
            click.echo(note.line)


@click.command("verify")
@click.argument("session", required=False)
@click.option("--receipt", metavar="FILE|HASH", help="Also check against the receipt issued when the session "
                                                   "ended: its file (or an events file holding it), or its head hash.")
@click.option("--all", "every", is_flag=True, help="Verify every session recorder knows about, one line each.")
def verify_cmd(session, receipt, every):
    """Check every part's SHA-256, the hash chain, that each part decodes, the folder's files,
    and that the manifest's totals and events agree with its parts."""
    if every:
        if session or receipt:
            raise UsageError("--all verifies every session: give no SESSION or --receipt with it")
        _verify_all()
        return
    if not session:
        raise UsageError("give a SESSION to verify (a folder or an id from 'recorder list'), or --all")
    host = load_plugins()
    folder = _find(session, host)
    ok, problems = verify(folder, host)
    if receipt:
        manifest = manifests.read(folder)
        expected = _receipt(receipt, manifest.session_id)
        found = receipts.check(folder, manifest, expected, sha256_file)
        problems += [f"receipt: {line}" for line in found]
        if not found:
            ok.append(f"matches the receipt (head {receipts.receipt(manifest)['head'][:16]}...)")
    for line in ok:
        click.echo(f"ok       {line}")
    for line in problems:
        click.echo(f"PROBLEM  {line}")
    if problems:
        click.echo(f"{folder}: {len(problems)} problem(s)", err=True)
        raise SystemExit(EXIT_RUNTIME)
    click.echo(f"{folder}: verified")


def _verify_all() -> None:
    damaged = 0
    host = load_plugins()
    rows = catalog.sessions(roots=roots(host))
    for row in rows:
        if row.state not in ("saved", "unsaved", "damaged"):
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


@click.command("save")
@click.argument("session")
@click.argument("directory", type=PathParam(path_type=Path, file_okay=False))
def save_cmd(session, directory):
    """Save a session (for example one left unsaved in staging) into DIRECTORY."""
    host = load_plugins()
    folder = _find(session, host)
    _refuse_live(manifests.read(folder), "saved")
    click.echo(str(saving.save(folder, directory, host, roots(host))))


@click.command("recover")
@click.option("--profile", "-p", metavar="NAME", callback=profile_name, help="Only this profile's sessions.")
@identity_option("of a recipient: protected parts a crash cut short are then joined with what it left "
                 "beside them and protected again, whole")
@click.pass_context
def recover_cmd(ctx, profile, identity):
    """Recover sessions a crash left unsealed: each part repaired by its encoder, sealed and hashed."""
    profile = _profile(ctx, profile)
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


@click.command("export")
@click.argument("session")
@click.option("--format", "fmt", required=True, metavar="FORMAT", help="wmv, mp4, webm, gif (or a plugin's).")
@click.option("--output", "-o", type=PathParam(path_type=Path, dir_okay=False), required=True, metavar="FILE")
@click.option("--from", "start", type=click.FloatRange(min=0), callback=finite, default=0.0, metavar="SECONDS",
              help="Start at this offset on the session timeline.")
@click.option("--to", "stop", type=click.FloatRange(min=0), callback=finite, metavar="SECONDS",
              help="End at this offset.")
@click.option("--scale", default="", metavar="SIZE", help="WIDTHxHEIGHT, WIDTH (keeps the aspect) or a factor (0.5).")
@click.option("--fps", type=click.FloatRange(min=0, max=MAX_FPS, min_open=True), callback=finite,
              help="Constant output frame rate.")
@click.option("--keep-gaps", is_flag=True, help="Show restarts as a still frame of their length.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@identity_option("to read it; the export is then protected as the parts are (FILE.age for encrypted ones)")
@click.option("--decrypted", is_flag=True, help="With --identity: write the export unprotected instead "
                                                "(it then leaves recorder's custody: keep it safe).")
def export_cmd(session, fmt, output, start, stop, scale, fps, keep_gaps, force, identity, decrypted):
    """Export a session (all its parts) to one file."""
    host = load_plugins()
    line = timeline.load(_find(session, host))
    protection = streams.export_protection(line.manifest, host)
    protect = None
    if protection is not None:
        if not identity:
            streams.refuse_without_key(line.manifest, host, "export")
        line = streams.read_back(line, host, streams.load_keys(line.manifest, host, identity))
        protect = None if decrypted else export.Protection(*protection)
    elif decrypted:
        raise UsageError("--decrypted: the session's parts are not protected")
    job = dict(start=start, stop=stop, scale=scale, fps=fps, keep_gaps=keep_gaps)
    total = export.ExportJob(line, output, **job).duration()
    with progress_bar("exporting") as bar:
        task = bar.add_task("export", total=total)
        result = export.export_session(host, line, fmt, output, force=force, protect=protect,
                                       progress=lambda seconds: bar.update(task, completed=seconds), **job)
    click.echo(str(result))


@click.command("play")
@click.argument("session")
@click.option("--no-open", is_flag=True, help="Only prepare the replay page and print its path.")
@identity_option("to read it; the page then lives in memory (tmpfs) until you press Enter")
def play_cmd(session, no_open, identity):
    """Replay a session in the browser: one timeline across its parts, with its events."""
    host = load_plugins()
    line = timeline.load(_find(session, host))
    if streams.protected(line.manifest, host):
        if not identity:
            streams.refuse_without_key(line.manifest, host, "play")
        _play_protected(line, streams.load_keys(line.manifest, host, identity), host, no_open)
        return
    with progress_bar("preparing the replay") as bar:
        task = bar.add_task("replay", total=line.recorded)
        page = replay.prepare(line, progress=lambda seconds: bar.update(task, completed=seconds))
    click.echo(str(page))
    if not no_open and not webbrowser.open(page.as_uri()):
        raise RecorderError(f"no browser could be opened; open {page} yourself")


def _play_protected(line, keys: dict, host, no_open: bool) -> None:
    """The page, the parts read back with the key and their thumbnails in a private memory
    folder, removed when the user is done (Enter, Ctrl-C, end of input, or SIGTERM)."""
    memory.remove_stale_folders("play")
    with memory.memory_folder("play") as folder:
        with progress_bar("opening the protected parts") as bar:
            bar.add_task("open", total=None)
            line = streams.read_back(line, host, keys, into=folder)
        with progress_bar("preparing the replay") as bar:
            task = bar.add_task("replay", total=line.recorded)
            page = replay.prepare(line, progress=lambda seconds: bar.update(task, completed=seconds),
                                  folder=folder)
        click.echo(str(page))
        if not no_open and not webbrowser.open(page.as_uri()):
            click.echo(f"no browser could be opened; open {page} yourself", err=True)
        click.echo("the replay of the protected parts is in memory only; press Enter when done to remove it",
                   err=True)
        with _until_terminated():
            try:
                input()
            except (EOFError, KeyboardInterrupt):
                pass


class _Terminated(Exception):
    pass


@contextlib.contextmanager
def _until_terminated():
    """SIGTERM (a logout) ends the wait like Enter does, so the memory folder is removed."""
    def stop(signum, frame):
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    except _Terminated:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


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


def _refuse_live(manifest: manifests.Manifest, what: str) -> None:
    # Live until its recorder lets the lock go: sealed, it may still be asking where to save.
    if catalog.held_by_its_recorder(manifest):
        raise UsageError(f"session {manifest.session_id[:8]} is being recorded (pid {manifest.pid}) and cannot "
                         f"be {what}; end it first: recorder stop --profile {manifest.profile}")


def _find(ref: str, host: PluginHost | None = None) -> Path:
    """A session on this machine, or else a copy a plugin fetched (recorder_find_session)."""
    host = host or load_plugins()
    try:
        return catalog.find(ref, roots=roots(host))
    except UsageError as exc:
        cache = cache_dir() / "found"
        make_private_dir(cache, exist_ok=True)
        fetched = host.call("recorder_find_session", ref=ref, cache=cache)
        if fetched is None:
            raise exc from None
        return Path(fetched)


COMMANDS = [list_cmd, info_cmd, verify_cmd, save_cmd, recover_cmd, export_cmd, play_cmd]
