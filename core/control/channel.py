"""One recording's control channel: opened once, it answers commands and streams what happens.

Publishing never waits (control/server.py), and a channel that could not be opened
publishes nothing: the recording goes on without it either way.
"""

from __future__ import annotations

from typing import Any

from recorder.control import commands, protocol, status
from recorder.control.server import ControlServer
from recorder.control.status import Recorder
from recorder.session.lock import runtime_dir


class Channel:
    def __init__(self, profile: str, recorder: Recorder):
        self.profile, self.recorder = profile, recorder
        self.server: ControlServer | None = None

    def open(self) -> None:
        """Start listening where the profile's recorder is found; raises OSError if the
        channel cannot be had."""
        recorder = self.recorder
        server = ControlServer(protocol.socket_path(runtime_dir(), self.profile),
                               lambda command, args: commands.handle(recorder, command, args),
                               hello=lambda: status.hello(recorder.session),
                               history=lambda: status.history(recorder.session))
        # marks from before a restart count against the session's cap (control/server.py)
        server.seed_marks([{"kind": e.kind, "text": e.text, "by": e.by, "data": e.data}
                           for e in recorder.session.events
                           if e.by != "recorder" and e.kind not in protocol.RESERVED])
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
