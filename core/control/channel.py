"""One recording's control channel: opened once, it answers commands and streams what happens.

Publishing never waits (control/server.py), and a channel that could not be opened
publishes nothing: the recording goes on without it either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recorder.control import commands, status
from recorder.control.server import ControlServer
from recorder.control.status import Recorder


class Channel:
    def __init__(self, path: Path, recorder: Recorder):
        self.path, self.recorder = path, recorder
        self.server: ControlServer | None = None
        self.tried = False  # opened, or failed to: at most once per recording

    def open(self) -> None:
        """Start listening; raises OSError if the channel cannot be had."""
        self.tried = True
        recorder = self.recorder
        server = ControlServer(self.path, lambda command, args: commands.handle(recorder, command, args),
                               hello=lambda: status.hello(recorder.session),
                               history=lambda: status.history(recorder.session))
        server.start()
        self.server = server

    def publish(self, kind: str, payload: Any) -> None:
        """An event or a notification of the session (``Session.subscribe``'s kinds)."""
        if self.server is None:
            return
        session = self.recorder.session
        if kind == "event":
            self.server.publish(status.event(session, payload))
        elif kind == "notification":
            for line in status.notification(session, payload):
                self.server.publish(line)

    def receipt(self, issued: dict[str, Any]) -> None:
        if self.server is not None:
            self.server.publish(status.receipt(issued))

    def close(self, abandoned: str | None = None) -> None:
        """The last line, then the end; ``abandoned``: the session ended before recording began."""
        if self.server is None:
            return
        self.server.close(status.ended(self.recorder.session, abandoned))
        self.server = None
