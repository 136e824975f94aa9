"""The end of a Windows session while recording, and a recorder killed hard: what the
user relies on is that the recording is sealed (or recovered), verifies, and that the
next start of the same support session continues it in a new part.

Wine 8 delivers the end of the session with ``wineboot --end-session``: it asks the
processes one by one in the order of their ids, WM_QUERYENDSESSION then WM_ENDSESSION
for each (and terminates each after its WM_ENDSESSION TRUE), and stops at the first
that refuses, which alone is told WM_ENDSESSION FALSE. Windows asks every application
first, then tells all of them the outcome (docs/platforms.md names this gap): so the
recorder being told "cancelled" after it answered the question is sent here by the
test itself, as Windows sends it.
"""

from __future__ import annotations

import ctypes
import json
import logging
import re
import subprocess
import sys
import threading
import time
from ctypes import wintypes
from pathlib import Path

import pytest

from conftest import LOCAL_APPDATA, run, sessions, status, wait_until

WM_QUERYENDSESSION, WM_ENDSESSION, WM_NCCREATE = 0x0011, 0x0016, 0x0081
SMTO_ABORTIFHUNG = 0x0002
WATCHER = "RecorderShutdownWatcher"  # the guard's hidden window's class

user32 = ctypes.WinDLL("user32", use_last_error=True)
kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
user32.FindWindowW.argtypes = [wintypes.LPCWSTR, wintypes.LPCWSTR]
user32.FindWindowW.restype = wintypes.HWND
user32.SendMessageTimeoutW.argtypes = [wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM,
                                       wintypes.UINT, wintypes.UINT, ctypes.POINTER(ctypes.c_size_t)]
user32.SendMessageTimeoutW.restype = ctypes.c_ssize_t
kernel32.GetTickCount64.argtypes = []
kernel32.GetTickCount64.restype = ctypes.c_ulonglong
kernel32.GetModuleFileNameW.argtypes = [wintypes.HMODULE, wintypes.LPWSTR, wintypes.DWORD]
kernel32.GetModuleFileNameW.restype = wintypes.DWORD


