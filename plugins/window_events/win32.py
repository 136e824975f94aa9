"""The window in front on Windows: ``GetForegroundWindow``, its text and class, and the
image name of the process that owns it (``GetWindowThreadProcessId``, then
``QueryFullProcessImageNameW`` on a handle opened for limited queries, which a
process of the same user grants; an elevated one may refuse: then the program is
its window class).

Windows has no stream of "the foreground changed" without a message loop
(``SetWinEventHook``); the guard asks ten times a second instead: three calls
into user32, and the process opened only when the window in front is another one.
"""

from __future__ import annotations

import sys

if sys.platform != "win32":  # before anything Windows-only: type checkers skip the rest elsewhere
    raise ImportError("recorder.plugins.window_events.win32 is Windows-only")

import ctypes
import ntpath
from ctypes import wintypes

from recorder.platform import win32

from recorder.plugins.window_events.front import Front

MAX_TEXT = 512  # as the mask tracker reads titles (recorder.plugins.mss.window_tracker_win32)
MAX_PATH = 32768  # the longest path QueryFullProcessImageNameW can return, in characters
PROCESS_QUERY_LIMITED_INFORMATION = 0x1000


class Win32Front:
    def __init__(self) -> None:
        self.user32 = win32.user32  # its functions declared in recorder.platform.win32
        self.title = ctypes.create_unicode_buffer(MAX_TEXT)
        self.klass = ctypes.create_unicode_buffer(MAX_TEXT)
        self.programs: dict[tuple[int, int], str] = {}  # (window, pid) -> program: opened once per window
        self.poll()  # fails here, not mid-recording, if user32 does

    def poll(self) -> Front | None:
        user32 = self.user32
        hwnd = user32.GetForegroundWindow()
        if not hwnd:
            return None  # none: the desktop, or the foreground is changing hands
        user32.GetWindowTextW(hwnd, self.title, MAX_TEXT)
        user32.GetClassNameW(hwnd, self.klass, MAX_TEXT)
        title, klass = self.title.value, self.klass.value
        pid = wintypes.DWORD()
        user32.GetWindowThreadProcessId(hwnd, ctypes.byref(pid))
        key = (hwnd, pid.value)
        if key not in self.programs:
            if len(self.programs) > 256:  # windows come and go all day: forget the old ones
                self.programs.clear()
            self.programs[key] = image_name(pid.value) or klass
        return Front(hwnd, self.programs[key], title, (title,), (klass,))

    def close(self) -> None:
        pass  # nothing held between polls


def image_name(pid: int) -> str:
    """The file name of process ``pid``'s executable ("notepad.exe"); "" when it cannot be opened."""
    kernel32 = win32.kernel32
    process = kernel32.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    if not process:
        return ""
    try:
        path = ctypes.create_unicode_buffer(MAX_PATH)
        size = wintypes.DWORD(MAX_PATH)
        if not kernel32.QueryFullProcessImageNameW(process, 0, path, ctypes.byref(size)):
            return ""
        return ntpath.basename(path.value)
    finally:
        kernel32.CloseHandle(process)
