"""Guard ``signals``: SIGTERM and SIGHUP mean the machine is shutting down or the
session's terminal went away: seal the part, mark the session interrupted, and
let the next start resume it. (Ctrl-C keeps its meaning: end the session.)"""

from __future__ import annotations

import logging
import signal
import threading

from recorder import hookimpl, platform

log = logging.getLogger("recorder.signals")


class SignalsGuard:
    def __init__(self, options=None):
        self.previous: dict[int, object] = {}

    def start(self, session) -> None:
        if threading.current_thread() is not threading.main_thread():
            log.debug("signals: not on the main thread, cannot install handlers")
            return

        def handle(signum, frame):
            name = signal.Signals(signum).name
            session.notify("warning", "The recording is paused: the machine is shutting down or "
                                      "restarting. It continues in a new part when the session resumes.",
                           by="signals")
            session.request_end("interrupted", by="signals", text=f"{name}: shutdown or restart")

        for name in platform.shutdown_signals():  # no SIGHUP on Windows (windows-shutdown covers it)
            number = getattr(signal, name)
            self.previous[number] = signal.signal(number, handle)

    def stop(self) -> None:
        # Called after the last part is sealed: until then a second SIGTERM must not kill us.
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        self.previous.clear()


@hookimpl
def recorder_register_guards(register):
    register("signals", SignalsGuard, description="SIGTERM/SIGHUP: seal and mark the session interrupted")
