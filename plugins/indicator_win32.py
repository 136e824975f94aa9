"""The recording indicator on Windows: a small topmost layered window (a red dot and
the label) in a corner of the primary screen, shown while frames are grabbed.

It lives on a thread of its own with its own message loop, so it never delays a
frame; the guard talks to it by posting messages. Topmost keeps it above every
ordinary window, and a timer puts it back on top (and back on the screen) should
another topmost window or anyone hiding it get in the way. It is a tool window
(not on the taskbar or in Alt-Tab), never takes the focus, lets clicks through
(layered and transparent to the mouse), and ignores WM_CLOSE from anyone but
recorder: the customer's screen shows it for as long as recording goes on.

Every user32, gdi32 and kernel32 function is declared once, in ``recorder.platform.win32``.
"""

from __future__ import annotations

import sys

if sys.platform != "win32":  # before anything Windows-only: type checkers skip the rest elsewhere
    raise ImportError("recorder.plugins.indicator_win32 is Windows-only")

import ctypes
import threading
from ctypes import wintypes

from recorder.platform import win32

TITLE = "recorder: recording"
CLASS_NAME = "recorder-indicator"
MARGIN, HEIGHT, DOT = 8, 24, 12
CHAR_WIDTH = 8  # the default GUI font's average width, rounded up: the label is never cut
KEEP_ON_TOP_MS = 500
OPACITY = 230  # of 255: solid enough to read, and a hint that it is an overlay
WS_POPUP = 0x80000000
WS_EX_TOPMOST, WS_EX_TOOLWINDOW, WS_EX_LAYERED = 0x8, 0x80, 0x80000
WS_EX_TRANSPARENT, WS_EX_NOACTIVATE = 0x20, 0x08000000
LWA_ALPHA = 0x2
SW_HIDE, SW_SHOWNOACTIVATE = 0, 4
HWND_TOPMOST = -1
SWP_NOSIZE, SWP_NOMOVE, SWP_NOACTIVATE, SWP_SHOWWINDOW = 0x1, 0x2, 0x10, 0x40
WM_DESTROY, WM_PAINT, WM_CLOSE, WM_TIMER, WM_APP = 0x2, 0xF, 0x10, 0x113, 0x8000
WM_SHOW, WM_HIDE, WM_QUIT_INDICATOR = WM_APP + 1, WM_APP + 2, WM_APP + 3
SM_CXSCREEN, SM_CYSCREEN = 0, 1
DEFAULT_GUI_FONT, TRANSPARENT = 17, 1
ERROR_CLASS_ALREADY_EXISTS = 1410

user32, gdi32, kernel32 = win32.user32, win32.gdi32, win32.kernel32
WNDPROC, WNDCLASSEXW, PAINTSTRUCT = win32.WNDPROC, win32.WNDCLASSEXW, win32.PAINTSTRUCT


def _rgb(red: int, green: int, blue: int) -> int:
    return red | green << 8 | blue << 16


class Unshown(Exception):
    """The indicator cannot be put on this screen."""


