"""Source ``mss``: the screen, through the mss library (XShm on X11)."""

from __future__ import annotations

import os
import sys

import attrs
import mss
from recorder import VideoFormat, hookimpl, option
from recorder.errors import UsageError


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
    cursor: bool = option(True, "Draw the mouse cursor into the recording (X11 only).")


NO_SCREEN = ("no screen to capture{why}: run inside a desktop session, under xvfb-run "
             "(xvfb-run -a recorder ...), or record a test pattern with --source synthetic")


class MssSource:
    def __init__(self, options: MssOptions):
        self.options = options
        self.sct = None

    def open(self) -> VideoFormat:
        if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
            raise UsageError(NO_SCREEN.format(why=" (DISPLAY is not set)"))
        try:
            self.sct = mss.MSS(with_cursor=self.options.cursor)
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
        return VideoFormat(self.area["width"], self.area["height"], "bgra")

    def grab(self) -> bytearray:
        return self.sct.grab(self.area).raw

    def close(self) -> None:
        if self.sct is not None:
            self.sct.close()


@hookimpl
def recorder_register_sources(register):
    register("mss", MssSource, options=MssOptions, description="the screen (monitor, all monitors, or a region)")
