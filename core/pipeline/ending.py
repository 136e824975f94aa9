"""How a recording's end is decided when something goes wrong, and when the support
session must end with it.

Plugins ask for the end (``session.request_end``); core overrules them only for a
failure, which is what the manifest and the exit status must say.
"""

from __future__ import annotations

import errno
from typing import Any

from recorder.components import EndsSupportSession
from recorder.errors import describe
from recorder.session.model import Session

DISK_FULL = "disk-full"
FOLDER_LOST = "folder-lost"
ERROR = "error"  # the source, the encoder or the part writer (and its part stream) failed
# Why the support session must end along with the recording, by end reason: core's own
# here; a guard adds its own with a class attribute ``ends_support_session``, e.g.
# ``{"disk-space": "not enough disk space where it is recorded"}``.
ENDS_SUPPORT_SESSION = {DISK_FULL: "not enough disk space where it is recorded"}
# Strict mode (the profile's ``require_recording``): every other way the recording ends
# because it cannot go on ends the support session too. The texts reach the customer:
# nothing of this machine in them (no folder, no error message).
REQUIRED = "this session must be recorded"
STRICT_ENDS_SUPPORT_SESSION = {
    ERROR: f"it could not be captured, encoded or written, and {REQUIRED}",
    FOLDER_LOST: f"the folder it is written to was lost, and {REQUIRED}",
}


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def end_with(session: Session, reason: str, by: str, text: str) -> None:
    """End for ``reason``, even when another end was asked for first (but a full disk stays)."""
    if session.end_reason in (None, reason):
        session.request_end(reason, by=by, text=text)
    elif session.end_reason != DISK_FULL:  # the disk filling is the truest account
        session.overrule_end(reason, by=by, text=text)


def disk_filled(session: Session, exc: BaseException) -> None:
    session.add_event("error", f"the disk is full: {describe(exc)}", level="error", by="recorder")
    session.notify("error", "The disk holding the recording is full: recording stopped; "
                            "what was recorded up to the last second is kept.", by="recorder")
    end_with(session, DISK_FULL, "recorder", "the disk filled up")


def failed(session: Session, exc: BaseException, by: str, what: str) -> None:
    """A component failed (``what``: "source 'mss' failed"; ``by``: its plugin): the session
    ends, and is sealed. A failure decides the end reason even when the end was already
    asked for (the disk can fill while the last frames are written): exit status and
    manifest must say what happened."""
    if is_disk_full(exc):
        disk_filled(session, exc)
        return
    session.add_event("error", f"{what}: {describe(exc)}", level="error", by=by)
    end_with(session, ERROR, by, what)


def support_session_ends(guards: list[tuple[str, Any]], strict: bool = False) -> dict[str, str]:
    """End reason -> why the support session must end too, core's and the guards'; with
    ``strict`` (require_recording) also every failure the recording cannot go on after."""
    reasons = {**ENDS_SUPPORT_SESSION, **(STRICT_ENDS_SUPPORT_SESSION if strict else {})}
    for _, guard in guards:
        if isinstance(guard, EndsSupportSession):
            reasons.update(guard.ends_support_session or {})
    return reasons


def ask_to_end_support_session(session: Session, why: str, asked: str = "") -> None:
    """The recording had to stop for a reason the support session must end for too:
    the support tool is asked to end it, as the product it replaces does. ``asked``: the
    end-requested event's text, which for a failure names the component (core's words,
    never the error's), e.g. "source 'mss' failed"."""
    if why == STRICT_ENDS_SUPPORT_SESSION[ERROR] and asked:  # which part of the recording failed
        why = f"{asked}; {REQUIRED}"
    session.notify("error", f"The support session needs to end: the recording had to stop ({why}).",
                   by="recorder", kind="end-session-requested")
