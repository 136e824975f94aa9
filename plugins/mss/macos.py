"""macOS: the Screen Recording permission, and Retina screens at full resolution.

Without the permission macOS does not refuse a grab: it returns the wallpaper
and the menu bar, without any window, and no error. A recording of that would
look like a recording of nothing, so recorder checks before it starts.

mss grabs at the resolution macOS reports in points (kCGWindowImageNominalResolution),
which on a Retina screen is half the pixels in each direction; mss documents
its ``IMAGE_OPTIONS`` for callers who want every pixel, which is what a
support recording needs to keep small text readable.
"""

from __future__ import annotations

import ctypes
import ctypes.util

CORE_GRAPHICS = "/System/Library/Frameworks/CoreGraphics.framework/CoreGraphics"
PERMISSION = ("mss: macOS does not let this program record the screen (it would record only the "
              "wallpaper): allow it in System Settings > Privacy & Security > Screen Recording "
              "(the terminal or app that runs recorder), then start recorder again")


def core_graphics():
    return ctypes.cdll.LoadLibrary(ctypes.util.find_library("CoreGraphics") or CORE_GRAPHICS)


def screen_recording_allowed(core) -> bool | None:
    """True or False from CGPreflightScreenCaptureAccess (macOS 10.15 and later), which
    asks nothing; when it is False, CGRequestScreenCaptureAccess shows macOS's own
    prompt (once per program), so that the user knows where to allow it. None:
    a macOS older than 10.15, which has no such permission."""
    preflight = getattr(core, "CGPreflightScreenCaptureAccess", None)
    if preflight is None:
        return None
    preflight.restype = ctypes.c_bool
    if preflight():
        return True
    request = getattr(core, "CGRequestScreenCaptureAccess", None)
    if request is not None:
        request.restype = ctypes.c_bool
        request()
    return False


def grab_full_resolution(full: bool) -> None:
    """Every pixel of a Retina screen (``full``), or mss's default of one per point."""
    import mss.darwin

    flags = mss.darwin.kCGWindowImageBoundsIgnoreFraming | mss.darwin.kCGWindowImageShouldBeOpaque
    mss.darwin.IMAGE_OPTIONS = flags if full else flags | mss.darwin.kCGWindowImageNominalResolution
