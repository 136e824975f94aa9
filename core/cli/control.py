"""The verbs that talk to a running recorder over its control channel:
status, pause, resume, mark, events, stop."""

from __future__ import annotations

import json
import os
import signal
import time

import click
from recorder import platform
from recorder.cli.params import Duration, profile_name
from recorder.console import for_terminal
from recorder.control.client import Client, endpoint, running_profile
from recorder.errors import RecorderError, UsageError
from recorder.session import lock
from recorder.values import clock, human_size

PROFILE = click.option("--profile", "-p", metavar="NAME", callback=profile_name,
                       help="The recorder of this profile (default: the only one running).")
WAIT = click.option("--wait", type=Duration(maximum=3600), default=0.0, metavar="TIME",
                    help="Wait this long for the recorder to come up (for scripts): seconds, or 30s, 2m.")
BY = click.option("--by", metavar="WHO", default="control", show_default=True,
                  help="Who does it (rep, customer, the support tool's name): kept on the timeline.")
JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def _client(ctx: click.Context, profile: str | None, wait: float = 0.0) -> Client:
    profile = running_profile(profile or (ctx.obj or {}).get("profile"), wait)
    return Client(profile, wait=wait)


@click.command("status")
@PROFILE
@WAIT
@JSON
@click.pass_context
def status_cmd(ctx, profile, wait, as_json):
    """What the running recorder is doing: recording or paused, for which support session.
    With --json and nothing running: {"state": "idle"} (exit 0), an answer a script can read."""
    if as_json:
        from recorder.cli.status import idle_status

        idle = idle_status(profile or (ctx.obj or {}).get("profile"), wait)
        if idle is not None:
            click.echo(json.dumps(idle))
            return
    with _client(ctx, profile, wait) as client:
        status = client.request("status")
    if as_json:
        click.echo(json.dumps(status, indent=2))
        return
    state = status["state"]
    if status["paused"]:
        pause = status["paused"]
        state += f" by {pause['by']}" + (f" ({pause['reason']})" if pause["reason"] else "")
    click.echo(f"{status['profile']}: {state}, {clock(status['elapsed'])} since the start, "
               f"{status['parts']} part(s), {human_size(status['bytes_written'])} written, "
               f"{status['dropped']} dropped frame(s)")
    click.echo(f"session {status['session_id'][:8]}"
               + (f"  support session {status['support_session_id']}" if status["support_session_id"] else "")
               + "".join(f"  {k}={v}" for k, v in status["labels"].items()))
    click.echo(status["folder"])


@click.command("pause")
@PROFILE
@BY
@click.option("--reason", default="", metavar="TEXT", help="Why (kept on the timeline).")
@WAIT
@click.pass_context
def pause_cmd(ctx, profile, by, reason, wait):
    """Stop grabbing the screen until 'recorder resume' (e.g. while a password is typed)."""
    with _client(ctx, profile, wait) as client:
        result = client.request("pause", by=by, reason=reason)
    click.echo("already paused" if result["already"] else "paused")


@click.command("resume")
@PROFILE
@BY
@WAIT
@click.pass_context
def resume_cmd(ctx, profile, by, wait):
    """Grab the screen again after 'recorder pause'."""
    with _client(ctx, profile, wait) as client:
        result = client.request("resume", by=by)
    click.echo("was not paused" if result["already"] else "recording")


@click.command("mark")
@click.argument("text")
@PROFILE
@click.option("--kind", default="mark", show_default=True, metavar="KIND",
              help="The event's kind: chat, remote-control, file-sent... (not one of recorder's own).")
@BY
@click.option("--data", "data", default="{}", metavar="JSON", help="Details kept with the event (a JSON object).")
@WAIT
@click.pass_context
def mark_cmd(ctx, text, profile, kind, by, data, wait):
    """Put the support tool's event on the session's timeline."""
    try:
        details = json.loads(data)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--data: not JSON: {exc}") from None
    with _client(ctx, profile, wait) as client:
        result = client.request("mark", text=text, kind=kind, by=by, data=details)
    click.echo(f"marked at {clock(result['t'])}")


@click.command("events")
@PROFILE
@click.option("--follow", "-f", is_flag=True, help="Keep printing events as they happen, until the session ends.")
@WAIT
@JSON
@click.pass_context
def events_cmd(ctx, profile, follow, wait, as_json):
    """The running session's events so far (and, with --follow, as they happen)."""
    with _client(ctx, profile, wait) as client:
        # Without --follow: the history, and whatever arrives while it is read.
        for message in client.stream(history=True, idle=None if follow else 0.3):
            click.echo(json.dumps(message, ensure_ascii=False) if as_json else _line(message))


def _line(message: dict) -> str:
    kind = message.get("type")
    if kind == "event":
        event = message["event"]
        return f"{clock(event['t'])}  {event['kind']:<14} {event['by']:<12} {for_terminal(event['text'])}"
    if kind == "notification":
        note = message["notification"]
        return f"{'':8}  → {','.join(note['audience'])}: {note['text']}"
    if kind == "end-session-requested":
        return f"{'':8}  END SESSION REQUESTED ({message['reason']}): {message['text']}"
    if kind == "receipt":
        return f"{'':8}  receipt head {message['receipt']['head']}"
    if kind == "ended":
        return f"{'':8}  ended: {message['end_reason']}  {message['folder']}"
    return json.dumps(message)


@click.command("stop")
@PROFILE
@BY
@click.option("--reason", default="", metavar="TEXT", help="Why (kept on the timeline).")
@click.option("--timeout", type=Duration(), default=60.0, show_default=True, metavar="TIME",
              help="How long to wait for the recorder to seal and finish: seconds, or 90s, 2m.")
@click.pass_context
def stop_cmd(ctx, profile, by, reason, timeout):
    """End the running session from another process, as Ctrl-C would, and wait until it is sealed."""
    profile = running_profile(profile or (ctx.obj or {}).get("profile"))
    pid = lock.holder(profile)
    if endpoint(profile).exists():
        with Client(profile) as client:
            client.request("stop", by=by, reason=reason)
    elif pid and platform.can_signal_for_control():  # a recorder without a channel (it could not open one): as Ctrl-C
        os.kill(pid, signal.SIGINT)
    elif pid is not None:
        # Windows: os.kill is TerminateProcess (nothing sealed, maybe a reused pid's process).
        raise UsageError(f"the recorder for profile '{profile}'{f' (pid {pid})' if pid else ''} has no control "
                         "channel; end it with Ctrl-C in its window")
    else:
        raise UsageError(f"no recorder is running for profile '{profile}'")
    deadline = time.monotonic() + timeout
    while lock.holder(profile) is not None:
        if time.monotonic() > deadline:
            raise RecorderError(f"the recorder (pid {pid}) did not finish within {timeout:g} s")
        time.sleep(0.05)
    click.echo(f"stopped the recorder for profile '{profile}'" + (f" (pid {pid})" if pid else ""))


COMMANDS = [status_cmd, pause_cmd, resume_cmd, mark_cmd, events_cmd, stop_cmd]
