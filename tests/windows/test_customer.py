"""What a Windows customer sees: the recording indicator (a topmost window while
recording, gone after), window masks by title and class (notepad greyed in the
video), and the consent prompt as a Windows dialog. The bundle's recorder.cmd under
Wine, as the customer's machine runs it; the windows are found and read through user32."""

from __future__ import annotations

import ctypes
import json
from ctypes import wintypes
from pathlib import Path

import av
import numpy

from conftest import run, sessions, status, wait_until

user32 = ctypes.WinDLL("user32", use_last_error=True)
for name, restype, argtypes in [
        ("FindWindowW", wintypes.HWND, [wintypes.LPCWSTR, wintypes.LPCWSTR]),
        ("GetWindowLongW", ctypes.c_long, [wintypes.HWND, ctypes.c_int]),
        ("IsWindowVisible", wintypes.BOOL, [wintypes.HWND]),
        ("GetWindowRect", wintypes.BOOL, [wintypes.HWND, ctypes.POINTER(wintypes.RECT)]),
        ("PostMessageW", wintypes.BOOL, [wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM])]:
    getattr(user32, name).restype, getattr(user32, name).argtypes = restype, argtypes

INDICATOR_TITLE = "recorder: recording"
GWL_EXSTYLE, WS_EX_TOPMOST, WS_EX_LAYERED = -20, 0x8, 0x80000
WM_CLOSE = 0x10
GREY = 0x80  # masks.FILL


def config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "recorder.toml"
    path.write_text("[profiles.rep]\nnotifiers = []\n" + text, encoding="utf-8")
    return str(path)


def first_frame(folder: Path, after: float = 1.0) -> numpy.ndarray:
    """A frame of the first part at least ``after`` seconds in, as RGB."""
    with av.open(str(folder / "part-001.mp4")) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= after:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError("no frame that late")


def indicator() -> int | None:
    return user32.FindWindowW(None, INDICATOR_TITLE) or None


def test_the_indicator_is_a_topmost_window_while_recording_and_gone_after(start, tmp_path):
    recording = start("--profile", "rep", "--duration", "300", "--config",
                      config(tmp_path, 'guards = ["+indicator"]\n[profiles.rep.indicator]\nrequired = true\n'))
    hwnd = wait_until("the indicator window", lambda: indicator() if indicator() and
                      user32.IsWindowVisible(indicator()) else None, timeout=90)
    style = user32.GetWindowLongW(hwnd, GWL_EXSTYLE)
    assert style & WS_EX_TOPMOST and style & WS_EX_LAYERED, hex(style)
    rect = wintypes.RECT()
    assert user32.GetWindowRect(hwnd, ctypes.byref(rect))
    # another program asking it to close: it stays while recording goes on
    user32.PostMessageW(hwnd, WM_CLOSE, 0, 0)
    wait_until("a few seconds recorded", lambda: (status("rep") or {}).get("elapsed", 0) >= 3, timeout=60)
    assert user32.IsWindowVisible(hwnd) and indicator() == hwnd
    # paused: nothing is recorded, and the indicator says so by going away
    run("pause", "--profile", "rep", check=0)
    wait_until("the indicator hidden during the pause", lambda: not user32.IsWindowVisible(hwnd), timeout=30)
    run("resume", "--profile", "rep", check=0)
    wait_until("the indicator back after the pause", lambda: user32.IsWindowVisible(hwnd), timeout=30)
    run("stop", "--profile", "rep", check=0)
    assert recording.finish(90) == 0, recording.err
    assert indicator() is None
    # it is on the screen, so it is in the recording: its red dot, where the window was
    [folder] = sessions()
    frame = first_frame(folder)
    area = frame[rect.top:rect.bottom, rect.left:rect.right].astype(int)
    red = (area[..., 0] > 150) & (area[..., 1] < 90) & (area[..., 2] < 90)
    assert red.sum() >= 20, "no red dot where the indicator was"


def test_a_required_indicator_on_a_screen_without_one_refuses_to_record(tmp_path):
    """required = true and no window station to put it on is not testable under Wine (there
    is always a desktop); what is: the option is read, and a bad corner is one line, exit 2."""
    result = run("--profile", "rep", "--duration", "2", "--config",
                 config(tmp_path, 'guards = ["+indicator"]\n[profiles.rep.indicator]\ncorner = "middle"\n'))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "corner" in result.stderr, result.stderr


def _masked_notepad(start, notepad, tmp_path, mask: str) -> tuple[numpy.ndarray, tuple[int, int, int, int]]:
    recording = start("--profile", "rep", "--duration", "5", "--config",
                      config(tmp_path, f"[profiles.rep.mss]\n{mask}\n"))
    assert recording.finish(120) == 0, recording.err
    [folder] = sessions()
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert manifest["end_reason"] == "duration"
    return first_frame(folder), notepad


def _assert_grey_inside_only(frame: numpy.ndarray, rect: tuple[int, int, int, int]) -> None:
    left, top, right, bottom = rect
    inside = frame[top + 2:bottom - 2, left + 2:right - 2].astype(int)
    grey = (abs(inside - GREY) <= 3).all(axis=2)
    assert grey.mean() > 0.98, f"only {grey.mean():.0%} of notepad's area is the mask's grey"
    outside = frame[:max(1, top - 10)].astype(int)
    assert (abs(outside - GREY) <= 3).all(axis=2).mean() < 0.5  # the rest of the screen is not masked


def test_a_mask_by_title_greys_notepad_in_the_video(start, notepad, tmp_path):
    frame, rect = _masked_notepad(start, notepad, tmp_path, 'mask_titles = ["*Notepad*"]')
    _assert_grey_inside_only(frame, rect)


def test_a_mask_by_class_greys_notepad_in_the_video(start, notepad, tmp_path):
    frame, rect = _masked_notepad(start, notepad, tmp_path, 'mask_classes = ["Notepad"]')
    _assert_grey_inside_only(frame, rect)


def test_without_a_mask_notepad_is_in_the_video(start, notepad, tmp_path):
    """The mask tests' other side: the same recording without a mask shows notepad's white page."""
    frame, (left, top, right, bottom) = _masked_notepad(start, notepad, tmp_path, "")
    inside = frame[top + 60:bottom - 30, left + 20:right - 20]
    assert (inside.min(axis=2) > 240).mean() > 0.9
