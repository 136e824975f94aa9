"""X11 through libxcb and ctypes, shared by the built-in plugins that talk to the X server.

Not a plugin (nothing here is registered): the ``mss`` source, its window masks and
the ``indicator`` guard use it.

- ``xcb``: libxcb loaded once, every core-protocol function declared once with its
  types; a connection of one's own (``connect``), the screen, ``free``.
- ``damage``: which parts of the screen changed and where the cursor is (the DAMAGE
  and XFIXES extensions), for grabbing only what changed.
- ``window_tracker``: where the windows a matcher names are at the moment of each
  grab, for masks.

No compiled code: the libraries ship with every X11 desktop, and importing any of
these modules loads nothing (a library is opened on first connection), so they
import on every system.
"""
