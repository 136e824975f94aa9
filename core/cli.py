"""The command line: a thin layer over the library API."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
import traceback
import webbrowser
from pathlib import Path

import click
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

import recorder
from recorder import config as config_mod
from recorder.errors import EXIT_DISK_FULL, EXIT_RUNTIME, RecorderError, UsageError
from recorder.manager import load_plugins
from recorder.profile import resolve_profile
from recorder.recording import DISK_FULL, Recording
from recorder import catalog, export, lock, replay, resume, saving, timeline
from recorder.places import remember_location
from recorder.report import describe_config, describe_plugins, describe_session
from recorder.verify import verify
from recorder.status import clock, human_size, status_line
from recorder.ui import console

PROFILE = click.option("--profile", "-p", envvar="RECORDER_PROFILE", metavar="NAME",
                       help="Portal profile to use (rep, customer, or one from your config).")
CONFIG = click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
                      metavar="FILE", help="Extra config file, applied over the site and user config.")
DEBUG = click.option("--debug", is_flag=True, help="Show debug logging and tracebacks.")


def _warn(text: str) -> None:
    console().print(f"[yellow]recorder: warning:[/] {text}", highlight=False, markup=True, soft_wrap=True)


def _setup(profile: str | None, config_file: Path | None, overrides: dict):
    if not profile:
        raise UsageError("no profile given: use --profile rep or --profile customer")
    plugins = load_plugins()
    for message in plugins.broken.values():
        _warn(message)
    cfg = config_mod.load_config(config_file, {("profiles", profile, *k): v for k, v in overrides.items()})
    for message in cfg.ignored:
        _warn(message)
    try:
        resolved = resolve_profile(cfg, plugins.registry, profile)
    except UsageError as exc:
        if plugins.broken and "is not a registered" in str(exc):
            raise UsageError(f"{exc}; plugins not loaded: {', '.join(plugins.broken)}") from None
        raise
    return plugins, resolved


def _record(profile, config_file, duration, source, fps, output_dir, save_to=None, new_session=False):
    overrides = {("source",): source, ("fps",): fps,
                 ("output_dir",): str(output_dir.resolve()) if output_dir else None}
    plugins, resolved = _setup(profile, config_file, {k: v for k, v in overrides.items() if v is not None})
    live = Live(console=console(), transient=True, auto_refresh=False) if console().is_terminal else None

    def tick(rec):
        if live is not None:
            live.update(status_line(rec), refresh=True)

    rec = Recording(plugins, resolved, duration=duration, on_tick=tick, new_session=new_session,
                    save_to=str(save_to) if save_to else None)
    rec.prepare()
    if rec.recovered:
        _warn(f"the last session of profile '{profile}' ended in a crash; recovered it: "
              + "; ".join(rec.recovered))
    if rec.closed_previous:
        console().print(f"recorder: the interrupted session in {rec.closed_previous[0]} is kept as it is "
                        f"({rec.closed_previous[1]})", highlight=False)
    if rec.session.resumed:
        console().print(f"recorder: resuming the interrupted session {rec.session.short_id} "
                        f"in part {len(rec.session.parts) + 1}", highlight=False)
    if live is not None:
        with live:
            rec.record()
    else:
        rec.record()
    session = rec.finish()
    size = sum(part.size for part in session.parts)
    length = sum(part.duration for part in session.parts)
    console().print(f"recorded {clock(length)} in {len(session.parts)} part(s), {human_size(size)}, "
                    f"{session.dropped} dropped frame(s); ended: {session.end_reason}", highlight=False)
    click.echo(str(session.folder))
    if session.end_reason == "interrupted":
        console().print("recorder: the session is interrupted; the next "
                        f"'recorder --profile {profile}' continues it in a new part", highlight=False)
    if session.end_reason == "error":
        raise SystemExit(EXIT_RUNTIME)
    if session.end_reason == DISK_FULL:
        raise SystemExit(EXIT_DISK_FULL)


RECORD_OPTIONS = [
    PROFILE, CONFIG,
    click.option("--duration", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
                 help="Stop after this many seconds (default: until Ctrl-C)."),
    click.option("--source", metavar="NAME", help="Capture source (e.g. mss, synthetic)."),
    click.option("--fps", type=click.FloatRange(min=0, min_open=True), help="Frames per second."),
    click.option("--output-dir", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
                 help="Put the session folder here instead of where the sink would."),
    click.option("--save-to", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
                 help="Answer the end-of-session save prompt in advance."),
    click.option("--new-session", is_flag=True,
                 help="Start a new session even if the last one was interrupted (it is kept as it is)."),
    DEBUG,
]


def _with(options):
    def apply(func):
        for option in reversed(options):
            func = option(func)
        return func
    return apply


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@_with(RECORD_OPTIONS)
@click.version_option(recorder.__version__, prog_name="recorder")
@click.pass_context
def cli(ctx, profile, config_file, duration, source, fps, output_dir, save_to, new_session, debug):
    """Record the screen during a remote-support session, keeping the recording on this machine.

    With no command, records with the given profile: recorder --profile rep
    """
    _logging(debug)
    ctx.obj = {"debug": debug}
    if ctx.invoked_subcommand is None:
        _record(profile, config_file, duration, source, fps, output_dir, save_to, new_session)


@cli.command("record")
@_with(RECORD_OPTIONS)
@click.pass_context
def record_cmd(ctx, profile, config_file, duration, source, fps, output_dir, save_to, new_session, debug):
    """Record a session (the same as giving no command)."""
    _logging(debug or ctx.obj["debug"])
    ctx.obj["debug"] |= debug
    _record(profile, config_file, duration, source, fps, output_dir, save_to, new_session)


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_cmd(as_json):
    """List plugins, their versions and what they provide."""
    plugins = load_plugins()
    rows = describe_plugins(plugins)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        version = row["version"] or "unknown version"
        click.echo(f"{row['name']} {version}" + (f"  BROKEN: {row['error']}" if row.get("error") else ""))
        for component in row["components"]:
            click.echo(f"    {component['kind']:<9} {component['name']:<12} {component['description']}")
        if row["hooks"]:
            click.echo(f"    hooks     {', '.join(row['hooks'])}")


@cli.command("config")
@PROFILE
@CONFIG
def config_cmd(profile, config_file):
    """Print a profile's effective configuration as TOML, with where each value came from."""
    _, resolved = _setup(profile, config_file, {})
    click.echo(describe_config(resolved), nl=False)


