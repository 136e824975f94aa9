"""Source ``mss``: the screen, through the mss library (XShm on X11)."""

from __future__ import annotations

import logging
import os
import sys

import attrs
import mss
import mss.exception
from recorder import Changes, SourceUnavailable, UsageError, VideoFormat, console, hookimpl, option

from recorder.plugins.mss.masks import Matcher, check_patterns, check_rects, paint

log = logging.getLogger("recorder.mss")
MERGE_GAP = 32  # rows: changes closer than this are grabbed together
GRAB_ROWS = 512  # rows grabbed at a time: mss's shared memory is touched (made resident) only that far


# Declared as masks: core refuses a profile that sets them for another source (nothing would paint them).
MASK = {"mask": True}


def _region(instance, attribute, value):
    if value and (len(value) != 4 or value[2] <= 0 or value[3] <= 0):
        raise ValueError("must be [left, top, width, height] with a positive width and height")


@attrs.frozen
class MssOptions:
    monitor: int = option(1, "Monitor to record: 1 is the first, 0 all monitors together.",
                          validator=attrs.validators.ge(0))
    region: list[int] = option(attrs.Factory(list),
                               "Record only [left, top, width, height] (overrides monitor).",
                               validator=_region)
    cursor: bool = option(True, "Draw the mouse cursor into the recording (on Windows and macOS as a "
                                "standard arrow where the cursor is).")
    full_resolution: bool = option(True, "macOS: record a Retina screen at its full pixel resolution "
                                         "(false: one pixel per point, a quarter of the pixels).")
    damage: bool = option(True, "Grab only what the X server reports as changed (the X DAMAGE "
                                "extension); false grabs the whole screen every frame.")
    mask_titles: list[str] = option(attrs.Factory(list),
                                    "Windows whose title matches one of these are painted over before a frame "
                                    "leaves the source: shell globs (*Bank*), or re:REGEX; case is ignored.",
                                    validator=check_patterns, metadata=MASK)
    mask_classes: list[str] = option(attrs.Factory(list),
                                     "Windows whose WM_CLASS (instance or class) matches one of these are "
                                     "painted over: globs or re:REGEX; case is ignored.",
                                     validator=check_patterns, metadata=MASK)
    mask_rects: list[list[int]] = option(attrs.Factory(list),
                                         "Screen rectangles [left, top, width, height] always painted over.",
                                         validator=check_rects, metadata=MASK)


NO_SCREEN = ("no screen to capture{why}: run inside a desktop session, under xvfb-run "
             "(xvfb-run -a recorder ...), or record a test pattern with --source synthetic")


