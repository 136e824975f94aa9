"""The command line: a thin layer over the library API."""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import traceback
import warnings
from pathlib import Path

import click
from recorder.cli.params import CONTROL_VERBS, GROUP_OPTIONS, Duration, PathParam, finite
from recorder.console import console, library_warning, say, warn
from recorder.errors import EXIT_DISK_FULL, EXIT_RUNTIME, NoConsent, RecorderError, UsageError
from recorder.version import __version__

# Commands are imported when run, not at every start: support tools call `status`,
# `mark` and `stop` often, and most commands never touch PyAV, the plugins or the
# config machinery that recording needs (see benchmarks/startup.py).
LAZY_COMMANDS = {
    **{name: f"recorder.cli.listing:{name}_cmd" for name in ("list", "info")},
    "verify": "recorder.cli.verifying:verify_cmd",
    "search": "recorder.cli.search:search_cmd",
    "index": "recorder.cli.indexing:index_cmd",
    **{name: f"recorder.cli.holding:{name}_cmd" for name in ("hold", "release")},
    **{name: f"recorder.cli.save_recover:{name}_cmd" for name in ("save", "recover")},
    **{name: f"recorder.cli.viewing:{name}_cmd" for name in ("export", "play")},
    **{name: f"recorder.cli.control:{name}_cmd" for name in CONTROL_VERBS},
}


class LazyGroup(click.Group):
    """recorder's commands, imported when run, and the commands plugins add
    (recorder_register_commands): plugins are loaded for any command but the control verbs."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.plugins_asked = False
        self.broken: dict[str, str] = {}  # plugins that could not be loaded, and why
        self.owners: dict[str, str] = {}  # command name -> the plugin that added it

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.ask_plugins()
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context | None, name: str) -> click.Command | None:
        if name not in CONTROL_VERBS:
            self.ask_plugins()
        if name in LAZY_COMMANDS and name not in self.commands:
            module, attribute = LAZY_COMMANDS[name].split(":")
            super().add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)  # type: ignore[arg-type]

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name = args[0] if args else ""
        if self.get_command(ctx, name) is None and self.broken and not name.startswith("-"):
            raise UsageError(f"no such command '{name}' (plugins not loaded: {', '.join(self.broken)})")
        return super().resolve_command(ctx, args)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        """A plugin's command: refused (its hook fails, named in one line) if it takes a name in use."""
        name = name or cmd.name
        isolation = sys.modules.get("recorder.host.isolation")  # not loaded: no plugin is running
        plugin = isolation.running_plugin.get() if isolation else "recorder"
        if plugin != "recorder":
            if name in self.commands or name in LAZY_COMMANDS:
                owner = self.owners.get(name)
                raise UsageError(f"command '{name}' is already " + (f"added by plugin \"{owner}\""
                                                                   if owner else "recorder's own"))
            self.owners[name] = plugin
        super().add_command(cmd, name)

    def ask_plugins(self) -> None:
        """Once: let plugins add their commands and extend recorder's (a failure is named, never raised)."""
        if self.plugins_asked:
            return
        self.plugins_asked = True
        from recorder.host.manager import load_plugins

        host = load_plugins()
        self.broken = dict(host.broken)
        host.call("recorder_register_commands", cli=self)


PROFILE = click.option("--profile", "-p", envvar="RECORDER_PROFILE", metavar="NAME",
                       help="Portal profile to use (rep, customer, or one from your config).")
CONFIG = click.option("--config", "config_file", type=PathParam(path_type=Path, dir_okay=False),
                      metavar="FILE", help="Extra config file, applied over the site and user config.")
DEBUG = click.option("--debug", is_flag=True, help="Show debug logging and tracebacks.")


def _setup(profile: str | None, config_file: Path | None, overrides: dict):
    from recorder.config import layers
    from recorder.config.profile import resolve_profile
    from recorder.host.manager import load_plugins

    if not profile:
        raise UsageError("no profile given: use --profile rep or --profile customer")
    layers.check_profile_name(profile, "--profile")
    host = load_plugins()
    for message in host.broken.values():
        warn(message)
    cfg = layers.load_config(config_file, {("profiles", profile, *k): v for k, v in overrides.items()})
    for message in cfg.ignored:
        warn(message)
    try:
        resolved = resolve_profile(cfg, host.registry, profile)
    except UsageError as exc:
        if host.broken and "is not a registered" in str(exc):
            raise UsageError(f"{exc}; plugins not loaded: {', '.join(host.broken)}") from None
        raise
    return host, resolved


