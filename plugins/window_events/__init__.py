"""Window events: which window was in front, on the session's timeline.

The guard (guard.py) writes a ``window`` event each time another program (or,
with ``record = "title"``, another window title) comes to the front, and says
once where the desktop cannot tell (desktop.py: Wayland, macOS). X11 asks the
window manager's ``_NET_ACTIVE_WINDOW`` (x11.py), Windows ``GetForegroundWindow``
(win32.py); front.py cleans the names before they are written.
"""

from __future__ import annotations

from recorder import hookimpl

from recorder.plugins.window_events.guard import NAME, WindowEventsGuard, WindowEventsOptions


@hookimpl
def recorder_register_guards(register):
    register(NAME, WindowEventsGuard, options=WindowEventsOptions,
             description="which window was in front: its program (and title, if configured) on the timeline")
