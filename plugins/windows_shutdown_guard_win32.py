"""The windows-shutdown guard's Win32 plumbing: a hidden top-level window and its
message loop, and the console control handler, through ctypes.

Every function called is declared once in ``USER32`` / ``KERNEL32`` below (restype,
argtypes), so that a handle is never cut to a 32-bit int (ctypes' default) and a
wrong argument fails in Python rather than in user32. The window is top-level but
never shown: a message-only window (HWND_MESSAGE) is not sent WM_QUERYENDSESSION.
"""

from __future__ import annotations

import errno
import logging
import sys
import threading
from typing import Any, Callable

log = logging.getLogger("recorder.windows")

CLASS_NAME = "RecorderShutdownWatcher"
WM_CLOSE = 0x0010

# name: (restype, argtypes), by type name in ctypes.wintypes (or "WNDCLASSW*", "MSG*",
# "HANDLER"); resolved in ``_declare`` so that this module imports anywhere.
USER32 = {
    "RegisterClassW": ("ATOM", ["WNDCLASSW*"]),
    "UnregisterClassW": ("BOOL", ["LPCWSTR", "HINSTANCE"]),
    "CreateWindowExW": ("HWND", ["DWORD", "LPCWSTR", "LPCWSTR", "DWORD", "INT", "INT", "INT", "INT",
                                 "HWND", "HMENU", "HINSTANCE", "LPVOID"]),
    "DestroyWindow": ("BOOL", ["HWND"]),
    "DefWindowProcW": ("LRESULT", ["HWND", "UINT", "WPARAM", "LPARAM"]),
    "GetMessageW": ("BOOL", ["MSG*", "HWND", "UINT", "UINT"]),
    "TranslateMessage": ("BOOL", ["MSG*"]),
    "DispatchMessageW": ("LRESULT", ["MSG*"]),
    "PostMessageW": ("BOOL", ["HWND", "UINT", "WPARAM", "LPARAM"]),
    "PostQuitMessage": (None, ["INT"]),
    "ShutdownBlockReasonCreate": ("BOOL", ["HWND", "LPCWSTR"]),
    "ShutdownBlockReasonDestroy": ("BOOL", ["HWND"]),
}
KERNEL32 = {
    "GetModuleHandleW": ("HMODULE", ["LPCWSTR"]),
    "SetConsoleCtrlHandler": ("BOOL", ["HANDLER", "BOOL"]),
}


class Win32Window:
    """user32/kernel32 for the guard. ``run_window`` runs on a thread of its own: the
    window belongs to the thread that created it, and only that thread's loop gets its
    messages."""

    def __init__(self, class_name: str = CLASS_NAME):
        import ctypes
        from ctypes import wintypes

        WinDLL, WINFUNCTYPE, self.last_error = _windows_ctypes()
        self.ctypes, self.wintypes = ctypes, wintypes
        self.class_name = class_name
        LRESULT = ctypes.c_ssize_t  # pointer-sized, signed
        self.WNDPROC = WINFUNCTYPE(LRESULT, wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM)
        self.HANDLER = WINFUNCTYPE(wintypes.BOOL, wintypes.DWORD)

        class WNDCLASSW(ctypes.Structure):
            _fields_ = [("style", wintypes.UINT), ("lpfnWndProc", self.WNDPROC), ("cbClsExtra", ctypes.c_int),
                        ("cbWndExtra", ctypes.c_int), ("hInstance", wintypes.HINSTANCE),
                        ("hIcon", wintypes.HICON), ("hCursor", wintypes.HANDLE), ("hbrBackground", wintypes.HBRUSH),
                        ("lpszMenuName", wintypes.LPCWSTR), ("lpszClassName", wintypes.LPCWSTR)]

        self.WNDCLASSW = WNDCLASSW
        types: dict[str, Any] = {"LRESULT": LRESULT, "ATOM": wintypes.ATOM, "LPVOID": wintypes.LPVOID,
                                 "WNDCLASSW*": ctypes.POINTER(WNDCLASSW), "MSG*": ctypes.POINTER(wintypes.MSG),
                                 "HANDLER": self.HANDLER}
        self.user32 = _declare(WinDLL("user32", use_last_error=True), USER32, types)
        self.kernel32 = _declare(WinDLL("kernel32", use_last_error=True), KERNEL32, types)
        self.hwnd: int | None = None
        self.callback = None  # kept while the window lives: a collected callback would crash the loop

    def block_reason(self, hwnd: int, text: str) -> None:
        if not self.user32.ShutdownBlockReasonCreate(hwnd, text):
            log.debug("windows-shutdown: ShutdownBlockReasonCreate failed (winerror %d)", self.last_error())

    def unblock(self, hwnd: int) -> None:
        self.user32.ShutdownBlockReasonDestroy(hwnd)

    def console_handler(self, handler: Callable[[int], bool]):
        installed = self.HANDLER(lambda event: bool(handler(event)))
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
        ctypes, wintypes, user32 = self.ctypes, self.wintypes, self.user32

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

        self.callback = self.WNDPROC(wndproc)
        instance = self.kernel32.GetModuleHandleW(None)
        window_class = self.WNDCLASSW(lpfnWndProc=self.callback, hInstance=instance, lpszClassName=self.class_name)
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
                message = wintypes.MSG()
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


def _windows_ctypes() -> tuple[Any, Any, Callable[[], int]]:
    """ctypes' Windows-only parts (an if, not an assert: type checkers skip it elsewhere)."""
    if sys.platform == "win32":
        import ctypes

        return ctypes.WinDLL, ctypes.WINFUNCTYPE, ctypes.get_last_error
    raise OSError(errno.ENOSYS, "the windows-shutdown guard's window exists on Windows only")


def _declare(dll, table: dict[str, tuple[str | None, list[str]]], extra: dict[str, Any]):
    from ctypes import wintypes

    def resolve(name: str | None):
        return None if name is None else extra.get(name) or getattr(wintypes, name)

    for name, (restype, argtypes) in table.items():
        function = getattr(dll, name)
        function.restype = resolve(restype)
        function.argtypes = [resolve(a) for a in argtypes]
    return dll
