"""Which desktop this is, and how it says which window is in front: one place that
knows the systems apart (X11 and Windows say; Wayland and macOS do not, here).

``follow(environ)`` returns what the guard polls, or raises ``Unsaid`` (a desktop
that cannot say: the guard puts that on the timeline) or ``NoDesktop`` (no screen
at all, as under a test pattern with no display: a log line).
"""

from __future__ import annotations

import sys
from typing import Protocol

from recorder.plugins.window_events.front import Front, Unknown


class Follows(Protocol):
    def poll(self) -> Front | Unknown | None:
        """The window in front now; None: none is (the desktop itself)."""

    def close(self) -> None: ...


class Unsaid(Exception):
    """This desktop does not tell other programs which window is in front."""


class NoDesktop(Exception):
    """No desktop to ask: nothing is in front of anything."""


WAYLAND = ("which window is in front is not recorded: a Wayland desktop does not tell other programs "
           "(window events need X11 or Windows)")

if sys.platform == "win32":
    def follow(environ: dict[str, str]) -> Follows:
        from recorder.plugins.window_events.win32 import Win32Front

        try:
            return Win32Front()
        except OSError as exc:
            raise Unsaid(f"which window is in front cannot be asked: {exc}") from None

elif sys.platform == "darwin":
    def follow(environ: dict[str, str]) -> Follows:
        raise Unsaid("which window is in front is not recorded on macOS (window events need X11 or Windows)")

else:
    def follow(environ: dict[str, str]) -> Follows:
        from recorder.plugins.window_events.x11 import X11Front
        from recorder.plugins.x11.xcb import Unavailable

        if environ.get("WAYLAND_DISPLAY") or environ.get("XDG_SESSION_TYPE", "").lower() == "wayland":
            raise Unsaid(WAYLAND)  # XWayland's root knows only its own windows: not asked
        if not environ.get("DISPLAY"):
            raise NoDesktop("no DISPLAY: no desktop whose windows could be in front")
        try:
            return X11Front(environ["DISPLAY"])
        except Unavailable as exc:
            raise Unsaid(f"which window is in front cannot be asked: {exc}") from None