def _record(profile, config_file, duration, source, fps, output_dir, save_to=None, new_session=False,
            session_id=None, labels=(), resume=False):
    from recorder.cli.status import status_line
    from recorder.pipeline.recording import DISK_FULL, FOLDER_LOST, Recording
    from recorder.session.identity import check_support_id, parse_labels
    from recorder.values import clock, human_size
    from rich.live import Live

    if new_session and resume:
        raise UsageError("--new-session and --resume contradict each other: give one")
    support_id = check_support_id(session_id) if session_id else ""
    labels = parse_labels(labels)
    overrides = {("source",): source, ("fps",): fps,
                 ("output_dir",): str(output_dir.resolve()) if output_dir else None}
    host, resolved = _setup(profile, config_file, {k: v for k, v in overrides.items() if v is not None})
    live = Live(console=console(), transient=True, auto_refresh=False) if console().is_terminal else None

    def tick(rec):
        if live is not None:
            live.update(status_line(rec), refresh=True)

    rec = Recording(host, resolved, duration=duration, on_tick=tick, new_session=new_session,
                    save_to=str(save_to) if save_to else None, support_id=support_id, labels=labels,
                    resume=resume)
    rec.prepare()
    if rec.recovered:
        warn(f"the last session of profile '{profile}' ended in a crash; recovered it: "
             + "; ".join(rec.recovered))
    if rec.tidied:
        say(f"what an earlier run of profile '{profile}' left unfinished is taken care of: " + "; ".join(rec.tidied))
    if rec.closed_previous:
        say(f"the interrupted session in {rec.closed_previous[0]} is kept as it is ({rec.closed_previous[1]})")
    if rec.session.resumed:
        say(f"resuming the interrupted session {rec.session.short_id} in part {len(rec.session.parts) + 1}")
    with rec.ctrl_c.held():  # Ctrl-C again while finishing must not cost the report (pipeline/ctrl_c.py)
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
        if rec.receipt:
            say(f"receipt head {rec.receipt['head']} (recorder verify {session.short_id} --receipt HEAD)")
        if session.end_reason == "interrupted":
            say(f"the session is interrupted; "
                f"{who_continues(profile, session.support_id, resolved.settings.resume_within)}")
    if session.end_reason in ("error", FOLDER_LOST):
        raise SystemExit(EXIT_RUNTIME)
    if session.end_reason == DISK_FULL:
        raise SystemExit(EXIT_DISK_FULL)


def who_continues(profile: str, support_id: str, within_hours: float) -> str:
    """Which start continues an interrupted session, as session/recovery.py's why_not_resume
    decides: the same --session-id; without ids, a start after the machine restarted (on the
    same boot, a start without an id is the next support session); --resume, any start."""
    from recorder.session.identity import boot_id

    within = f"within {within_hours:g} h"
    if support_id:
        return (f"'recorder --profile {profile} --session-id {support_id}' {within} continues it in a new part "
                "(a start with another id or none records a new session and keeps this one as it is)")
    if not boot_id():  # no restart can be told from here: only --resume continues it
        return f"'recorder --profile {profile} --resume' {within} continues it in a new part"
    return (f"'recorder --profile {profile}' continues it in a new part after the machine restarts ({within}); "
            f"before that it records a new session, unless given --resume ('recorder --profile {profile} "
            "--resume')")


RECORD_OPTIONS = [
    PROFILE, CONFIG,
    click.option("--duration", type=Duration(maximum=7 * 86400, min_open=True), metavar="TIME",
                 help="Stop after this long: seconds, or 90s, 10m, 1h30m, 01:30:00 (default: until Ctrl-C)."),
    click.option("--source", metavar="NAME", help="Capture source (e.g. mss, synthetic)."),
    click.option("--fps", type=click.FloatRange(min=0, min_open=True), callback=finite,
                 help="Frames per second."),
    click.option("--output-dir", type=PathParam(path_type=Path, file_okay=False), metavar="DIR",
                 help="Put the session folder here instead of where the sink would."),
    click.option("--save-to", type=PathParam(path_type=Path, file_okay=False), metavar="DIR",
                 help="Answer the end-of-session save prompt in advance."),
    click.option("--session-id", envvar="RECORDER_SESSION_ID", metavar="ID",
                 help="The support tool's id for this support session: an interrupted recording is "
                      "continued only by a start with the same id."),
    click.option("--label", "labels", multiple=True, metavar="KEY=VALUE",
                 help="Tie the recording to a ticket, customer, rep... (repeatable)."),
    click.option("--new-session", is_flag=True,
                 help="Start a new session even if the last one was interrupted (it is kept as it is)."),
    click.option("--resume", is_flag=True, help="Continue the interrupted session whatever its id or age."),
    DEBUG,
]
RECORD_PARAMS = ("profile", "config_file", "duration", "source", "fps", "output_dir", "save_to", "new_session",
                 "session_id", "labels", "resume")


