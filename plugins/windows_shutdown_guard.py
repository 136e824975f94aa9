"""Guard ``windows-shutdown``: the console control handler's shutdown and logoff
events on Windows. Elsewhere it says so once at debug level and does nothing."""

from __future__ import annotations

import logging
import sys

from recorder import hookimpl

log = logging.getLogger("recorder.windows")
CTRL_LOGOFF_EVENT = 5
CTRL_SHUTDOWN_EVENT = 6
EVENTS = {CTRL_LOGOFF_EVENT: "logoff", CTRL_SHUTDOWN_EVENT: "shutdown"}


class WindowsShutdownGuard:
    def __init__(self, options=None):
        self.installed = None

    def handle(self, event: int) -> bool:
        """The console control handler: True means "handled, give us the time to seal"."""
        if event not in EVENTS:
            return False
        self.session.notify("warning", "The recording is paused: Windows is shutting down or logging off. "
                                       "It continues in a new part when the session resumes.",
                            by="windows-shutdown")
        self.session.request_end("interrupted", by="windows-shutdown", text=EVENTS[event])
        self.session.wait_sealed(5.0)  # Windows ends the process when the handler returns
        return True

    def start(self, session) -> None:
        self.session = session
        if sys.platform != "win32":
            log.debug("windows-shutdown: not on Windows")
            return
        import ctypes
        from ctypes import wintypes

        prototype = ctypes.WINFUNCTYPE(wintypes.BOOL, wintypes.DWORD)
        self.installed = prototype(lambda event: bool(self.handle(event)))
        ctypes.windll.kernel32.SetConsoleCtrlHandler(self.installed, True)

    def stop(self) -> None:
        if self.installed is not None:
            import ctypes

            ctypes.windll.kernel32.SetConsoleCtrlHandler(self.installed, False)
            self.installed = None


@hookimpl
def recorder_register_guards(register):
    register("windows-shutdown", WindowsShutdownGuard,
             description="Windows shutdown/logoff: seal and mark the session interrupted")