def end_session() -> subprocess.CompletedProcess:
    """Wine's end of the Windows session (what a shutdown or logoff sends the applications)."""
    return subprocess.run(["wineboot.exe", "--end-session"], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def recording_for(seconds: float) -> dict:
    return wait_until(f"{seconds} s of recording", lambda: (s := status()) and s["state"] == "recording"
                      and s["elapsed"] >= seconds and s, timeout=90)


def manifest(folder: Path) -> dict:
    return json.loads((folder / "session.json").read_text(encoding="utf-8"))


def journal_entry(profile: str = "rep") -> dict:
    [path] = LOCAL_APPDATA.glob(f"recorder/**/journal/{profile}.json")
    return json.loads(path.read_text(encoding="utf-8"))


def parts_verify(folder: Path) -> list[str]:
    """verify's line for each part (the session itself may be interrupted: not yet complete)."""
    out = run("verify", folder.name[-8:]).stdout
    return re.findall(r"^ok\s+(part-\d+\.mp4): .*SHA-256 ok, decodes$", out, re.M)


class Verified:
    """verify's answer, true when the whole session verified; its output shows in a failed assert."""

    def __init__(self, result: subprocess.CompletedProcess):
        self.ok = result.returncode == 0 and result.stdout.strip().endswith("verified")
        self.said = f"exit {result.returncode}\n{result.stdout}{result.stderr}"

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"verify said: {self.said}"


def fully_verified(folder: Path) -> Verified:
    return Verified(run("verify", folder.name[-8:]))


def ended_by_end_session(recording, folder: Path) -> dict:
    recording.proc.wait(60)  # Wine ends the process once it answered WM_ENDSESSION
    state = manifest(folder)
    assert state["state"] == "interrupted" and state["end_reason"] == "interrupted", state
    assert [e["text"] for e in state["events"] if e["kind"] == "end-requested"] == ["shutdown or restart"]
    assert parts_verify(folder) == ["part-001.mp4"]  # sealed: hashed and decodable
    return state


def resumed(folder: Path) -> dict:
    state = manifest(folder)
    assert [p["file"] for p in state["parts"]] == ["part-001.mp4", "part-002.mp4"]
    kinds = [e["kind"] for e in state["events"]]
    assert "gap" in kinds and "resumed" in kinds
    assert fully_verified(folder)
    return state


# -- 1. the end of the Windows session during a recording -------------------------------

def test_end_session_seals_as_interrupted_and_the_same_support_session_resumes(start):
    recording = start("--profile", "rep", "--session-id", "T-26", "--duration", "300")
    recording_for(3)
    end_session()
    [folder] = sessions()
    ended_by_end_session(recording, folder)
    run("--profile", "rep", "--session-id", "T-26", "--duration", "3", check=0)
    assert sessions() == [folder]
    resumed(folder)


def test_without_session_id_only_a_restart_resumes(start):
    recording = start("--profile", "rep", "--duration", "300")
    recording_for(3)
    end_session()
    [first] = sessions()
    ended_by_end_session(recording, first)
    # Windows' own boot id: the boot time from GetTickCount64, the same in every process
    written = journal_entry()["boot_id"]
    assert written.startswith("boot-time:")
    assert abs(float(written.removeprefix("boot-time:")) - (time.time() - kernel32.GetTickCount64() / 1000)) < 5
    # a CI machine cannot restart mid-test: the stand-in boot id is the restart
    run("--profile", "rep", "--duration", "3", check=0, RECORDER_TEST_BOOT_ID="after-a-restart")
    assert sessions() == [first]
    resumed(first)

    recording = start("--profile", "rep", "--duration", "300")
    recording_for(3)
    end_session()
    [second] = [f for f in sessions() if f != first]
    ended_by_end_session(recording, second)
    same_boot = run("--profile", "rep", "--duration", "3", check=0)  # the real boot id again
    assert "has not restarted" in same_boot.stdout + same_boot.stderr
    assert len(sessions()) == 3 and manifest(second)["state"] != "interrupted"
    assert fully_verified(second)


# -- 2. a shutdown that is cancelled -------------------------------------------------------

REFUSER = r'''
import ctypes, sys
from ctypes import wintypes
log = open(sys.argv[1], "a", buffering=1, encoding="utf-8")
user32, kernel32 = ctypes.WinDLL("user32"), ctypes.WinDLL("kernel32")
LRESULT = ctypes.c_ssize_t
WNDPROC = ctypes.WINFUNCTYPE(LRESULT, wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM)
class WNDCLASSW(ctypes.Structure):
    _fields_ = [("style", wintypes.UINT), ("lpfnWndProc", WNDPROC), ("cbClsExtra", ctypes.c_int),
                ("cbWndExtra", ctypes.c_int), ("hInstance", wintypes.HINSTANCE), ("hIcon", wintypes.HICON),
                ("hCursor", wintypes.HANDLE), ("hbrBackground", wintypes.HBRUSH),
                ("lpszMenuName", wintypes.LPCWSTR), ("lpszClassName", wintypes.LPCWSTR)]
user32.DefWindowProcW.argtypes = [wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM]
user32.DefWindowProcW.restype = LRESULT
user32.RegisterClassW.argtypes = [ctypes.POINTER(WNDCLASSW)]
user32.RegisterClassW.restype = wintypes.ATOM
user32.CreateWindowExW.argtypes = [wintypes.DWORD, wintypes.LPCWSTR, wintypes.LPCWSTR, wintypes.DWORD, ctypes.c_int,
                                   ctypes.c_int, ctypes.c_int, ctypes.c_int, wintypes.HWND, wintypes.HMENU,
                                   wintypes.HINSTANCE, wintypes.LPVOID]
user32.CreateWindowExW.restype = wintypes.HWND
user32.GetMessageW.argtypes = [ctypes.POINTER(wintypes.MSG), wintypes.HWND, wintypes.UINT, wintypes.UINT]
user32.DispatchMessageW.argtypes = [ctypes.POINTER(wintypes.MSG)]
kernel32.GetModuleHandleW.argtypes = [wintypes.LPCWSTR]
kernel32.GetModuleHandleW.restype = wintypes.HMODULE
def wndproc(hwnd, msg, wparam, lparam):
    if msg == 0x0011:  # WM_QUERYENDSESSION: no, an unsaved document
        log.write("query\n")
        return 0
    if msg == 0x0016:
        log.write(f"end {wparam}\n")
        return 0
    return user32.DefWindowProcW(hwnd, msg, wparam, lparam)
callback = WNDPROC(wndproc)
instance = kernel32.GetModuleHandleW(None)
assert user32.RegisterClassW(ctypes.byref(WNDCLASSW(lpfnWndProc=callback, hInstance=instance,
                                                    lpszClassName="RefusesToEnd")))
assert user32.CreateWindowExW(0, "RefusesToEnd", "unsaved work", 0, 0, 0, 100, 100, None, None, instance, None)
log.write("ready\n")
message = wintypes.MSG()
while user32.GetMessageW(ctypes.byref(message), None, 0, 0) > 0:
    user32.DispatchMessageW(ctypes.byref(message))
'''


def keeps_recording(since: dict) -> dict:
    """More frames after ``since``, the recorder still recording."""
    later = wait_until("more frames", lambda: (s := status()) and s["frames_captured"] >= since["frames_captured"] + 5
                       and s, timeout=60)
    assert later["state"] == "recording" and later["session_id"] == since["session_id"]
    return later


def stopped_normally(recording, folder: Path) -> None:
    run("stop", "--profile", "rep", check=0)
    assert recording.finish(60) == 0, recording.err
    state = manifest(folder)
    assert state["end_reason"] != "interrupted"
    assert not [e for e in state["events"] if e.get("by") == "windows-shutdown"]
    assert fully_verified(folder)


def test_a_shutdown_another_program_refuses_never_costs_the_recording(start, tmp_path):
    script, log = tmp_path / "refuse.py", tmp_path / "refuse.log"
    script.write_text(REFUSER, encoding="utf-8")
    refuser = start(str(script), str(log), program=sys.executable)
    wait_until("the refusing program's window", lambda: log.exists() and "ready" in log.read_text(encoding="utf-8"))
    recording = start("--profile", "rep", "--duration", "300")
    before = recording_for(2)
    ended = end_session()
    assert ended.returncode != 0  # wineboot: the end of the session was cancelled
    assert log.read_text(encoding="utf-8").split() == ["ready", "query", "end", "0"]
    [folder] = sessions()
    # Wine asks the processes in the order of their ids, and Wine hands out ids it freed
    # again in no order a test can choose (see the module doc): both orders happen
    if refuser.proc.pid < before["pid"]:
        # the refusal stops the end of the session before Wine reaches the recorder
        keeps_recording(before)
        stopped_normally(recording, folder)
    else:
        # asked first, the recorder never vetoes and is ended (Windows would ask every
        # program before ending any): what it recorded is sealed whole all the same
        ended_by_end_session(recording, folder)


def test_the_question_then_a_cancel_keeps_recording(start):
    """What Windows sends the recorder when an application asked after it refuses."""
    recording = start("--profile", "rep", "--duration", "300")
    before = recording_for(2)
    hwnd = wait_until("the guard's hidden window", lambda: user32.FindWindowW(WATCHER, None))
    answer = ctypes.c_size_t()
    assert user32.SendMessageTimeoutW(hwnd, WM_QUERYENDSESSION, 0, 0, SMTO_ABORTIFHUNG, 5000, ctypes.byref(answer))
    assert answer.value == 1  # never vetoes the user's shutdown
    asked = keeps_recording(before)  # the question alone ends nothing
    assert user32.SendMessageTimeoutW(hwnd, WM_ENDSESSION, 0, 0, SMTO_ABORTIFHUNG, 5000, ctypes.byref(answer))
    keeps_recording(asked)
    [folder] = sessions()
    stopped_normally(recording, folder)


# -- 3. killed hard -----------------------------------------------------------------------

@pytest.mark.parametrize("then", ["recover", "next start"])
def test_a_recorder_killed_hard_is_recovered(start, then):
    recording = start("--profile", "rep", "--duration", "300")
    pid = recording_for(4)["pid"]
    subprocess.run(["taskkill", "/F", "/PID", str(pid)], capture_output=True, check=True)  # TerminateProcess
    recording.proc.wait(30)
    [folder] = sessions()
    assert manifest(folder)["state"] == "recording"  # nothing sealed it
    if then == "recover":
        out = run("recover", "--profile", "rep", check=0).stdout
        assert str(folder) in out
        assert parts_verify(folder) == ["part-001.mp4"]
    run("--profile", "rep", "--duration", "2", check=0)  # the same boot, no id: a new session
    assert parts_verify(folder) == ["part-001.mp4"] and fully_verified(folder)


# -- 4. the guard's Win32 plumbing -----------------------------------------------------------

def _window_thread(window, procedure=lambda *message: None) -> tuple[threading.Thread, threading.Event]:
    ready = threading.Event()
    thread = threading.Thread(target=window.run_window, args=(procedure, ready), daemon=True)
    thread.start()
    assert ready.wait(10)
    return thread, ready


def test_the_guard_window_is_declared_checked_and_cleaned_up(caplog):
    from recorder.platform import win32
    from recorder.plugins.windows_shutdown_guard_win32 import Win32Window

    caplog.set_level(logging.DEBUG, logger="recorder.windows")
    window = Win32Window(class_name="RecorderLifecycleTest")
    # its functions are the declared ones (each looked up in tests/windows/test_win32_api.py)
    assert window.user32 is win32.user32 and window.kernel32 is win32.kernel32
    # the module handle whole (64 bits): Windows knows it as python.exe
    instance = window.kernel32.GetModuleHandleW(None)
    name = ctypes.create_unicode_buffer(260)
    assert kernel32.GetModuleFileNameW(instance, name, 260) and name.value.lower().endswith("python.exe")

    thread, _ = _window_thread(window)
    hwnd = user32.FindWindowW("RecorderLifecycleTest", None)
    assert hwnd and hwnd == window.hwnd
    # a second window of the same class in this process: RegisterClassW fails, one line, no crash
    twin = Win32Window(class_name="RecorderLifecycleTest")
    twin_thread, _ = _window_thread(twin)
    twin_thread.join(5)
    assert not twin_thread.is_alive() and twin.hwnd is None
    assert "RegisterClassW failed (winerror 1410)" in caplog.text  # ERROR_CLASS_ALREADY_EXISTS
    window.close_window()
    thread.join(5)
    assert not thread.is_alive()
    assert not user32.FindWindowW("RecorderLifecycleTest", None)  # destroyed
    # the class was unregistered: a new window registers it again
    again = Win32Window(class_name="RecorderLifecycleTest")
    again_thread, _ = _window_thread(again)
    assert again.hwnd
    again.close_window()
    again_thread.join(5)


def test_a_window_that_cannot_be_created_is_one_line(caplog):
    from recorder.plugins.windows_shutdown_guard_win32 import Win32Window

    caplog.set_level(logging.DEBUG, logger="recorder.windows")
    window = Win32Window(class_name="RecorderLifecycleRefused")
    # FALSE to WM_NCCREATE: CreateWindowExW returns NULL
    thread, _ = _window_thread(window, lambda hwnd, msg, wparam, lparam: 0 if msg == WM_NCCREATE else None)
    thread.join(5)
    assert not thread.is_alive() and window.hwnd is None
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert re.fullmatch(r"windows-shutdown: CreateWindowExW failed \(winerror \d+\): shutdown and logoff will "
                        r"not seal the recording \(the next start recovers it\)", line), line
    # the class is unregistered even so
    again = Win32Window(class_name="RecorderLifecycleRefused")
    again_thread, _ = _window_thread(again)
    assert again.hwnd
    again.close_window()
    again_thread.join(5)
