"""The Windows suite's fixtures. Runs in the bundle's CPython under Wine (leg.py): the
recorder under test is the bundle's ``recorder.cmd``, run as a Windows user would run
it, with its output to a pipe.

platformdirs asks Windows for the known folders (SHGetKnownFolderPath), so every test
shares the prefix's one user: each test starts with recorder's folders of that user
removed and no recorder left running.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
import time
from ctypes import wintypes
from pathlib import Path

import pytest

if sys.platform != "win32":
    raise ImportError("tests/windows runs under Windows (Wine): python tests/windows/leg.py")

BUNDLE = Path(os.environ.get("RECORDER_WINDOWS_BUNDLE", Path(sys.executable).parent.parent))
RECORDER = BUNDLE / "recorder.cmd"


def known_folder(guid: str) -> Path:
    """A Windows known folder, as recorder (platformdirs) finds it."""
    class GUID(ctypes.Structure):
        _fields_ = [("Data1", wintypes.DWORD), ("Data2", wintypes.WORD), ("Data3", wintypes.WORD),
                    ("Data4", wintypes.BYTE * 8)]

    shell32, ole32 = ctypes.WinDLL("shell32"), ctypes.WinDLL("ole32")
    ole32.CLSIDFromString.argtypes = [wintypes.LPCWSTR, ctypes.POINTER(GUID)]
    shell32.SHGetKnownFolderPath.argtypes = [ctypes.POINTER(GUID), wintypes.DWORD, wintypes.HANDLE,
                                             ctypes.POINTER(ctypes.c_wchar_p)]
    ole32.CoTaskMemFree.argtypes = [ctypes.c_void_p]
    folder, path = GUID(), ctypes.c_wchar_p()
    ole32.CLSIDFromString(guid, ctypes.byref(folder))
    assert shell32.SHGetKnownFolderPath(ctypes.byref(folder), 0, None, ctypes.byref(path)) == 0
    try:
        return Path(path.value)
    finally:
        ole32.CoTaskMemFree(path)


DOCUMENTS = known_folder("{FDD39AD0-238F-46AF-ADB4-6C85480369C7}")
LOCAL_APPDATA = known_folder("{F1B32785-6FBA-4FCF-9D55-7B8E7F157091}")
ROAMING_APPDATA = known_folder("{3EB685DB-65F9-4CF6-A03A-E3EF65729F3D}")
PROGRAM_DATA = known_folder("{62AB5D82-FDC1-4DC3-A9DD-070D1D495D97}")
RECORDINGS = DOCUMENTS / "SessionRecordings"
RECORDER_FOLDERS = [RECORDINGS, LOCAL_APPDATA / "recorder", ROAMING_APPDATA / "recorder", PROGRAM_DATA / "recorder"]


def env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("RECORDER_")}, **extra}


def run(*args: str, timeout: float = 120, check: int | None = None, **extra_env: str) -> subprocess.CompletedProcess:
    """``recorder.cmd ARGS`` to the end, its output through pipes (as a support tool reads it)."""
    for attempt in range(3):
        try:
            result = subprocess.run([str(RECORDER), *args], env=env(**extra_env), capture_output=True, text=True,
                                    encoding="utf-8", errors="replace", timeout=timeout, stdin=subprocess.DEVNULL)
            break
        except OSError as exc:
            # Wine 8's CreateProcess now and then fails with ERROR_INTERNAL_ERROR (1359) on a busy
            # machine (seen once with the Linux suite running beside the leg): the test harness
            # starting recorder failed, not recorder. Started again; any other error is the test's.
            if getattr(exc, "winerror", None) != 1359 or attempt == 2:
                raise
            time.sleep(1)
    if check is not None:
        assert result.returncode == check, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


class Started:
    """A recorder (or other program) started in the background; ``finish`` waits and reads its output."""

    def __init__(self, argv: list[str], **extra_env: str):
        self.profile = next((b for a, b in zip(argv, argv[1:]) if a == "--profile"), None)
        self.proc = subprocess.Popen(argv, env=env(**extra_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True, encoding="utf-8", errors="replace")
        self.out = self.err = ""

    def finish(self, timeout: float = 60) -> int:
        self.out, self.err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode


@pytest.fixture
def start():
    started: list[Started] = []

    def begin(*args: str, program: str | None = None, **extra_env: str) -> Started:
        one = Started([program or str(RECORDER), *args], **extra_env)
        started.append(one)
        return one

    yield begin
    killed = set()
    for one in started:
        if one.proc.poll() is None:
            kill_tree(one.proc.pid)
            one.proc.kill()  # TerminateProcess on our own handle: Wine's taskkill can miss it
            one.proc.wait(30)
            killed.add(one.profile)
    # recorder.cmd is cmd.exe; Wine's taskkill /T can miss the Python it started, which then
    # keeps the profile's lock and fails every later test: ended here by its own pid
    for profile in killed - {None}:
        if (left := status(profile)) and left.get("pid"):
            subprocess.run(["taskkill", "/F", "/PID", str(left["pid"])], capture_output=True, check=False)
            wait_until(f"the {profile} recorder left running to end", lambda: not status(profile), timeout=30)


def kill_tree(pid: int) -> None:
    subprocess.run(["taskkill", "/F", "/T", "/PID", str(pid)], capture_output=True, check=False)


def wait_until(what: str, ready, timeout: float = 60.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = ready()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out waiting for {what}")


def status(profile: str = "rep") -> dict | None:
    """The running recorder's status over the named pipe, or None while none answers."""
    result = run("status", "--json", "--profile", profile, timeout=30)
    if result.returncode != 0:
        return None
    try:
        answer = json.loads(result.stdout)
    except ValueError:
        return None
    return None if answer.get("state") == "idle" else answer  # status --json answers idle when none runs


def sessions() -> list[Path]:
    return sorted(p for p in RECORDINGS.iterdir() if p.is_dir()) if RECORDINGS.exists() else []


@pytest.fixture(autouse=True)
def fresh_user():
    """Each test starts as a user who never ran recorder."""
    for folder in RECORDER_FOLDERS:
        shutil.rmtree(folder, ignore_errors=True)
    yield


@pytest.fixture
def notepad():
    """Wine's notepad, on the screen while the test records."""
    proc = subprocess.Popen(["notepad.exe"], stdin=subprocess.DEVNULL)
    user32 = ctypes.WinDLL("user32")
    user32.FindWindowW.argtypes = [wintypes.LPCWSTR, wintypes.LPCWSTR]
    user32.FindWindowW.restype = wintypes.HWND
    hwnd = wait_until("notepad's window", lambda: user32.FindWindowW("Notepad", None), timeout=60)
    user32.GetWindowRect.argtypes = [wintypes.HWND, ctypes.POINTER(wintypes.RECT)]
    user32.MoveWindow.argtypes = [wintypes.HWND, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, wintypes.BOOL]
    user32.MoveWindow(hwnd, 100, 100, 600, 400, True)
    time.sleep(1)
    rect = wintypes.RECT()
    user32.GetWindowRect(hwnd, ctypes.byref(rect))
    yield (rect.left, rect.top, rect.right, rect.bottom)
    proc.kill()
    proc.wait(10)
