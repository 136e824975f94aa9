"""Source ``portal``: the screen of a Wayland desktop, through the xdg-desktop-portal
ScreenCast interface and PipeWire (GNOME, KDE and wlroots compositors alike).

The portal asks the user once which screen (or window) to share; the restore
token it returns is kept (``tokens.py``), so later sessions are not asked again
until the user revokes it. Frames are read from the PipeWire node the portal
opens (``pipewire.py``); only a picture the compositor sent is looked at, and
only the rows that differ from the last one are passed on (``rows.py``).

When the compositor or the portal goes away (logout, restart), the session is
ended as interrupted, like SIGTERM: sealed, and resumed by the next start.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

import attrs
from recorder import Changes, SourceUnavailable, UsageError, VideoFormat, hookimpl, option

from recorder.plugins.portal import tokens
from recorder.plugins.portal.compositor import CompositorWatch
from recorder.plugins.portal.rows import changed_bands

log = logging.getLogger("recorder.portal")
NAME = "portal"
GONE = "the screen cast ended: the compositor or the desktop portal went away"
WAITING = ("the compositor has not sent a first picture yet (a wlroots compositor sends one only "
           "once something on the screen changes)")


@attrs.frozen
class PortalOptions:
    share: str = option("monitor", "What the portal offers the user to share: monitor or window.",
                        validator=attrs.validators.in_(("monitor", "window")))
    cursor: str = option("embedded", "The mouse cursor: embedded (drawn into the picture), metadata "
                                     "(sent beside it; recorder does not draw it) or hidden.",
                         validator=attrs.validators.in_(("embedded", "metadata", "hidden")))
    remember: bool = option(True, "Keep the portal's restore token so the user is asked once, "
                                  "not every session (persist_mode 2).")


class PortalSource:
    @staticmethod
    def auto_rank(environ: dict[str, str]) -> int | None:
        """``source = "auto"``: the ScreenCast portal is the way to record a Wayland session (Linux)."""
        wayland = bool(environ.get("WAYLAND_DISPLAY")) or environ.get("XDG_SESSION_TYPE", "").lower() == "wayland"
        return 2 if wayland and sys.platform.startswith("linux") else None

    def __init__(self, options: PortalOptions):
        self.options = options
        self.cast = None  # screencast.ScreenCast
        self.frames = None  # pipewire.PipeWireFrames
        self.fd: int | None = None
        self.last: bytes | None = None
        self.stride = 0
        self.height = 0
        self.sent_first = False
        self.session = None  # from bind(), before open: its profile keys the token; ended if the desktop goes
        self.gone = threading.Event()
        self.watcher: threading.Thread | None = None
        self.compositor: CompositorWatch | None = None
        self.stats = {"grabs": 0, "new_pictures": 0, "unchanged_pictures": 0, "rows_sent": 0}

    def open(self) -> VideoFormat:
        from recorder.plugins.portal.pipewire import Ended, Missing, PipeWireFrames
        from recorder.plugins.portal.screencast import Refused, ScreenCast, Unavailable

        try:
            self.cast = ScreenCast()
            # One permission per profile: the profile's administrator chose what it records.
            key = tokens.key(getattr(self.session, "profile", ""), self.options.share, self.options.cursor)
            stream = self.cast.start(self.options.share, self.options.cursor,
                                     tokens.load(key) if self.options.remember else "")
            if self.options.remember:
                tokens.store(key, stream.restore_token)
            self.fd = self.cast.pipewire_fd()
            self.frames = PipeWireFrames(self.fd, stream.node)
            first = self.frames.ready()
        except Refused as exc:
            self.close()
            raise UsageError(f"portal: permission to record the screen was refused ({exc})") from None
        except (Unavailable, Missing, Ended) as exc:
            self.close()
            raise UsageError(f"portal: no screen to capture through the desktop portal: {exc}") from None
        except BaseException:
            self.close()
            raise
        self.stride, self.height = self.frames.width * 4, self.frames.height
        self.last = first  # None: the compositor has sent no picture yet (a still wlroots screen)
        self.compositor = CompositorWatch()
        self.watcher = threading.Thread(target=self._watch, name="recorder-portal", daemon=True)
        self.watcher.start()
        return VideoFormat(self.frames.width, self.frames.height, "bgra")

    def _watch(self) -> None:
        """The portal's Closed signal, or the bus itself gone, ends the screen cast."""
        cast = self.cast
        rule = cast.closed_rule()
        try:
            cast.bus.AddMatch(rule)
            with cast.conn.filter(rule) as closed:
                while not self.gone.is_set():
                    try:
                        cast.conn.recv_until_filtered(closed, timeout=0.5)
                        self._end("the desktop portal closed the screen cast")
                    except TimeoutError:
                        self.frames.poll()
                        if self.frames.ended.is_set():
                            self._end(self.frames.why)
                        elif self.compositor.gone():
                            self._end("the Wayland compositor closed its connection")
        except (OSError, EOFError, ValueError) as exc:  # the bus went away, or close() closed it
            if self.cast is not None:
                self._end(f"the session bus went away ({exc or type(exc).__name__})")

    def _end(self, why: str) -> None:
        if self.gone.is_set():
            return
        self.gone.set()
        log.warning("portal: %s", why)
        session = self.session
        if session is not None:
            session.request_end("interrupted", by=NAME, text=f"{GONE} ({why})")

    def bind(self, session) -> None:
        """Called by core before ``open``: the session this source records for (its
        profile keys the restore token; the desktop going away ends it as interrupted)."""
        self.session = session

    def grab(self) -> Changes:
        self.stats["grabs"] += 1
        if self.gone.is_set():
            if self.last is None:
                raise _unavailable(GONE)
            return Changes()  # the last picture stands until core seals the session
        from recorder.plugins.portal.pipewire import Ended

        if not self.sent_first and self.last is not None:
            self.sent_first = True
            return Changes(((0, bytearray(self.last)),))
        try:
            picture = self.frames.newest()
        except Ended as exc:
            self._end(str(exc))
            return Changes()
        if picture is None:  # the compositor sent nothing: nothing changed
            if self.last is None:
                raise _unavailable(WAITING)
            return Changes()
        self.stats["new_pictures"] += 1
        if self.last is None:
            self.last, self.sent_first = picture, True
            return Changes(((0, bytearray(picture)),))
        bands = changed_bands(self.last, picture, self.stride, self.height)
        self.last = picture
        if not bands:
            self.stats["unchanged_pictures"] += 1
            return Changes()
        self.stats["rows_sent"] += sum(bottom - top for top, bottom in bands)
        return Changes(tuple((top, picture[top * self.stride:bottom * self.stride]) for top, bottom in bands))

    def close(self) -> None:
        if self.stats["grabs"]:
            log.info("portal: %s", self.stats)
            if self.session is not None:  # what the change-aware path saved, on the timeline
                new, grabs = self.stats["new_pictures"], self.stats["grabs"]
                self.session.add_event("portal-capture", f"{new} of {grabs} grabs found a new picture; "
                                       f"{self.stats['rows_sent']} rows passed on", by=NAME,
                                       **self.stats, height=self.height)
        self.gone.set()
        if self.watcher is not None:  # it uses the bus and the pipeline: let it finish first
            self.watcher.join(2)
        if self.frames is not None:
            self.frames.close()
            self.frames = None
        if self.compositor is not None:
            self.compositor.close()
        cast, self.cast = self.cast, None
        if cast is not None:
            cast.close()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _unavailable(why: str) -> Exception:
    """Core records a gap and grabs again; the session goes on."""
    return SourceUnavailable(why)


@hookimpl
def recorder_register_sources(register):
    register(NAME, PortalSource, options=PortalOptions,
             description="a Wayland desktop through the ScreenCast portal and PipeWire")

