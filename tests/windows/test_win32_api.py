"""recorder.platform's Win32 edges on the real API (Windows CPython under Wine): every
function declared in recorder.platform.win32 is called at least once, through the
functions recorder uses, with harmless arguments (this process, a new folder), and
what they answer is checked."""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from recorder import platform
from recorder.platform import sddl, win32, windows
from recorder.plugins.mss import cursor

CALLED: set[str] = set()


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


def test_an_undeclared_function_is_refused():
    with pytest.raises(AttributeError, match="not declared"):
        win32.kernel32.WinExec


def test_every_declared_function_was_called():
    """Last in this file: the tests above called each function of each table."""
    declared = {f"{library.name}.{name}" for library in win32.LIBRARIES for name in library.table}
    assert declared - CALLED == set()
