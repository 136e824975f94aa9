"""The Win32 functions recorder calls through ctypes, each declared once with its
argument and result types: one table per DLL.

Undeclared, ctypes passes and returns C ints: a HANDLE or a pointer (64 bits on
win_amd64) comes back cut to 32 bits and the next call gets an invalid handle. So
a ``Library`` hands out only the functions of its table, typed; anything else is
an AttributeError, never a silent int.

Adding a function: a line in its DLL's table, ``"Name": (restype, [argtypes])``,
with the types of the Windows headers (handles and pointers are ``HANDLE`` /
``c_void_p``, never an int). Adding a DLL: ``gdi32 = Library("gdi32", {...})``
below. Then call the new function once in tests/windows/test_win32_api.py, which
runs under Wine and fails while a declared function has no call there.

Nothing is loaded on import: a DLL is loaded on the first call of one of its
functions, on Windows only (elsewhere that call raises OSError ENOSYS).
"""

from __future__ import annotations

import ctypes
import errno
import sys
import threading
from ctypes import wintypes
from typing import Any

HANDLE, BOOL, DWORD, LPVOID = wintypes.HANDLE, wintypes.BOOL, wintypes.DWORD, ctypes.c_void_p
LPDWORD, PHANDLE = ctypes.POINTER(DWORD), ctypes.POINTER(HANDLE)
LPWSTR, LPCWSTR = wintypes.LPWSTR, wintypes.LPCWSTR
PSID = PACL = PSECURITY_DESCRIPTOR = HLOCAL = ctypes.c_void_p  # pointers Windows hands out


class POINT(ctypes.Structure):
    _fields_ = [("x", wintypes.LONG), ("y", wintypes.LONG)]


class CURSORINFO(ctypes.Structure):  # winuser.h
    _fields_ = [("cbSize", DWORD), ("flags", DWORD), ("hCursor", HANDLE), ("ptScreenPos", POINT)]


class Library:
    """One DLL and its table of declared functions, loaded on first use."""

    def __init__(self, name: str, table: dict[str, tuple[Any, list[Any]]]):
        self.name, self.table = name, table
        self._dll: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, function: str) -> Any:
        if function.startswith("_") or function not in self.table:
            raise AttributeError(f"{self.name}.{function} is not declared in recorder.platform.win32")
        restype, argtypes = self.table[function]
        with self._lock:
            if self._dll is None:
                self._dll = _load(self.name)
            declared = getattr(self._dll, function)
            declared.restype, declared.argtypes = restype, argtypes
        setattr(self, function, declared)  # later calls find it without coming here
        return declared


def _load(name: str) -> Any:
    if sys.platform == "win32":  # an if, not an assert: type checkers skip it elsewhere
        return ctypes.WinDLL(name, use_last_error=True)
    raise OSError(errno.ENOSYS, f"{name}: a Windows library, called elsewhere")


def check(ok: Any, what: str) -> None:
    """Raise OSError naming ``what`` and its Win32 error when a call returned false
    (FALSE, NULL); return when it succeeded."""
    if not ok:
        raise OSError(errno.EACCES, f"{what} failed (winerror {last_error()})")


def last_error() -> int:
    """GetLastError of this thread's last call through a ``Library`` (ctypes keeps it)."""
    if sys.platform == "win32":
        return ctypes.get_last_error()
    return 0


def take_string(text: Any) -> str:
    """The value of a string Windows allocated for the caller, which is then freed (LocalFree)."""
    try:
        return text.value or ""
    finally:
        kernel32.LocalFree(ctypes.cast(text, ctypes.c_void_p))


kernel32 = Library("kernel32", {
    "GetCurrentProcess": (HANDLE, []),  # a pseudo-handle: -1, 64 bits wide
    "OpenProcess": (HANDLE, [DWORD, BOOL, DWORD]),
    "GetExitCodeProcess": (BOOL, [HANDLE, LPDWORD]),
    "CloseHandle": (BOOL, [HANDLE]),
    "LocalFree": (HLOCAL, [HLOCAL]),
})

advapi32 = Library("advapi32", {
    "OpenProcessToken": (BOOL, [HANDLE, DWORD, PHANDLE]),
    "GetTokenInformation": (BOOL, [HANDLE, ctypes.c_int, LPVOID, DWORD, LPDWORD]),
    "ConvertSidToStringSidW": (BOOL, [PSID, ctypes.POINTER(LPWSTR)]),
    "ConvertStringSecurityDescriptorToSecurityDescriptorW":
        (BOOL, [LPCWSTR, DWORD, ctypes.POINTER(PSECURITY_DESCRIPTOR), LPDWORD]),
    "ConvertSecurityDescriptorToStringSecurityDescriptorW":
        (BOOL, [PSECURITY_DESCRIPTOR, DWORD, DWORD, ctypes.POINTER(LPWSTR), LPDWORD]),
    "SetFileSecurityW": (BOOL, [LPCWSTR, DWORD, PSECURITY_DESCRIPTOR]),
    # Returns a Win32 error code (0: success), not a BOOL.
    "GetNamedSecurityInfoW": (DWORD, [LPCWSTR, ctypes.c_int, DWORD, ctypes.POINTER(PSID), ctypes.POINTER(PSID),
                                      ctypes.POINTER(PACL), ctypes.POINTER(PACL),
                                      ctypes.POINTER(PSECURITY_DESCRIPTOR)]),
})

user32 = Library("user32", {
    "GetCursorInfo": (BOOL, [ctypes.POINTER(CURSORINFO)]),
})

LIBRARIES = (kernel32, advapi32, user32)