class MssSource:
    @staticmethod
    def auto_rank(environ: dict[str, str]) -> int:
        """``source = "auto"``: mss records X11, Windows and macOS; on a Wayland session it sees
        only XWayland windows, so the portal (ranked higher there) is chosen before it."""
        return 1

    def __init__(self, options: MssOptions):
        self.options = options
        self.sct = None
        self.damage = None  # recorder.plugins.x11.damage.ScreenDamage when the X server tracks changes for us
        self.cursor_at = None  # the cursor at the last grab (() when not drawn); None before the first grab
        self.windows = None  # a WindowTracker (x11.window_tracker, or window_tracker_win32) when windows are masked
        self.masked: frozenset = frozenset()  # the windows' rectangles painted over in the last grab
        self.linux = sys.platform.startswith("linux")
        self.cursor_painter = None  # recorder.plugins.mss.cursor.CursorPainter where mss draws no cursor
        self.scale = 1.0  # pixels per screen unit (2 on a Retina screen grabbed at full resolution)
        self.pixels: dict[str, int] = {}  # the recorded area in the frame's pixels, for painting masks
        self.mask_rects: list[tuple[int, int, int, int]] = []  # mask_rects in the frame's pixels

    def open(self) -> VideoFormat:
        if self.linux and not os.environ.get("DISPLAY"):
            raise UsageError(NO_SCREEN.format(why=" (DISPLAY is not set)"))
        if self.linux and (os.environ.get("WAYLAND_DISPLAY")
                           or os.environ.get("XDG_SESSION_TYPE", "").lower() == "wayland"):
            console().print('recorder: mss sees only XWayland windows on this Wayland session; '
                            'use source = "portal"', markup=False, highlight=False)
        if sys.platform == "darwin":
            self._check_macos()
        try:
            # mss draws the cursor on X11 only, and asking elsewhere is deprecated (an error to come).
            self.sct = mss.MSS(with_cursor=self.options.cursor) if self.linux else mss.MSS()
            monitors = self.sct.monitors
        except Exception as exc:
            raise UsageError(NO_SCREEN.format(why=f" ({exc})")) from None
        if self.options.region:
            left, top, width, height = self.options.region
            self.area = {"left": left, "top": top, "width": width, "height": height}
            screen = monitors[0]
            if (left < screen["left"] or top < screen["top"]
                    or left + width > screen["left"] + screen["width"]
                    or top + height > screen["top"] + screen["height"]):
                raise UsageError(f"mss: region {self.options.region} is outside the screen "
                                 f"({screen['width']}x{screen['height']})")
        elif self.options.monitor < len(monitors):
            self.area = dict(monitors[self.options.monitor])
        else:
            raise UsageError(f"mss: monitor {self.options.monitor} does not exist "
                             f"(this screen has {len(monitors) - 1})")
        self.area = {k: self.area[k] for k in ("left", "top", "width", "height")}
        self._check_rects(monitors[0])
        matcher = Matcher(self.options.mask_titles, self.options.mask_classes)
        if matcher:
            self._watch_windows(matcher)
        if self.options.damage and self.linux:
            self._watch_damage()
        width, height = self.area["width"], self.area["height"]
        if not self.linux:
            width, height = self._measure()
            if self.options.cursor:
                from recorder.plugins.mss.cursor import CursorPainter

                self.cursor_painter = CursorPainter(self.area, self.scale)
        self.pixels = {"left": round(self.area["left"] * self.scale), "top": round(self.area["top"] * self.scale),
                       "width": width, "height": height}
        self.mask_rects = [tuple(round(v * self.scale) for v in rect) for rect in self.options.mask_rects]
        self.size = (width, height)
        return VideoFormat(width, height, "bgra")

    def _check_macos(self) -> None:
        from recorder.plugins.mss import macos

        core = macos.core_graphics()
        if macos.screen_recording_allowed(core) is False:
            raise UsageError(macos.PERMISSION)
        macos.grab_full_resolution(self.options.full_resolution)

    def _measure(self) -> tuple[int, int]:
        """The size of a grab in pixels: on a Retina screen grabbed at full resolution,
        twice the area's size in points each way."""
        shot = self.sct.grab(self.area)
        self.scale = shot.size.width / self.area["width"]
        return shot.size.width, shot.size.height

    def _check_rects(self, screen: dict) -> None:
        """A rectangle off the screen hides nothing: the administrator meant another screen."""
        for index, (x, y, w, h) in enumerate(self.options.mask_rects):
            if (x >= screen["left"] + screen["width"] or y >= screen["top"] + screen["height"]
                    or x + w <= screen["left"] or y + h <= screen["top"]):
                raise UsageError(f"mss: mask_rects[{index}] {[x, y, w, h]} is outside the screen "
                                 f"({screen['width']}x{screen['height']})")

    def _watch_windows(self, matcher: Matcher) -> None:
        """Window masks need to know where windows are; without that, refuse rather than record them."""
        if sys.platform == "win32":  # EnumWindows around each grab
            from recorder.plugins.mss.window_tracker_win32 import WindowTracker as Win32Tracker

            self.windows = Win32Tracker(matcher)
            return
        from recorder.plugins.x11.window_tracker import WindowTracker
        from recorder.plugins.x11.xcb import Unavailable

        if not sys.platform.startswith("linux"):
            raise UsageError("mss: mask_titles and mask_classes need X11 or Windows (mask_rects work everywhere)")
        try:
            self.windows = WindowTracker(os.environ.get("DISPLAY"), matcher)
        except Unavailable as exc:
            raise UsageError(f"mss: cannot follow windows for mask_titles and mask_classes: {exc}") from None

    def _watch_damage(self) -> None:
        from recorder.plugins.x11.damage import ScreenDamage
        from recorder.plugins.x11.xcb import Unavailable

        try:
            self.damage = ScreenDamage(os.environ.get("DISPLAY"))
        except Unavailable as exc:
            log.warning("mss: %s; grabbing the whole screen every frame", exc)

    def grab(self) -> bytearray | Changes:
        """Masks are painted over every row grabbed. The windows' masks are the union of
        every place a masked window was from the last grab's round trip to this one's
        (recorder.plugins.x11.window_tracker), so whatever the grab saw of them is covered."""
        moved = self.windows.begin() if self.windows is not None else self.masked
        if self.damage is None:
            try:
                frame = self.sct.grab(self.area).raw
            except mss.exception.ScreenShotError as exc:
                if self.linux:  # X11 has no secure desktop: a failing grab means the display is gone
                    raise
                # Windows' secure desktop (UAC, Ctrl-Alt-Del) and lock screen, macOS's screen saver: for now.
                raise SourceUnavailable(f"mss: {exc}") from None
            if self.cursor_painter is not None:
                self.cursor_painter.paint(frame, *self.size)
            self._paint([(0, frame)])
            return frame
        rects = self.damage.changes() or []
        if self.cursor_at is None:  # the first grab is the whole picture
            self.cursor_at = self.damage.cursor() if self.options.cursor else ()
            return self._paint(self._changes([(0, self.area["height"])]))
        if self.options.cursor:
            cursor = self.damage.cursor()
            if cursor != self.cursor_at:  # where it was and where it is now
                rects += [self.cursor_at[:4], cursor[:4]]
                self.cursor_at = cursor
        if moved != self.masked:  # the rows a mask leaves show again, the rows it reaches are painted
            rects += [*self.masked, *moved]
        clipped = self._clip(rects)
        return self._paint(self._changes(self._bands(clipped), clipped))

    def _paint(self, changes):
        if self.windows is not None:
            self.masked = self.windows.end()
        if self.masked or self.mask_rects:
            paint(changes.bands if isinstance(changes, Changes) else changes,
                  [*self.masked, *self.mask_rects], self.pixels)
        return changes

    def _changes(self, bands: list[tuple[int, int]], rects=None) -> Changes:
        """The rows of ``bands`` grabbed, with ``rects`` (the area's coordinates) saying what in them changed."""
        return Changes(tuple((top, self._rows(top, min(bottom, top + GRAB_ROWS)))
                             for first, bottom in bands for top in range(first, bottom, GRAB_ROWS)), rects)

    def _bands(self, clipped) -> list[tuple[int, int]]:
        """The rows that rectangles already cut to the recorded area (``_clip``) touch, merged."""
        bands: list[list[int]] = []
        for first, last in sorted((y, y + h) for x, y, w, h in clipped):
            if bands and first <= bands[-1][1] + MERGE_GAP:
                bands[-1][1] = max(bands[-1][1], last)
            else:
                bands.append([first, last])
        return [(first, last) for first, last in bands]

    def _clip(self, rects) -> tuple[tuple[int, int, int, int], ...]:
        """The rectangles in the recorded area's coordinates, cut to it: what changed
        within the rows grabbed, for an encoder that skips the rest."""
        left, top, width, height = (self.area[k] for k in ("left", "top", "width", "height"))
        clipped = []
        for x, y, w, h in rects:
            x0, y0 = max(0, x - left), max(0, y - top)
            x1, y1 = min(width, x + w - left), min(height, y + h - top)
            if x1 > x0 and y1 > y0:
                clipped.append((x0, y0, x1 - x0, y1 - y0))
        return tuple(clipped)

    def _rows(self, first: int, last: int) -> bytearray:
        area = dict(self.area, top=self.area["top"] + first, height=last - first)
        return self.sct.grab(area).raw

    def close(self) -> None:
        if self.windows is not None:
            self.windows.close()
        if self.damage is not None:
            self.damage.close()
        if self.sct is not None:
            self.sct.close()


@hookimpl
def recorder_register_sources(register):
    register("mss", MssSource, options=MssOptions, description="the screen (monitor, all monitors, or a region)")
