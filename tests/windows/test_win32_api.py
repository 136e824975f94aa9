"""recorder.platform's Win32 edges on the real API (Windows CPython under Wine): every
function declared in recorder.platform.win32 is called at least once, through the
functions recorder uses, with harmless arguments (this process, a new folder), and
what they answer is checked; or, where a call shows a window or creates a pipe, by
the test that ``EXERCISED_ELSEWHERE`` names."""

from __future__ import annotations

import _winapi
import ctypes
import msvcrt
import os
import re
import subprocess
import sys
import threading
import time
from ctypes import wintypes
from pathlib import Path

import pytest
from recorder import platform
from recorder.control import win32_pipe
from recorder.platform import sddl, win32, windows
from recorder.plugins.mss import cursor
from recorder.plugins.window_events.win32 import image_name
from recorder.session import identity

CALLED: set[str] = set()
# Functions whose calls show windows, dialogs or pipes: each is called by the test named
# (another file of tests/windows/, run by the same Windows leg), not here.
_INDICATOR = "test_customer.py::test_the_indicator_is_a_topmost_window_while_recording_and_gone_after"
_GUARD = "test_lifecycle.py::test_the_guard_window_is_declared_checked_and_cleaned_up"
_MASK = "test_customer.py::test_a_mask_by_title_greys_notepad_in_the_video"
_CONSENT = "test_customer.py::test_no_answer_in_time_closes_the_dialog_and_records_nothing"
_SAVE = "test_customer.py::test_the_save_dialog_saves_where_the_person_says"
_WINDOW_EVENTS = "test_window_events.py::test_two_programs_brought_to_the_front_are_events_naming_each_program"
EXERCISED_ELSEWHERE = {
    "kernel32.CreateNamedPipeW": "test_pipe.py::test_a_silent_squatter_on_the_pipe_costs_the_client_seconds_"
                                 "not_forever",
    "advapi32.GetSecurityInfo": "test_pipe.py::test_the_pipe_admits_only_its_user",
    **{f"user32.{name}": _GUARD for name in (
        "RegisterClassW", "UnregisterClassW", "CreateWindowExW", "DestroyWindow", "DefWindowProcW", "GetMessageW",
        "TranslateMessage", "DispatchMessageW", "PostMessageW", "PostQuitMessage")},
    "user32.ShutdownBlockReasonCreate": "test_lifecycle.py::test_end_session_seals_as_interrupted_and_the_same_"
                                        "support_session_resumes",
    "user32.ShutdownBlockReasonDestroy": "test_lifecycle.py::test_a_shutdown_another_program_refuses_never_costs_the_"
                                         "recording",
    **{f"user32.{name}": _INDICATOR for name in (
        "RegisterClassExW", "ShowWindow", "SetWindowPos", "SetLayeredWindowAttributes", "BeginPaint", "EndPaint",
        "InvalidateRect", "UpdateWindow", "SetTimer")},
    **{f"gdi32.{name}": _INDICATOR for name in ("SelectObject", "Ellipse", "SetTextColor", "SetBkMode", "TextOutW")},
    **{f"user32.{name}": _MASK for name in (
        "EnumWindows", "IsWindowVisible", "IsIconic", "GetWindowTextW", "GetClassNameW", "GetWindowRect")},
    **{f"user32.{name}": _CONSENT for name in ("MessageBoxW", "EnumThreadWindows")},
    "user32.SendMessageW": _SAVE,
    **{f"user32.{name}": _WINDOW_EVENTS for name in ("GetForegroundWindow", "GetWindowThreadProcessId")},
    **{f"shell32.{name}": _SAVE for name in ("SHBrowseForFolderW", "SHGetPathFromIDListW")},
    **{f"ole32.{name}": _SAVE for name in ("OleInitialize", "OleUninitialize", "CoTaskMemFree")},
}


