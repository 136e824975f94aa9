"""Guard ``windows-shutdown``: Windows shutdown, restart, logoff, and the console
window being closed. Elsewhere it says so once at debug level and does nothing.

Windows does not send logoff or shutdown to a console handler in a process that
loads user32/gdi32 (mss does): only a top-level window receives them, as
WM_QUERYENDSESSION ("may we end?") then WM_ENDSESSION ("we end now; you have
about 5 s"). So the guard runs a hidden top-level window on a thread of its own.
On the question it shows a block reason (what Windows lists while it waits) and
requests the end as an interruption, so that the next start resumes the session;
on the end itself it waits for the part to be sealed. Closing the console window
(CTRL_CLOSE_EVENT) gives 5 s too, through the console handler.

``window_procedure`` and ``console_handler`` are plain Python functions of the
message; the ctypes plumbing (``_Win32``) only carries messages to them, so the
decisions are tested on Linux with messages the test builds.
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
        self.api = api  # _Win32 on Windows; a test's stand-in elsewhere
        self.session = None
        self.thread: threading.Thread | None = None
        self.installed = None

    # -- decisions: plain functions of the message --------------------------------
    def window_procedure(self, hwnd: int, msg: int, wparam: int, lparam: int) -> int | None:
        """What the hidden window answers; None: Windows' default handling."""
        if msg == WM_QUERYENDSESSION:
            # The reason is what Windows lists if it waits for us; TRUE: we never veto the
            # user's shutdown, we only need the few seconds WM_ENDSESSION gives.
            self.api.block_reason(hwnd, REASON)
            self._interrupt(_why(lparam))
            return 1
        if msg == WM_ENDSESSION:
            if wparam:  # it happens: hold the process until the part is sealed
                self._interrupt(_why(lparam))
                sealed = self.session.wait_sealed(SEAL_WAIT)
                if not sealed:
                    log.warning("windows-shutdown: the part was not sealed in time; the next start recovers it")
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
            self.api = _Win32()
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


class _Win32:
    """user32/kernel32 through ctypes: a hidden top-level window (not HWND_MESSAGE: a
    message-only window is not sent WM_QUERYENDSESSION) and its message loop."""

    def __init__(self):
        assert sys.platform == "win32"
        import ctypes
        from ctypes import wintypes

        self.ctypes, self.wintypes = ctypes, wintypes
        self.user32 = ctypes.WinDLL("user32", use_last_error=True)
        self.kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        self.user32.DefWindowProcW.argtypes = [wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM]
        self.user32.DefWindowProcW.restype = ctypes.c_ssize_t
        self.hwnd = None

    def block_reason(self, hwnd: int, text: str) -> None:
        self.user32.ShutdownBlockReasonCreate(hwnd, text)

    def unblock(self, hwnd: int) -> None:
        self.user32.ShutdownBlockReasonDestroy(hwnd)

    def console_handler(self, handler):
        prototype = self.ctypes.WINFUNCTYPE(self.wintypes.BOOL, self.wintypes.DWORD)
        installed = prototype(lambda event: bool(handler(event)))
        self.kernel32.SetConsoleCtrlHandler(installed, True)
        return installed

    def remove_console_handler(self, installed) -> None:
        self.kernel32.SetConsoleCtrlHandler(installed, False)

    def run_window(self, procedure, ready: threading.Event) -> None:
        ctypes, wintypes, user32 = self.ctypes, self.wintypes, self.user32
        WNDPROC = ctypes.WINFUNCTYPE(ctypes.c_ssize_t, wintypes.HWND, wintypes.UINT, wintypes.WPARAM,
                                     wintypes.LPARAM)

        def wndproc(hwnd, msg, wparam, lparam):
            try:
                answer = procedure(hwnd, msg, wparam, lparam)
            except Exception:  # noqa: BLE001 - an exception must not cross into user32
                log.exception("windows-shutdown: window procedure failed")
                answer = None
            if msg == WM_CLOSE:
                user32.DestroyWindow(hwnd)
                user32.PostQuitMessage(0)
                return 0
            return answer if answer is not None else user32.DefWindowProcW(hwnd, msg, wparam, lparam)

        self.callback = WNDPROC(wndproc)  # kept: a collected callback would crash the loop

        class WNDCLASSW(ctypes.Structure):
            _fields_ = [("style", wintypes.UINT), ("lpfnWndProc", WNDPROC), ("cbClsExtra", ctypes.c_int),
                        ("cbWndExtra", ctypes.c_int), ("hInstance", wintypes.HINSTANCE),
                        ("hIcon", wintypes.HICON), ("hCursor", wintypes.HANDLE), ("hbrBackground", wintypes.HBRUSH),
                        ("lpszMenuName", wintypes.LPCWSTR), ("lpszClassName", wintypes.LPCWSTR)]

        instance = self.kernel32.GetModuleHandleW(None)
        window_class = WNDCLASSW(lpfnWndProc=self.callback, hInstance=instance,
                                 lpszClassName="RecorderShutdownWatcher")
        user32.RegisterClassW(ctypes.byref(window_class))
        # Top-level, never shown (no WS_VISIBLE): it exists only to be asked.
        self.hwnd = user32.CreateWindowExW(0, "RecorderShutdownWatcher", "recorder", 0, 0, 0, 0, 0,
                                           None, None, instance, None)
        ready.set()
        message = wintypes.MSG()
        while user32.GetMessageW(ctypes.byref(message), None, 0, 0) > 0:
            user32.TranslateMessage(ctypes.byref(message))
            user32.DispatchMessageW(ctypes.byref(message))

    def close_window(self) -> None:
        if self.hwnd:
            self.user32.PostMessageW(self.hwnd, WM_CLOSE, 0, 0)


@hookimpl
def recorder_register_guards(register):
    register("windows-shutdown", WindowsShutdownGuard,
             description="Windows shutdown, logoff, console close: seal and mark the session interrupted")
