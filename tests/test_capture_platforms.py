"""Capture where the screen cannot always be grabbed, and where mss draws no cursor.

Windows' secure desktop (UAC prompts, Ctrl-Alt-Del) and lock screen make
BitBlt fail; macOS needs a permission before it shows windows at all, and its
Retina screens have two pixels per point. None of that exists on Linux: the
tests marked *simulated* give the real mss source on a real X screen (Xvfb)
the other system's behaviour (a failing grab, a cursor position from the OS,
a grab twice the size of the area, a CoreGraphics that answers the permission
question) and run the real recording pipeline and encoder over it.
"""

from __future__ import annotations

import ctypes
import json
import time

import mss
import mss.exception
import numpy as np
import pytest

from recorder import SourceUnavailable, UsageError, VideoFormat, hookimpl
from recorder.plugins.mss import MssOptions, MssSource, macos
from recorder.plugins.mss.cursor import ARROW, CursorPainter, draw, windows_position
from recorder.testing import TmpSinkPlugin, decode, make_host, record


class Outage:
    """Grabs fail from ``start`` to ``end`` seconds after the first grab, as BitBlt
    does while Windows shows its secure desktop."""

    def __init__(self, source, start: float, end: float, error=SourceUnavailable):
        self.source, self.start, self.end, self.error = source, start, end, error
        self.began: float | None = None

    def open(self):
        return self.source.open()

    def grab(self):
        now = time.monotonic()
        self.began = self.began or now
        if self.start <= now - self.began < self.end:
            raise self.error("the secure desktop is showing")
        return self.source.grab()

    def close(self):
        self.source.close()


class WindowsLikeMss(MssSource):
    """The mss source as it runs on Windows (simulated): no X DAMAGE, no cursor from
    mss, the cursor drawn where the OS says it is, a failing grab is transient."""

    def __init__(self, options, cursor_at=(60, 40), fail=(1.0, 2.0)):
        super().__init__(options)
        self.linux = False
        self.cursor_at, self.fail = cursor_at, fail

    def open(self):
        fmt = super().open()
        if self.cursor_painter is not None:
            self.cursor_painter.locate = lambda: self.cursor_at
        real_grab, began = self.sct.grab, []

        def grab(area):  # BitBlt failing while the secure desktop shows (simulated)
            began.append(began[0] if began else time.monotonic())
            if self.fail[0] <= time.monotonic() - began[0] < self.fail[1]:
                raise mss.exception.ScreenShotError("gdi32.BitBlt() failed")
            return real_grab(area)

        self.sct.grab = grab
        return fmt


class Plugin:
    name = "simulated-sources"

    def __init__(self):
        self.made = []

    @hookimpl
    def recorder_register_sources(self, register):
        def windows_like(options):
            self.made.append(WindowsLikeMss(options))
            return self.made[-1]

        register("windows-like-mss", windows_like, options=MssOptions)

        def failing_synthetic(options):
            from recorder.plugins.synthetic_source import SyntheticOptions, SyntheticSource

            self.made.append(Outage(SyntheticSource(SyntheticOptions(width=320, height=240)), 1.0, 2.0))
            return self.made[-1]

        register("failing-synthetic", failing_synthetic)


def settings_for(source: str, tmp_path, **extra) -> dict:
    return {"source": source, "sink": "tmp", "fps": 10.0, "guards": [], "notifiers": [],
            "h264": {"preset": "ultrafast", "crf": 0}, "tmp": {"directory": str(tmp_path / "sessions")}, **extra}


def check_gap(session) -> None:
    """Two parts either side of the outage, events that say so, no error, nothing dropped."""
    manifest = json.loads((session.folder / "session.json").read_text(encoding="utf-8"))
    kinds = [event["kind"] for event in manifest["events"]]
    assert "capture-unavailable" in kinds and "capture-available" in kinds, kinds
    assert manifest["end_reason"] == "duration", manifest["end_reason"]
    assert manifest["dropped_frames"] == 0
    first, second = manifest["parts"]
    assert 0.8 <= first["start"] + first["duration"] <= 1.3, first  # the picture last seen, at ~1 s
    assert 1.9 <= second["start"] <= 2.5, second  # the first grab after it, at ~2 s
    for part in (first, second):
        assert decode(session.folder / part["file"]).frames > 0


def test_a_source_that_cannot_grab_for_a_moment_leaves_a_gap_not_an_error(tmp_path):
    host = make_host(TmpSinkPlugin(), Plugin())
    check_gap(record(host, settings_for("failing-synthetic", tmp_path), duration=3.5))


def test_simulated_windows_secure_desktop_with_real_mss_is_a_gap(xdisplay, tmp_path, monkeypatch):
    monkeypatch.setenv("DISPLAY", xdisplay.name)
    plugin = Plugin()
    host = make_host(TmpSinkPlugin(), plugin)
    session = record(host, settings_for("windows-like-mss", tmp_path,
                                        **{"windows-like-mss": {"region": [0, 0, 320, 240]}}), duration=3.5)
    check_gap(session)


