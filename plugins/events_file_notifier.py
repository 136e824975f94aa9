"""Notifier ``events-file``: append each notification as a JSON line to a file
that a host application (the support tool) can tail."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import attrs
from recorder import hookimpl, option, platform


def _absolute(instance, attribute, value):
    if not os.path.isabs(os.path.expanduser(value)):
        raise ValueError(f"must be an absolute path, got {value!r}")


@attrs.frozen
class EventsFileOptions:
    path: str = option(help="File to append JSON lines to (created 0600).", validator=_absolute)


class EventsFileNotifier:
    def __init__(self, options: EventsFileOptions):
        self.path = Path(options.path).expanduser()
        self.lock = threading.Lock()
        self.session = None

    def start(self, session) -> None:
        self.session = session
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def notify(self, notification) -> None:
        self._append({
            "kind": notification.kind, "level": notification.level, "text": notification.text,
            "audience": list(notification.audience), "by": notification.by,
        })

    def receipt(self, receipt: dict) -> None:
        """The session's receipt, for the support tool to keep (see recorder verify --receipt)."""
        self._append({"kind": "receipt", "level": "info", "text": f"Recording receipt {receipt['head']}",
                      "audience": [self.session.role] if self.session else [], "by": "recorder", **receipt})

    def _append(self, data: dict) -> None:
        session = self.session
        line = json.dumps({**data, "session_id": session.id if session else None,
                           "profile": session.profile if session else None,
                           "t": round(session.offset(), 3) if session else None})
        with self.lock:
            fd = platform.open_binary(self.path, platform.nofollow(os.O_WRONLY | os.O_APPEND | os.O_CREAT), 0o600)
            with os.fdopen(fd, "a", encoding=platform.UTF8, newline="\n") as fh:  # JSON lines: LF everywhere
                fh.write(line + "\n")


@hookimpl
def recorder_register_notifiers(register):
    register("events-file", EventsFileNotifier, options=EventsFileOptions,
             description="appends notifications as JSON lines to a file")