@cli.command("list")
@click.option("--profile", "-p", metavar="NAME", help="Only this profile's sessions.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(profile, as_json):
    """List the sessions recorder knows about: saved, unsaved, in progress, incomplete."""
    rows = catalog.sessions(profile)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no sessions")
        return
    for row in rows:
        click.echo(f"{row['id'][:8]}  {row['started_at'][:19].replace('T', ' ')}  {row['profile']:<9} "
                   f"{clock(row['duration'])}  {human_size(row['size']):>9}  {row['parts']} part(s)  "
                   f"{row['state']:<11}  {row['folder']}")
    unsaved = [row for row in rows if row["state"] == "unsaved"]
    if unsaved:
        click.echo(f"save an unsaved session with: recorder save {unsaved[0]['id'][:8]} DIR")


@cli.command("info")
@click.argument("session")
def info_cmd(session):
    """Show a session's manifest in human form: parts, events, end reason."""
    click.echo(describe_session(catalog.find(session)), nl=False)


@cli.command("verify")
@click.argument("session")
def verify_cmd(session):
    """Check every part's SHA-256, the hash chain, that each part decodes, and the folder's files."""
    folder = catalog.find(session)
    ok, problems = verify(folder)
    for line in ok:
        click.echo(f"ok       {line}")
    for line in problems:
        click.echo(f"PROBLEM  {line}")
    if problems:
        click.echo(f"{folder}: {len(problems)} problem(s)", err=True)
        raise SystemExit(EXIT_RUNTIME)
    click.echo(f"{folder}: verified")


@cli.command("save")
@click.argument("session")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
def save_cmd(session, directory):
    """Save a session (for example one left unsaved in staging) into DIRECTORY."""
    folder = catalog.find(session)
    manifest = json.loads((folder / "session.json").read_text())
    target_dir = directory.expanduser().absolute()
    problem = saving.check_destination(target_dir, saving.folder_size(folder), folder)
    if problem:
        raise UsageError(problem)
    try:
        target = saving.move_session(folder, target_dir)
    except saving.SaveError as exc:
        raise RecorderError(str(exc)) from None
    catalog.moved(manifest["session_id"], target)
    remember_location(manifest["profile"], target_dir)
    click.echo(str(target))


@cli.command("stop")
@click.option("--profile", "-p", metavar="NAME", help="The profile whose recorder to stop (default: the only one running).")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for it to seal.")
def stop_cmd(profile, timeout):
    """End the running session from another process, as Ctrl-C would."""
    running = lock.running_profiles()
    if profile is None:
        if len(running) != 1:
            raise UsageError("no recorder is running" if not running else
                             f"several recorders are running ({', '.join(running)}): use --profile")
        profile = running[0]
    pid = lock.holder(profile)
    if pid is None:
        raise RecorderError(f"no recorder is running for profile '{profile}'")
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while lock.holder(profile) is not None:
        if time.monotonic() > deadline:
            raise RecorderError(f"the recorder (pid {pid}) did not finish within {timeout:g} s")
        time.sleep(0.1)
    click.echo(f"stopped the recorder for profile '{profile}' (pid {pid})")


@cli.command("recover")
@click.option("--profile", "-p", metavar="NAME", help="Only this profile's sessions.")
def recover_cmd(profile):
    """Recover sessions a crash left unsealed: cut torn tails, seal and hash every part."""
    found = 0
    for row in catalog.sessions(profile):
        if row["state"] != "incomplete":
            continue
        found += 1
        folder = Path(row["folder"])
        manifest = json.loads((folder / "session.json").read_text())
        report = resume.recover_folder(folder, manifest.get("video", {}).get("fps", 15.0))
        click.echo(f"{row['id'][:8]}  {folder}")
        for line in report:
            click.echo(f"    {line}")
    if not found:
        click.echo("nothing to recover")


@cli.command("export")
@click.argument("session")
@click.option("--format", "fmt", required=True, metavar="FORMAT", help="wmv, mp4, webm, gif (or a plugin's).")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), required=True, metavar="FILE")
@click.option("--from", "start", type=click.FloatRange(min=0), default=0.0, metavar="SECONDS",
              help="Start at this offset on the session timeline.")
