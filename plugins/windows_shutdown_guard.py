"""Guard ``windows-shutdown``: Windows shutdown, restart, logoff, and the console
window being closed. Elsewhere it says so once at debug level and does nothing.

Windows does not send logoff or shutdown to a console handler in a process that
loads user32/gdi32 (mss does): only a top-level window receives them, as
WM_QUERYENDSESSION ("may we end?") then WM_ENDSESSION ("we end now", wParam TRUE,
about 5 s left; or wParam FALSE: another application refused, nothing ends). So the
guard runs a hidden top-level window on a thread of its own. On the question it only
prepares: it shows a block reason (what Windows lists while it waits) and says yes,
because the answer is not the end: an application asked after us may still refuse.
On WM_ENDSESSION TRUE it requests the end as an interruption (so that the next start
resumes the session) and holds the window until the part is sealed; on FALSE it
drops the block reason and the recording goes on. Closing the console window
(CTRL_CLOSE_EVENT) gives 5 s too, through the console handler.

``window_procedure`` and ``console_handler`` are plain Python functions of the
message; the ctypes plumbing (``windows_shutdown_guard_win32``) only carries messages
to them, so the decisions are tested on Linux with messages the test builds, and
under Wine with the messages Wine sends.
"""

from __future__ import annotations

import logging
import sys
import threading

from recorder import hookimpl

log = logging.getLogger("recorder.windows")

WM_CLOSE, WM_QUERYENDSESSION, WM_ENDSESSION = 0x0010, 0x0011, 0x0016
ENDSESSION_CLOSEAPP, ENDSESSION_CRITICAL, ENDSESSION_LOGOFF = 0x1, 0x40000000, 0x80000000
CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT = 2, 5, 6
CONSOLE_EVENTS = {CTRL_CLOSE_EVENT: "console window closed", CTRL_LOGOFF_EVENT: "logoff",
                  CTRL_SHUTDOWN_EVENT: "shutdown"}
# Windows ends a process about 5 s after WM_ENDSESSION or CTRL_CLOSE_EVENT: what is
# left of the budget after the request goes to sealing.
SEAL_WAIT = 4.5
REASON = "Saving the screen recording of the support session"


def _why(lparam: int) -> str:
    if lparam & ENDSESSION_LOGOFF:
        return "logoff"
    if lparam & ENDSESSION_CLOSEAPP:
        return "restart to update (the app is being closed)"
    return "shutdown or restart"


class WindowsShutdownGuard:
    def __init__(self, options=None, api=None):
        self.api = api  # Win32Window on Windows; a test's stand-in elsewhere
        self.session = None
        self.thread: threading.Thread | None = None
        self.installed = None

    # -- decisions: plain functions of the message --------------------------------
    def window_procedure(self, hwnd: int, msg: int, wparam: int, lparam: int) -> int | None:
        """What the hidden window answers; None: Windows' default handling."""
        if msg == WM_QUERYENDSESSION:
            # The reason is what Windows lists if it waits for us; TRUE: we never veto the
            # user's shutdown. Nothing ends yet: the shutdown may still be cancelled.
            self.api.block_reason(hwnd, REASON)
            log.info("windows-shutdown: Windows asks whether it may end the session (%s)", _why(lparam))
            return 1
        if msg == WM_ENDSESSION:
            if wparam:  # it happens: hold the process until the part is sealed
                self._interrupt(_why(lparam))
                sealed = self.session.wait_sealed(SEAL_WAIT)
                if not sealed:
                    log.warning("windows-shutdown: the part was not sealed in time; the next start recovers it")
            elif not self.session.ending:
                log.info("windows-shutdown: the end of the Windows session was cancelled; recording goes on")
            self.api.unblock(hwnd)  # sealed, or the shutdown was cancelled
            return 0
        return None

    def console_handler(self, event: int) -> bool:
        """The console control handler: True means "handled, give us the time to seal"
        (Windows ends the process when it returns, or after 5 s for a close)."""
        if event not in CONSOLE_EVENTS:
            return False  # Ctrl-C and Ctrl-Break keep their meaning: end the session
        self._interrupt(CONSOLE_EVENTS[event])
        self.session.wait_sealed(SEAL_WAIT)
        return True

    def _interrupt(self, why: str) -> None:
        if self.session.ending:
            return
        self.session.notify("warning", "The recording is paused: Windows is shutting down, restarting or "
                                       "logging off. It continues in a new part when the session resumes.",
                            by="windows-shutdown")
        self.session.request_end("interrupted", by="windows-shutdown", text=why)

    # -- the plumbing -------------------------------------------------------------
    def start(self, session) -> None:
        self.session = session
        if sys.platform != "win32":
            log.debug("windows-shutdown: not on Windows")
            return
        if self.api is None:
            from recorder.plugins.windows_shutdown_guard_win32 import Win32Window

            self.api = Win32Window()
        self.installed = self.api.console_handler(self.console_handler)
        ready = threading.Event()
        self.thread = threading.Thread(target=self.api.run_window, args=(self.window_procedure, ready),
                                       name="recorder-windows-shutdown", daemon=True)
        self.thread.start()
        ready.wait(5.0)

    def stop(self) -> None:
        # Called after the last part is sealed: until then the window keeps answering.
        if self.api is not None and self.thread is not None:
            self.api.close_window()
            self.thread.join(2.0)
            self.thread = None
        if self.api is not None and self.installed is not None:
            self.api.remove_console_handler(self.installed)
            self.installed = None


@hookimpl
def recorder_register_guards(register):
    register("windows-shutdown", WindowsShutdownGuard,
             description="Windows shutdown, logoff, console close: seal and mark the session interrupted")
