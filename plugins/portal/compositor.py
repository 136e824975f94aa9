"""Knowing when the compositor goes away (logout, restart, crash).

The portal does not always say so (xdg-desktop-portal 1.16 keeps the session
open when its backend exits, and pipewiresrc posts nothing when the stream's
node disappears), so the source also holds a connection to the Wayland display:
a client that sends nothing is left alone by every compositor, and the
connection ends exactly when the compositor does.
"""

from __future__ import annotations

import os
import select
import socket


class CompositorWatch:
    def __init__(self, environ=os.environ):
        self.sock: socket.socket | None = None
        display = environ.get("WAYLAND_DISPLAY", "")
        if not display:
            return  # not a Wayland session (a portal under X11): the portal's signals must do
        path = display if display.startswith("/") else os.path.join(environ.get("XDG_RUNTIME_DIR", ""), display)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            return
        self.sock = sock

    def gone(self) -> bool:
        """True once the compositor closed the connection (it never writes to a silent client)."""
        if self.sock is None:
            return False
        readable, _, _ = select.select([self.sock], [], [], 0)
        if not readable:
            return False
        try:
            return self.sock.recv(4096, socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