def _with(options):
    def apply(func):
        for option in reversed(options):
            func = option(func)
        return func
    return apply


@click.group(cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@_with(RECORD_OPTIONS)
@click.version_option(__version__, prog_name="recorder")
@click.pass_context
def cli(ctx, debug, **options):
    """Record the screen during a remote-support session, keeping the recording on this machine.

    With no command, records with the given profile: recorder --profile rep
    """
    _logging(debug)
    ctx.obj = {"debug": debug}
    if ctx.invoked_subcommand is None:
        _record(**options)
        return
    # Options before a command name: passed on where the command takes them, refused where
    # it does not (`recorder --profile nope list` must not silently list every profile).
    given = {param.replace("_", "-").replace("config-file", "config"): value
             for param, value in options.items()
             if value not in (None, False, ()) and ctx.get_parameter_source(param) == click.core.ParameterSource.COMMANDLINE}
    if ctx.invoked_subcommand == "record":
        ctx.obj["given"] = given
        return
    accepted = GROUP_OPTIONS.get(ctx.invoked_subcommand)
    if accepted is None:  # a plugin's command: those of the group's options it has too
        command = ctx.command.get_command(ctx, ctx.invoked_subcommand)
        accepted = tuple(opt[2:] for param in (command.params if command else ()) for opt in param.opts
                         if opt.startswith("--") and any(opt in own.opts for own in ctx.command.params))
    for name in given:
        if name not in accepted:
            raise UsageError(f"--{name} does not apply to 'recorder {ctx.invoked_subcommand}'"
                             + (f" (it takes: {', '.join('--' + a for a in accepted)})" if accepted else ""))
    ctx.obj.update(given)


@cli.command("record")
@_with(RECORD_OPTIONS)
@click.pass_context
def record_cmd(ctx, debug, **options):
    """Record a session (the same as giving no command)."""
    _logging(debug or ctx.obj["debug"])
    ctx.obj["debug"] |= debug
    given = ctx.obj.get("given", {})  # options given before the command name
    for param in RECORD_PARAMS:
        name = param.replace("_", "-").replace("config-file", "config")
        if options.get(param) in (None, False, ()):
            options[param] = given.get(name, options.get(param))
    _record(**options)


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_cmd(as_json):
    """List plugins, their versions and what they provide."""
    from recorder.cli.report import describe_plugins
    from recorder.host.manager import load_plugins

    rows = describe_plugins(load_plugins())
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
@click.pass_context
def config_cmd(ctx, profile, config_file):
    """Print a profile's effective configuration as TOML, with where each value came from."""
    from recorder.cli.report import describe_config

    _, resolved = _setup(profile or ctx.obj.get("profile"), config_file or ctx.obj.get("config"), {})
    click.echo(describe_config(resolved), nl=False)


def _logging(debug: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="recorder: %(levelname)s: %(name)s: %(message)s")


def utf8_output() -> None:
    """What recorder prints to a pipe or a file is UTF-8 on every system.

    Windows gives a pipe the ANSI code page (cp1252, say), in which a label such as
    "Łódź 東京" cannot be written at all, and a support tool reading the pipe could not
    tell which code page it got: there, stdout and stderr that are not a console become
    UTF-8, as ``python -X utf8`` (recorder.cmd) makes them. A console keeps its own
    encoding (Python writes it through the console's UTF-16 API). Linux and macOS
    already use UTF-8 (Python coerces the C locale). A character that cannot be
    written (a lone surrogate in a file name) is escaped, never an error.
    """
    if sys.platform != "win32":
        return
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and hasattr(stream, "reconfigure") and not stream.isatty():
            stream.reconfigure(encoding="utf-8", errors="backslashreplace")


def main(argv: list[str] | None = None) -> None:
    # Whatever a library creates on recorder's behalf (a muxer's file, a temporary
    # file) is private from its first byte, even where the code names no mode.
    os.umask(0o077)
    utf8_output()
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    if not debug:  # a library's warning: one line of recorder's own, not its source file and line
        warnings.showwarning = library_warning
    try:
        result = cli.main(args=argv, prog_name="recorder", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        sys.exit(130)
    except click.ClickException as exc:
        # one line, like every other user error (click's own format spans three)
        print(f"recorder: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except NoConsent as exc:  # a decision, not an error: said as such
        print(f"recorder: not recording: {exc}", file=sys.stderr)
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