def test_simulated_windows_cursor_is_drawn_where_the_os_says(xdisplay, tmp_path, monkeypatch):
    """mss draws no cursor on Windows; recorder draws an arrow at the position GetCursorInfo gives."""
    monkeypatch.setenv("DISPLAY", xdisplay.name)
    source = WindowsLikeMss(MssOptions(region=[0, 0, 320, 240]), cursor_at=(100, 50), fail=(99, 99))
    assert source.open() == VideoFormat(320, 240)
    try:
        frame = np.frombuffer(bytes(source.grab()), np.uint8).reshape(240, 320, 4)
    finally:
        source.close()
    assert tuple(frame[50, 100][:3]) == (0, 0, 0)  # the tip's outline
    assert tuple(frame[50 + 5, 100 + 2][:3]) == (255, 255, 255)  # inside the arrow


def test_the_arrow_is_cut_at_the_frame_edges():
    width, height = 20, 10
    frame = bytearray(b"\x80" * (width * height * 4))
    draw(frame, width, height, 15, 5)  # runs off the right and bottom edges
    draw(frame, width, height, -3, -30)  # wholly outside: nothing
    pixels = np.frombuffer(bytes(frame), np.uint8).reshape(height, width, 4)
    assert len(frame) == width * height * 4
    assert tuple(pixels[5, 15]) == (0, 0, 0, 255)
    assert (pixels[:5] == 0x80).all()
    assert len(ARROW) > height - 5  # the arrow was really cut


class FakeUser32:
    """Windows' user32 as GetCursorInfo answers (simulated: the real API cannot be called here)."""

    def __init__(self, x: int, y: int, showing: bool):
        self.x, self.y, self.showing = x, y, showing

    def GetCursorInfo(self, pointer):  # noqa: N802 - the Windows name
        info = pointer._obj
        assert info.cbSize == ctypes.sizeof(info)  # Windows refuses a CURSORINFO of the wrong size
        info.flags = 1 if self.showing else 0
        info.ptScreenPos.x, info.ptScreenPos.y = self.x, self.y
        return 1


def test_simulated_windows_cursor_position_and_hidden_cursor():
    assert windows_position(FakeUser32(-1920, 300, True)) == (-1920, 300)  # a monitor left of the main one
    assert windows_position(FakeUser32(5, 5, False)) is None
    painter = CursorPainter({"left": -1920, "top": 0}, locate=lambda: (-1910, 20))
    frame = bytearray(64 * 64 * 4)
    painter.paint(frame, 64, 64)
    assert frame[(20 * 64 + 10) * 4 + 3] == 255  # drawn at (10, 20) of the area


class FakeCoreGraphics:
    """macOS's CoreGraphics answering the Screen Recording question (simulated)."""

    def __init__(self, allowed: bool | None):
        self.asked = 0
        if allowed is not None:  # plain functions, which take a restype as ctypes functions do
            self.CGPreflightScreenCaptureAccess = lambda: allowed

            def request():
                self.asked += 1
                return False

            self.CGRequestScreenCaptureAccess = request


def test_simulated_macos_without_screen_recording_permission_refuses_in_one_line(monkeypatch):
    refused = FakeCoreGraphics(False)
    assert macos.screen_recording_allowed(refused) is False and refused.asked == 1  # macOS's prompt shown
    assert macos.screen_recording_allowed(FakeCoreGraphics(True)) is True
    assert macos.screen_recording_allowed(FakeCoreGraphics(None)) is None  # before 10.15: no such permission
    monkeypatch.setattr("sys.platform", "darwin")
    monkeypatch.setattr(macos, "core_graphics", lambda: refused)
    with pytest.raises(UsageError) as error:
        MssSource(MssOptions()).open()
    assert "\n" not in str(error.value) and "Screen Recording" in str(error.value)


def test_simulated_retina_grab_records_every_pixel_and_scales_masks(xdisplay, monkeypatch):
    """A grab twice the area's size each way (a Retina screen at full resolution):
    the recording is that size, and mask rectangles given in points cover the same place."""
    monkeypatch.setenv("DISPLAY", xdisplay.name)
    source = MssSource(MssOptions(region=[0, 0, 160, 120], mask_rects=[[10, 10, 20, 20]], cursor=False))
    source.linux = False
    real = mss.MSS

    class Retina:
        def __init__(self, **kwargs):
            self.sct = real(display=xdisplay.name)
            self.monitors = self.sct.monitors

        def grab(self, area):  # two pixels per point, as CGWindowListCreateImage gives without nominal resolution
            doubled = {k: v * 2 for k, v in area.items()}
            return self.sct.grab(doubled)

        def close(self):
            self.sct.close()

    monkeypatch.setattr(mss, "MSS", Retina)
    try:
        assert source.open() == VideoFormat(320, 240)
        frame = np.frombuffer(bytes(source.grab()), np.uint8).reshape(240, 320, 4)
    finally:
        source.close()
    assert (frame[20:60, 20:60, :3] == frame[20, 20, :3]).all()  # the mask, at twice its point size
    assert macos.PERMISSION.startswith("mss: ")