@click.option("--to", "stop", type=click.FloatRange(min=0), metavar="SECONDS", help="End at this offset.")
@click.option("--scale", default="", metavar="SIZE", help="WIDTHxHEIGHT, WIDTH (keeps the aspect) or a factor (0.5).")
@click.option("--fps", type=click.FloatRange(min=0, min_open=True), help="Constant output frame rate.")
@click.option("--keep-gaps", is_flag=True, help="Show restarts as a still frame of their length.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
def export_cmd(session, fmt, output, start, stop, scale, fps, keep_gaps, force):
    """Export a session (all its parts) to one file."""
    plugins = load_plugins()
    line = timeline.load(catalog.find(session))
    job = dict(start=start, stop=stop, scale=scale, fps=fps, keep_gaps=keep_gaps)
    total = export.ExportJob(line, output, **job).duration()
    with Progress(TextColumn("exporting"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                  console=console(), transient=True) as bar:
        task = bar.add_task("export", total=total)
        result = export.export_session(plugins, line, fmt, output, force=force,
                                       progress=lambda seconds: bar.update(task, completed=seconds), **job)
    click.echo(str(result))


@cli.command("play")
@click.argument("session")
@click.option("--no-open", is_flag=True, help="Only prepare the replay page and print its path.")
def play_cmd(session, no_open):
    """Replay a session in the browser: one timeline across its parts, with its events."""
    line = timeline.load(catalog.find(session))
    with Progress(TextColumn("preparing the replay"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                  console=console(), transient=True) as bar:
        task = bar.add_task("replay", total=line.recorded)
        page = replay.prepare(line, progress=lambda seconds: bar.update(task, completed=seconds))
    click.echo(str(page))
    if not no_open and not webbrowser.open(page.as_uri()):
        raise RecorderError(f"no browser could be opened; open {page} yourself")


def _logging(debug: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="recorder: %(levelname)s: %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        result = cli.main(args=argv, prog_name="recorder", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        sys.exit(130)
    except click.ClickException as exc:
        # one line, like every other user error (click's own format spans three)
        print(f"recorder: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except RecorderError as exc:
        if debug:
            traceback.print_exc()
        print(f"recorder: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except Exception as exc:
        if debug:
            traceback.print_exc()
        print(f"recorder: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
              file=sys.stderr)
        sys.exit(EXIT_RUNTIME)
    sys.exit(result if isinstance(result, int) else 0)