@pytest.fixture(autouse=True, scope="module")
def record_calls():
    """Each declared function, wrapped to note that it was called (the last test checks)."""
    originals = {}
    for library in win32.LIBRARIES:
        for name in library.table:
            declared = getattr(library, name)  # loads the DLL and declares the function

            def noting(*args, _declared=declared, _name=f"{library.name}.{name}"):
                CALLED.add(_name)
                return _declared(*args)

            originals[library, name] = declared
            setattr(library, name, noting)
    yield
    for (library, name), declared in originals.items():
        setattr(library, name, declared)


def _aces(text: str) -> list[tuple[str, str, str, str]]:
    """(type, flags, rights, SID) of each ACE of an SDDL string's DACL, SIDs as SIDs."""
    dacl = text.split("D:", 1)[1].split("S:", 1)[0]
    return [(f[0], f[1], f[2], sddl.SDDL_ALIASES.get(f[5], f[5]))
            for f in (ace.split(";") for ace in re.findall(r"\(([^)]*)\)", dacl))]


def test_the_pseudo_handle_of_this_process_keeps_its_64_bits():
    handle = win32.kernel32.GetCurrentProcess()
    assert handle == 2**64 - 1, "(HANDLE)-1, not cut to the 32-bit 0xFFFFFFFF"


def test_process_alive_of_this_process_and_of_a_finished_one():
    assert platform.process_alive(os.getpid())
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait(60)
    assert not platform.process_alive(finished.pid)
    assert not platform.process_alive(0)


def test_the_user_sid_is_this_token_s_user():
    sid = windows.user_sid()
    assert re.fullmatch(r"S-1-5-21(-\d+){4}", sid), sid


def _wine() -> str | None:
    """Wine's version when this runs under Wine (its ntdll exports wine_get_version)."""
    ntdll = ctypes.WinDLL("ntdll")
    if not hasattr(ntdll, "wine_get_version"):
        return None
    ntdll.wine_get_version.restype = ctypes.c_char_p
    return ntdll.wine_get_version().decode()


# Wine gaps (docs/platforms.md): Wine 8 keeps no DACL of a file's own. It reads back one
# made from the Unix mode bits (the owner, SYSTEM, Everyone for the "other" bits), never
# protected, not inherited by new files, and a NULL DACL set clears every mode bit.
WINE_DACLS = "Wine 8 gap: file DACLs are Unix mode bits (never protected, never inherited, no NULL DACL)"


def test_a_private_folder_has_aces_for_the_user_and_system_only(tmp_path):
    folder = tmp_path / "private"
    folder.mkdir()
    user = windows.user_sid()
    before = {sid for _, _, _, sid in _aces(windows.get_sddl(str(folder)))}
    assert before - {user, "S-1-5-18"}, f"a new folder has ACEs for others (Everyone, Administrators): {before}"
    platform.make_owner_only(folder, folder=True)
    after = windows.get_sddl(str(folder))
    assert {sid for _, _, _, sid in _aces(after)} == {user, "S-1-5-18"}, after
    assert all(kind == "A" for kind, _, _, _ in _aces(after)), after
    assert sddl.sddl_writers(after, trusted={user, *sddl.ADMIN_SIDS}) == (user, [])
    assert platform.writable_by_others(folder) is None


@pytest.mark.skipif(bool(_wine()), reason=WINE_DACLS)
def test_a_private_folder_s_dacl_is_protected_and_inherited_by_its_files(tmp_path):
    folder = tmp_path / "private"
    folder.mkdir()
    platform.make_owner_only(folder, folder=True)
    after = windows.get_sddl(str(folder))
    assert re.search(r"D:P[A-Z]*\(", after), f"protected: nothing inherited from the parent ({after})"
    assert all("ID" not in flags for _, flags, _, _ in _aces(after)), after
    inside = folder / "part.mp4"
    inside.write_bytes(b"x")
    user = windows.user_sid()
    assert {sid for _, _, _, sid in _aces(windows.get_sddl(str(inside)))} == {user, "S-1-5-18"}


@pytest.mark.skipif(bool(_wine()), reason=WINE_DACLS)
def test_a_null_dacl_is_writable_by_everyone(tmp_path):
    folder = tmp_path / "open"
    folder.mkdir()
    windows.set_sddl(str(folder), "D:NO_ACCESS_CONTROL")
    assert "NO_ACCESS_CONTROL" in windows.get_sddl(str(folder))
    assert platform.writable_by_others(folder) == f"{folder} can be written by other users (S-1-1-0)"