class IndicatorWindow:
    """The window and the thread that owns it. ``show``/``hide``/``close`` post to it
    from any thread and never wait; ``shown`` is set once it has painted itself."""

    def __init__(self, label: str, corner: str):
        self.label, self.corner = label, corner
        self.hwnd: int | None = None
        self.want_shown = False
        self.closing = False
        self.shown = threading.Event()
        self.created = threading.Event()
        self.error: str | None = None
        self.procedure = WNDPROC(self._procedure)  # kept alive as long as the window
        self.thread = threading.Thread(target=self._run, name="recorder-indicator", daemon=True)
        self.thread.start()
        self.created.wait(10)
        if self.hwnd is None:
            raise Unshown(self.error or "the indicator window was not created in time")

    # -- from any thread
    def show(self) -> None:
        self._post(WM_SHOW)

    def hide(self) -> None:
        self._post(WM_HIDE)

    def close(self) -> None:
        self._post(WM_QUIT_INDICATOR)
        self.thread.join(2.0)

    def _post(self, message: int) -> None:
        if self.hwnd is not None:
            user32.PostMessageW(self.hwnd, message, 0, 0)

    # -- the window's own thread
    def _run(self) -> None:
        try:
            self._create()
        except OSError as exc:
            self.error = str(exc)
            self.created.set()
            return
        self.created.set()
        message = wintypes.MSG()
        while user32.GetMessageW(ctypes.byref(message), None, 0, 0) > 0:
            user32.TranslateMessage(ctypes.byref(message))
            user32.DispatchMessageW(ctypes.byref(message))
        gdi32.DeleteObject(self.background)
        gdi32.DeleteObject(self.red)

    def _create(self) -> None:
        instance = kernel32.GetModuleHandleW(None)
        self.background = gdi32.CreateSolidBrush(_rgb(0x20, 0x20, 0x20))
        self.red = gdi32.CreateSolidBrush(_rgb(0xE0, 0x10, 0x10))
        klass = WNDCLASSEXW(cbSize=ctypes.sizeof(WNDCLASSEXW), lpfnWndProc=self.procedure, hInstance=instance,
                            hbrBackground=self.background, lpszClassName=f"{CLASS_NAME}-{id(self):x}")
        # A class of its own per window: its procedure is this object's, and a class outlives its window.
        if not user32.RegisterClassExW(ctypes.byref(klass)) and ctypes.get_last_error() != ERROR_CLASS_ALREADY_EXISTS:
            raise ctypes.WinError(ctypes.get_last_error(), "RegisterClassExW failed")
        width = DOT + 2 * MARGIN + CHAR_WIDTH * len(self.label) + 4
        screen_width, screen_height = user32.GetSystemMetrics(SM_CXSCREEN), user32.GetSystemMetrics(SM_CYSCREEN)
        x = MARGIN if self.corner.endswith("left") else screen_width - width - MARGIN
        y = MARGIN if self.corner.startswith("top") else screen_height - HEIGHT - MARGIN
        hwnd = user32.CreateWindowExW(WS_EX_TOPMOST | WS_EX_TOOLWINDOW | WS_EX_LAYERED | WS_EX_TRANSPARENT
                                      | WS_EX_NOACTIVATE, klass.lpszClassName, TITLE, WS_POPUP,
                                      x, y, width, HEIGHT, None, None, instance, None)
        if not hwnd:
            raise ctypes.WinError(ctypes.get_last_error(), "CreateWindowExW failed")
        if not user32.SetLayeredWindowAttributes(hwnd, 0, OPACITY, LWA_ALPHA):
            error = ctypes.get_last_error()
            user32.DestroyWindow(hwnd)
            raise ctypes.WinError(error, "SetLayeredWindowAttributes failed")
        user32.SetTimer(hwnd, 1, KEEP_ON_TOP_MS, None)
        self.hwnd = hwnd

    def _on_top(self, hwnd: int) -> None:
        user32.SetWindowPos(hwnd, HWND_TOPMOST, 0, 0, 0, 0, SWP_NOMOVE | SWP_NOSIZE | SWP_NOACTIVATE | SWP_SHOWWINDOW)

    def _procedure(self, hwnd, message, wparam, lparam):
        if message == WM_SHOW:
            self.want_shown = True
            user32.ShowWindow(hwnd, SW_SHOWNOACTIVATE)
            self._on_top(hwnd)
            user32.InvalidateRect(hwnd, None, True)
            user32.UpdateWindow(hwnd)  # painted now: the first frame grabbed shows it
            self.shown.set()
            return 0
        if message == WM_HIDE:
            self.want_shown = False
            self.shown.clear()
            user32.ShowWindow(hwnd, SW_HIDE)
            return 0
        if message == WM_TIMER:
            if self.want_shown:  # another topmost window, or someone hid it: back on top, on the screen
                self._on_top(hwnd)
            return 0
        if message == WM_PAINT:
            self._paint(hwnd)
            return 0
        if message == WM_CLOSE and not self.closing:
            return 0  # another program asking it to go away: it stays while recording goes on
        if message == WM_QUIT_INDICATOR:
            self.closing = True
            user32.DestroyWindow(hwnd)
            return 0
        if message == WM_DESTROY:
            self.hwnd = None
            user32.PostQuitMessage(0)
            return 0
        return user32.DefWindowProcW(hwnd, message, wparam, lparam)

    def _paint(self, hwnd: int) -> None:
        paint = PAINTSTRUCT()
        dc = user32.BeginPaint(hwnd, ctypes.byref(paint))
        try:
            previous = gdi32.SelectObject(dc, self.red)
            top = (HEIGHT - DOT) // 2
            gdi32.Ellipse(dc, MARGIN // 2 + 2, top, MARGIN // 2 + 2 + DOT, top + DOT)
            gdi32.SelectObject(dc, gdi32.GetStockObject(DEFAULT_GUI_FONT))
            gdi32.SetTextColor(dc, _rgb(0xFF, 0xFF, 0xFF))
            gdi32.SetBkMode(dc, TRANSPARENT)
            gdi32.TextOutW(dc, DOT + MARGIN + 2, (HEIGHT - 14) // 2, self.label, len(self.label))
            gdi32.SelectObject(dc, previous)
        finally:
            user32.EndPaint(hwnd, ctypes.byref(paint))
