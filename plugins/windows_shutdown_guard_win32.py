"""The windows-shutdown guard's Win32 plumbing: a hidden top-level window and its
message loop, and the console control handler, through ctypes.

Every function called is declared once, in ``recorder.platform.win32`` (restype,
argtypes), so that a handle is never cut to a 32-bit int (ctypes' default) and a
wrong argument fails in Python rather than in user32. The window is top-level but
never shown: a message-only window (HWND_MESSAGE) is not sent WM_QUERYENDSESSION.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import sys
import threading
from typing import Callable

from recorder.platform import win32

log = logging.getLogger("recorder.windows")

CLASS_NAME = "RecorderShutdownWatcher"
WM_CLOSE = 0x0010


class Win32Window:
    """user32/kernel32 for the guard. ``run_window`` runs on a thread of its own: the
    window belongs to the thread that created it, and only that thread's loop gets its
    messages."""

    def __init__(self, class_name: str = CLASS_NAME):
        if sys.platform != "win32":
            raise OSError(errno.ENOSYS, "the windows-shutdown guard's window exists on Windows only")
        self.class_name = class_name
        self.user32, self.kernel32, self.last_error = win32.user32, win32.kernel32, win32.last_error
        self.hwnd: int | None = None
        self.callback = None  # kept while the window lives: a collected callback would crash the loop

    def block_reason(self, hwnd: int, text: str) -> None:
        if not self.user32.ShutdownBlockReasonCreate(hwnd, text):
            log.debug("windows-shutdown: ShutdownBlockReasonCreate failed (winerror %d)", self.last_error())

    def unblock(self, hwnd: int) -> None:
        self.user32.ShutdownBlockReasonDestroy(hwnd)

    def console_handler(self, handler: Callable[[int], bool]):
        installed = win32.HANDLER(lambda event: bool(handler(event)))
        if not self.kernel32.SetConsoleCtrlHandler(installed, True):
            log.warning("windows-shutdown: SetConsoleCtrlHandler failed (winerror %d): closing the console "
                        "window will not seal the recording", self.last_error())
            return None
        return installed

    def remove_console_handler(self, installed) -> None:
        self.kernel32.SetConsoleCtrlHandler(installed, False)

    def run_window(self, procedure: Callable[[int, int, int, int], int | None], ready: threading.Event) -> None:
        """Create the hidden window, answer its messages with ``procedure`` until
        ``close_window``, then destroy it and unregister its class. A failure is one
        log line: the recording goes on, without the shutdown guard."""
        user32 = self.user32

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

        self.callback = win32.WNDPROC(wndproc)
        instance = self.kernel32.GetModuleHandleW(None)
        window_class = win32.WNDCLASSW(lpfnWndProc=self.callback, hInstance=instance, lpszClassName=self.class_name)
        try:
            if not user32.RegisterClassW(ctypes.byref(window_class)):
                self._cannot_watch("RegisterClassW")
                return
            try:
                # Top-level, never shown (no WS_VISIBLE): it exists only to be asked.
                self.hwnd = user32.CreateWindowExW(0, self.class_name, "recorder", 0, 0, 0, 0, 0,
                                                   None, None, instance, None)
                if not self.hwnd:
                    self._cannot_watch("CreateWindowExW")
                    return
                ready.set()
                message = win32.MSG()
                while user32.GetMessageW(ctypes.byref(message), None, 0, 0) > 0:
                    user32.TranslateMessage(ctypes.byref(message))
                    user32.DispatchMessageW(ctypes.byref(message))
            finally:
                self.hwnd = None
                if not user32.UnregisterClassW(self.class_name, instance):
                    log.debug("windows-shutdown: UnregisterClassW failed (winerror %d)", self.last_error())
        finally:
            ready.set()

    def _cannot_watch(self, call: str) -> None:
        log.error("windows-shutdown: %s failed (winerror %d): shutdown and logoff will not seal the recording "
                  "(the next start recovers it)", call, self.last_error())

    def close_window(self) -> None:
        hwnd = self.hwnd
        if hwnd:
            self.user32.PostMessageW(hwnd, WM_CLOSE, 0, 0)
