"""Which window was in front, on Windows (issue 29, item 3): two programs' windows
(Wine's notepad and winemine) brought to the front in turn while the bundle's
recorder.cmd records; session.json names each one's program (the process image
name, through GetForegroundWindow, GetWindowThreadProcessId and
QueryFullProcessImageNameW) and, with record = "title", its title."""

from __future__ import annotations

import ctypes
import json
import subprocess
import time
from ctypes import wintypes
from pathlib import Path

from conftest import run, sessions, status, wait_until

user32 = ctypes.WinDLL("user32", use_last_error=True)
WNDENUMPROC = ctypes.WINFUNCTYPE(wintypes.BOOL, wintypes.HWND, wintypes.LPARAM)
for name, restype, argtypes in [
        ("EnumWindows", wintypes.BOOL, [WNDENUMPROC, wintypes.LPARAM]),
        ("GetWindowThreadProcessId", wintypes.DWORD, [wintypes.HWND, ctypes.POINTER(wintypes.DWORD)]),
        ("IsWindowVisible", wintypes.BOOL, [wintypes.HWND]),
        ("GetWindowTextW", ctypes.c_int, [wintypes.HWND, wintypes.LPWSTR, ctypes.c_int]),
        ("SetForegroundWindow", wintypes.BOOL, [wintypes.HWND]),
        ("GetForegroundWindow", wintypes.HWND, [])]:
    getattr(user32, name).restype, getattr(user32, name).argtypes = restype, argtypes


def window_of(pid: int) -> int | None:
    """The visible top-level window of process ``pid`` that has a title."""
    found = []

    def visit(hwnd, _):
        owner = wintypes.DWORD()
        user32.GetWindowThreadProcessId(hwnd, ctypes.byref(owner))
        if owner.value == pid and user32.IsWindowVisible(hwnd) and title_of(hwnd):
            found.append(hwnd)
        return True

    user32.EnumWindows(WNDENUMPROC(visit), 0)
    return found[0] if found else None


def title_of(hwnd: int) -> str:
    text = ctypes.create_unicode_buffer(512)
    user32.GetWindowTextW(hwnd, text, 512)
    return text.value


def to_front(hwnd: int) -> None:
    user32.SetForegroundWindow(hwnd)
    wait_until("the window in front", lambda: user32.GetForegroundWindow() == hwnd, timeout=20)


def test_two_programs_brought_to_the_front_are_events_naming_each_program(start, tmp_path):
    programs = [subprocess.Popen([name], stdin=subprocess.DEVNULL) for name in ("notepad.exe", "winemine.exe")]
    try:
        notepad, mine = (wait_until(f"{proc.args[0]}'s window", lambda p=proc: window_of(p.pid), timeout=60)
                         for proc in programs)
        titles = {"notepad.exe": title_of(notepad), "winemine.exe": title_of(mine)}
        to_front(notepad)
        path = Path(tmp_path) / "recorder.toml"
        path.write_text('[profiles.rep]\nnotifiers = []\nguards = ["window-events"]\nfps = 5\n'
                        '[profiles.rep.window-events]\nrecord = "title"\n', encoding="utf-8")
        recording = start("--profile", "rep", "--duration", "300", "--config", str(path))
        wait_until("the recording", lambda: (status("rep") or {}).get("elapsed", 0) >= 1, timeout=90)
        time.sleep(1.0)
        for hwnd in (mine, notepad):
            to_front(hwnd)
            time.sleep(1.5)
        run("stop", "--profile", "rep", check=0)
        assert recording.finish(90) == 0, recording.err
    finally:
        for proc in programs:
            proc.kill()
            proc.wait(30)
    [folder] = sessions()
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    seen = [(e["data"]["program"], e["data"].get("title")) for e in manifest["events"] if e["kind"] == "window"]
    # what was in front when recording began (notepad, unless recorder's console took the front) comes first
    assert seen[-2:] == [("winemine.exe", titles["winemine.exe"]), ("notepad.exe", titles["notepad.exe"])], seen
    assert all(program for program, _ in seen) and all(titles.values()), (seen, titles)
