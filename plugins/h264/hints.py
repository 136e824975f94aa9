"""Telling libx264 which parts of a picture did not change.

libx264 can skip its analysis of a macroblock it is told is constant (its
"macroblock info"), and FFmpeg passes that on from a frame's video-hint side
data (``AV_FRAME_DATA_VIDEO_HINT``, FFmpeg 7 and later, with the encoder's
``mb_info`` option). recorder already knows what changed from X DAMAGE, so a
cursor move or a line of terminal text no longer costs an analysis of the
whole screen: on a 1080p frame where 32x32 pixels changed, libx264 takes
2.5 ms instead of 6.2 ms (one thread, ultrafast).

PyAV (18) reads side data but cannot add it, so this calls libavutil itself,
through ctypes, on the AVFrame that PyAV's frame wraps. Finding that AVFrame
means reading PyAV's object layout; the address found is checked against what
PyAV reports (the picture's size and its first plane's address) and hints are
simply off where it does not match, where the library is not found or lacks
the API: the part is then encoded exactly as without hints.
"""

from __future__ import annotations

import ctypes
import glob
import logging
import os
import sys

import av

log = logging.getLogger("recorder.h264")

# Pixels a change reaches beyond its edges after conversion to yuv420p: the
# chroma of the pixel pair (or row pair) it belongs to, filtered across one
# neighbouring chroma sample.
REACH = 4
CHANGED = 1  # AV_VIDEO_HINT_TYPE_CHANGED: the rectangles changed, the rest is constant


class _Hint(ctypes.Structure):  # AVVideoHint, libavutil/video_hint.h
    _fields_ = [("nb_rects", ctypes.c_size_t), ("rect_offset", ctypes.c_size_t),
                ("rect_size", ctypes.c_size_t), ("type", ctypes.c_int)]


class _Rect(ctypes.Structure):  # AVVideoRect
    _fields_ = [("x", ctypes.c_uint32), ("y", ctypes.c_uint32),
                ("width", ctypes.c_uint32), ("height", ctypes.c_uint32)]


# AVFrame: uint8_t *data[8]; int linesize[8]; uint8_t **extended_data; int width, height; ...
_WIDTH_AT = 8 * ctypes.sizeof(ctypes.c_void_p) + 8 * ctypes.sizeof(ctypes.c_int) + ctypes.sizeof(ctypes.c_void_p)
# PyAV's Frame: the object header, Cython's table of cdef methods, then ``AVFrame *ptr``.
_PTR_AT = object.__basicsize__ + ctypes.sizeof(ctypes.c_void_p)


def _avutil_path() -> str | None:
    """The libavutil PyAV itself loaded: another copy would not know PyAV's frames."""
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/self/maps", encoding="utf-8") as maps:
                for line in maps:
                    path = line.rsplit(" ", 1)[-1].strip()
                    if "libavutil" in os.path.basename(path):
                        return path
        except OSError:
            pass
    # The wheels' own copies: av.libs (Linux, Windows), av/.dylibs (macOS).
    here = os.path.dirname(av.__file__)
    for pattern in ("../av.libs/*avutil*", ".dylibs/*avutil*"):
        found = sorted(glob.glob(os.path.join(here, pattern)))
        if found:
            return found[0]
    return None


class _Library:
    def __init__(self):
        path = _avutil_path()
        if path is None:
            raise OSError("libavutil not found")
        lib = ctypes.CDLL(path)
        self.create = lib.av_video_hint_create_side_data  # AttributeError before FFmpeg 7
        self.create.restype = ctypes.POINTER(_Hint)
        self.create.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        self.remove = lib.av_frame_remove_side_data
        self.remove.restype = None
        self.remove.argtypes = [ctypes.c_void_p, ctypes.c_int]
        from av.sidedata.sidedata import Type

        self.kind = Type.VIDEO_HINT.value


_library: _Library | None | bool = None  # False: looked, not available


def _load() -> _Library | None:
    global _library
    if _library is None:
        try:
            _library = _Library()
        except (OSError, AttributeError, ImportError) as exc:
            log.debug("h264: no macroblock hints (%s)", exc)
            _library = False
    return _library or None


def _avframe(frame: av.VideoFrame) -> int | None:
    """The address of the AVFrame behind ``frame``, or None if PyAV's layout is not the one expected."""
    try:
        address = ctypes.c_void_p.from_address(id(frame) + _PTR_AT).value
        if not address:
            return None
        data0 = ctypes.c_void_p.from_address(address).value
        width = ctypes.c_int.from_address(address + _WIDTH_AT).value
        height = ctypes.c_int.from_address(address + _WIDTH_AT + ctypes.sizeof(ctypes.c_int)).value
    except (ValueError, OSError):
        return None
    plane = frame.planes[0]
    if (width, height) != (frame.width, frame.height) or data0 != plane.buffer_ptr:
        return None
    return address


class Hints:
    """Macroblock hints for one reused picture: ``set`` before each encode."""

    def __init__(self, lib: _Library, picture: av.VideoFrame, address: int):
        self.lib, self.picture, self.address = lib, picture, address
        self.width, self.height = picture.width, picture.height

    @classmethod
    def attach(cls, picture: av.VideoFrame) -> Hints | None:
        lib = _load()
        if lib is None:
            return None
        address = _avframe(picture)
        if address is None:
            log.debug("h264: no macroblock hints (PyAV %s frame layout not recognised)", av.__version__)
            return None
        return cls(lib, picture, address)

    def clear(self) -> None:
        """Everything may have changed (a new part, a keyframe, a whole picture)."""
        self.lib.remove(self.address, self.lib.kind)

    def set(self, rects: list[tuple[int, int, int, int]]) -> None:
        """Only ``rects`` (x, y, width, height) changed since the previous picture encoded."""
        self.clear()
        grown = []
        for x, y, w, h in rects:
            left, top = max(0, x - REACH), max(0, y - REACH)
            right, bottom = min(self.width, x + w + REACH), min(self.height, y + h + REACH)
            if right > left and bottom > top:
                grown.append((left, top, right - left, bottom - top))
        hint = self.lib.create(self.address, len(grown))
        if not hint:
            raise MemoryError("av_video_hint_create_side_data")
        hint.contents.type = CHANGED
        base = ctypes.addressof(hint.contents) + hint.contents.rect_offset
        for index, (x, y, w, h) in enumerate(grown):
            rect = _Rect.from_address(base + index * hint.contents.rect_size)
            rect.x, rect.y, rect.width, rect.height = x, y, w, h


def available() -> bool:
    return _load() is not None
