"""The control channel's commands, carried out on the recording they reach.

``subscribe`` is the server's own (control/server.py); every other command is
answered here, through the recording's narrow view (control/status.py). The
request is already parsed; its fields are checked here, by control/protocol.py.
"""

from __future__ import annotations

from typing import Any

from recorder.control import protocol, status as statuses
from recorder.control.protocol import BadRequest
from recorder.control.status import Recorder
from recorder.session.model import HOLD, RELEASE, hold_in_force


def handle(recorder: Recorder, command: str, args: dict) -> Any:
    """The result of one request; a request the recorder will not carry out raises BadRequest."""
    if command == "status":
        return statuses.status(recorder)
    if recorder.not_recording_yet() is not None:
        raise BadRequest("the recording has not started: consent to record is asked first "
                         f"(at most {recorder.consent_timeout:g} s)")
    command_of = COMMANDS.get(command)
    if command_of is None:
        raise BadRequest(f"command: {command!r} is not handled")
    return command_of(recorder, args)


def stop(recorder: Recorder, args: dict) -> dict[str, Any]:
    by, reason = protocol.who(args), protocol.text(args, "reason")
    recorder.session.request_end("user", by=by, text=reason or f"stopped by {by}")
    return {"ending": True}


def pause(recorder: Recorder, args: dict) -> dict[str, Any]:
    session = recorder.session
    done = session.pause(protocol.who(args), protocol.text(args, "reason"))
    if not done and session.ending:
        raise BadRequest("the session is ending: nothing to pause")
    return {"paused": True, "already": not done}


def resume(recorder: Recorder, args: dict) -> dict[str, Any]:
    done = recorder.session.unpause(protocol.who(args))
    return {"paused": False, "already": not done}


def mark(recorder: Recorder, args: dict) -> dict[str, Any]:
    session = recorder.session
    if session.ended_at is not None:
        raise BadRequest("the session has ended: its timeline is closed")
    event = session.mark(protocol.kind(args), protocol.text(args, "text"), protocol.who(args), protocol.data(args))
    return {"t": event.t, "time": event.time}


def hold(recorder: Recorder, args: dict) -> dict[str, Any]:
    """A legal hold on the session being recorded (recorder hold, for a session that has ended)."""
    session, by, reason = recorder.session, protocol.who(args), _reason(args, "held")
    if session.ended_at is not None:
        raise BadRequest("the session has ended: hold it with 'recorder hold SESSION --reason TEXT'")
    if hold_in_force(session.events) is not None:
        raise BadRequest("the session is already held; nothing changed")
    event = session.add_event(HOLD, f"held by {by}: {reason}", by=by, reason=reason)
    return {"held": True, "t": event.t, "time": event.time}


def release(recorder: Recorder, args: dict) -> dict[str, Any]:
    session, by, reason = recorder.session, protocol.who(args), _reason(args, "released")
    if session.ended_at is not None:
        raise BadRequest("the session has ended: release it with 'recorder release SESSION --reason TEXT'")
    if hold_in_force(session.events) is None:
        raise BadRequest("the session is not held: nothing to release")
    event = session.add_event(RELEASE, f"released by {by}: {reason}", by=by, reason=reason)
    return {"held": False, "t": event.t, "time": event.time}


def _reason(args: dict, verb: str) -> str:
    reason = protocol.text(args, "reason").strip()
    if not reason:
        raise BadRequest(f"reason: required (why the recording is {verb}: it stays on its timeline as evidence)")
    return reason


COMMANDS = {"stop": stop, "pause": pause, "resume": resume, "mark": mark, "hold": hold, "release": release}
