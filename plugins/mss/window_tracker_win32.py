"""Where the masked windows are on Windows, around each grab.

Windows has no stream of window events with the X server's ordering guarantee, so
the top-level windows are listed (EnumWindows: title, class, GetWindowRect) just
before and just after each grab, and a masked window is painted over wherever it
was in either list: a window that stood still, or that moved before or after the
grab, is covered. GDI copies the screen in one call, a few milliseconds; a window
that travels through a third place within them is the gap that remains.

Minimised and hidden windows are not on the screen and are left out. The
rectangle is the window's outer one (on Windows 10 and later it includes the
invisible resize border): a few pixels too many, never too few.
"""

from __future__ import annotations

import sys

if sys.platform != "win32":  # before anything Windows-only: type checkers skip the rest elsewhere
    raise ImportError("recorder.plugins.mss.window_tracker_win32 is Windows-only")

import ctypes
from ctypes import wintypes

from recorder.platform import win32
from recorder.plugins.mss.masks import Matcher, Rect

WNDENUMPROC = win32.WNDENUMPROC
MAX_TEXT = 512


class WindowTracker:
    """``begin()`` before a grab and ``end()`` after it return the rectangles to paint
    over, as the X11 tracker (recorder.plugins.x11.window_tracker) does."""

    def __init__(self, matcher: Matcher):
        self.matcher = matcher
        self.user32 = win32.user32  # its functions declared in recorder.platform.win32
        self.before: frozenset[Rect] = frozenset()
        self.last: frozenset[Rect] = self.masked()  # fails here, not mid-recording, if user32 does

    def masked(self) -> frozenset[Rect]:
        """The rectangles of the shown top-level windows the matcher names, now."""
        user32, found = self.user32, []
        title, klass = ctypes.create_unicode_buffer(MAX_TEXT), ctypes.create_unicode_buffer(MAX_TEXT)
        rect = wintypes.RECT()

        def visit(hwnd, _):
            if user32.IsWindowVisible(hwnd) and not user32.IsIconic(hwnd):
                user32.GetWindowTextW(hwnd, title, MAX_TEXT)
                user32.GetClassNameW(hwnd, klass, MAX_TEXT)
                masked = self.matcher.matches([title.value], [klass.value])
                if masked and user32.GetWindowRect(hwnd, ctypes.byref(rect)):
                    width, height = rect.right - rect.left, rect.bottom - rect.top
                    if width > 0 and height > 0:
                        found.append((rect.left, rect.top, width, height))
            return True

        if not user32.EnumWindows(WNDENUMPROC(visit), 0):
            raise ctypes.WinError(ctypes.get_last_error())
        return frozenset(found)

    def begin(self) -> frozenset[Rect]:
        """Before the grab: where the masked windows are now, and were at the last grab's end."""
        self.before = self.masked()
        return self.before | self.last

    def end(self) -> frozenset[Rect]:
        """After the grab: every place a masked window was in, before or after it."""
        self.last = self.masked()
        return self.before | self.last

    def close(self) -> None:
        pass  # nothing held between grabs