def test_the_sync_handle_reads_for_the_rescue_copy_and_flushes(tmp_path):
    """FlushFileBuffers needs write access, the rescue copy read access: a write-only
    handle (what it was) cannot be read on Windows."""
    part = tmp_path / "part-001.mp4.partial"
    data = b"\x00\x00\x00\x18ftypmp42\r\n\x1a" * 100_000
    part.write_bytes(data)
    fd = platform.sync_handle(part)
    try:
        assert platform.pread(fd, len(data) + 1, 0) == data
        platform.fsync(fd)
    finally:
        os.close(fd)
    write_only = os.open(part, os.O_WRONLY | os.O_BINARY)
    try:
        with pytest.raises(OSError):
            os.read(write_only, 1)
    finally:
        os.close(write_only)


def test_the_cursor_position_comes_from_getcursorinfo():
    info = win32.CURSORINFO()
    info.cbSize = ctypes.sizeof(win32.CURSORINFO)
    assert info.cbSize == 24, "CURSORINFO as winuser.h lays it out on x64"
    assert win32.user32.GetCursorInfo(ctypes.byref(info))
    where = cursor.windows_position()
    assert where is None or where == (info.ptScreenPos.x, info.ptScreenPos.y)


def test_the_boot_time_is_now_less_the_tick_count():
    assert 0 < time.time() - identity._windows_boot_time() < 10 * 365 * 86400  # booted, and not in the future


def test_an_event_for_the_pipe_s_accept_loop_is_set_and_closed():
    event = win32_pipe.Event()
    try:
        event.set()
        assert _winapi.WaitForSingleObject(event.handle, 0) == win32_pipe.WAIT_OBJECT_0
    finally:
        event.close()


def test_module_thread_console_and_screen_answers():
    assert win32.kernel32.GetModuleHandleW(None), "python.exe's module handle"
    assert win32.kernel32.GetCurrentThreadId() == threading.get_native_id()
    with open(os.devnull, "rb") as nul:  # NUL is a device but no console: isatty() lies, GetConsoleMode not
        assert not win32.kernel32.GetConsoleMode(msvcrt.get_osfhandle(nul.fileno()), ctypes.byref(wintypes.DWORD()))
    assert win32.user32.GetSystemMetrics(0) > 0 and win32.user32.GetSystemMetrics(1) > 0  # the screen's size
    handler = win32.HANDLER(lambda event: False)
    assert win32.kernel32.SetConsoleCtrlHandler(handler, True)
    assert win32.kernel32.SetConsoleCtrlHandler(handler, False)


def test_a_brush_and_a_stock_font_of_gdi():
    brush = win32.gdi32.CreateSolidBrush(0x1010E0)
    assert brush
    assert win32.gdi32.DeleteObject(brush)
    assert win32.gdi32.GetStockObject(17), "DEFAULT_GUI_FONT"


def test_the_image_name_of_this_process_is_its_executable_s_name():
    """What a window event names a program by (recorder.plugins.window_events.win32)."""
    assert image_name(os.getpid()).lower() == Path(sys.executable).name.lower()
    assert image_name(0) == "", "the idle process cannot be opened"


def test_an_undeclared_function_is_refused():
    with pytest.raises(AttributeError, match="not declared"):
        win32.kernel32.WinExec


def test_every_declared_function_was_called():
    """Last in this file: the tests above called each function of each table."""
    declared = {f"{library.name}.{name}" for library in win32.LIBRARIES for name in library.table}
    assert set(EXERCISED_ELSEWHERE) <= declared, "no stale entry"
    assert declared - CALLED - set(EXERCISED_ELSEWHERE) == set()
    for where in set(EXERCISED_ELSEWHERE.values()):  # the tests named exist
        file, test = where.split("::")
        assert f"def {test}(" in (Path(__file__).parent / file).read_text(encoding="utf-8"), where
