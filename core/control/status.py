"""What a running recorder tells the control channel: its status, and the lines it streams.

The channel sees the recording through ``Recorder``, a narrow view: the session,
whether recording has begun, and how many bytes the parts hold. Everything else
of the recording (its components, threads, folders) stays out of reach.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import attrs

from recorder.session.model import Event, Session
from recorder.values import Notification


class Recorder(Protocol):
    """What the control channel needs of the recording it serves."""

    session: Session  # replaced once, when a crashed session is resumed
    consent_timeout: float  # the longest the consent question stays open

    def not_recording_yet(self) -> str | None:
        """``"waiting-for-consent"`` or ``"starting"`` before anything is recorded; None after."""

    def bytes_written(self) -> int:
        """What the parts hold so far."""


def status(recorder: Recorder) -> dict[str, Any]:
    """The answer to ``status`` (docs/support-tools.md lists its fields)."""
    session = recorder.session
    pause = session.paused
    state = recorder.not_recording_yet()
    if state is None:
        if session.ended_at is not None:
            state = "ended"
        elif session.ending:
            state = "ending"
        else:
            state = "paused" if pause else "recording"
    return {
        "state": state, "profile": session.profile, "role": session.role, "session_id": session.id,
        "support_session_id": session.support_id, "labels": session.labels, "pid": os.getpid(),
        "started_at": session.started_at.isoformat(), "elapsed": round(session.offset(), 3),
        "paused": {"by": pause.by, "reason": pause.reason, "since": pause.since} if pause else None,
        "parts": len(session.parts), "frames_captured": session.captured, "dropped": session.dropped,
        "bytes_written": recorder.bytes_written(),
        "folder": str(session.folder) if session.folder else None, "end_reason": session.end_reason,
    }


def hello(session: Session) -> dict[str, Any]:
    """What a client is told on connecting, besides the protocol version."""
    return {"profile": session.profile, "session_id": session.id, "pid": os.getpid()}


def history(session: Session) -> list[dict[str, Any]]:
    """The session's events so far, for a subscriber that asks for them."""
    return [{"type": "event", "seq": seq, "event": attrs.asdict(event)}
            for seq, event in enumerate(list(session.events))]


def event(session: Session, happened: Event) -> dict[str, Any]:
    # seq: the event's place on the timeline, so that one both in the history and
    # streamed is sent once (control/server.py)
    events = session.events
    seq = next((i for i in range(len(events) - 1, -1, -1) if events[i] is happened), None)
    return {"type": "event", "seq": seq, "event": attrs.asdict(happened)}


def notification(session: Session, told: Notification) -> list[dict[str, Any]]:
    lines = [{"type": "notification", "notification": attrs.asdict(told)}]
    if told.kind == "end-session-requested":  # the support tool's own line for it
        lines.append({"type": "end-session-requested", "reason": session.end_reason, "text": told.text,
                      "session_id": session.id, "support_session_id": session.support_id})
    return lines


def receipt(issued: dict[str, Any]) -> dict[str, Any]:
    return {"type": "receipt", "receipt": issued}


def ended(session: Session, abandoned: str | None = None) -> dict[str, Any]:
    """The last line; ``abandoned``: why the session ended before anything of it was written."""
    if abandoned is not None:
        return {"type": "ended", "session_id": session.id, "end_reason": abandoned, "folder": "", "parts": 0}
    return {"type": "ended", "session_id": session.id, "end_reason": session.end_reason,
            "folder": str(session.folder), "parts": len(session.parts)}
