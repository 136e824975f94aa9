"""The Win32 functions recorder calls through ctypes, each declared once with its
argument and result types: one table per DLL.

Undeclared, ctypes passes and returns C ints: a HANDLE or a pointer (64 bits on
win_amd64) comes back cut to 32 bits and the next call gets an invalid handle. So
a ``Library`` hands out only the functions of its table, typed; anything else is
an AttributeError, never a silent int.

Adding a function: a line in its DLL's table, ``"Name": (restype, [argtypes])``,
with the types of the Windows headers (handles and pointers are ``HANDLE`` /
``c_void_p``, never an int). Adding a DLL: ``comctl32 = Library("comctl32", {...})``
below, and in ``LIBRARIES``. Then call the new function once in
tests/windows/test_win32_api.py, which runs under Wine and fails while a declared
function has no call there (or, for one that shows a window or makes a pipe, no
entry in its ``EXERCISED_ELSEWHERE`` naming the test that calls it). The structures
and callback types these functions take are defined here too, once.

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


LRESULT = ctypes.c_ssize_t  # pointer-sized, signed
H, U, B, I = wintypes.HWND, wintypes.UINT, wintypes.BOOL, ctypes.c_int  # the tables' commonest types

# Callbacks Windows calls are __stdcall (WINFUNCTYPE), which ctypes has on Windows only;
# elsewhere CFUNCTYPE stands in so that this module and its structures import anywhere.
if sys.platform == "win32":
    FUNCTYPE = ctypes.WINFUNCTYPE
else:
    FUNCTYPE = ctypes.CFUNCTYPE
WNDPROC = FUNCTYPE(LRESULT, H, U, wintypes.WPARAM, wintypes.LPARAM)
WNDENUMPROC = FUNCTYPE(B, H, wintypes.LPARAM)
HANDLER = FUNCTYPE(B, DWORD)  # a console control handler (SetConsoleCtrlHandler)
BFFCALLBACK = FUNCTYPE(I, H, U, wintypes.LPARAM, wintypes.LPARAM)  # SHBrowseForFolderW's
MSG, RECT = wintypes.MSG, wintypes.RECT


class POINT(ctypes.Structure):
    _fields_ = [("x", wintypes.LONG), ("y", wintypes.LONG)]


class CURSORINFO(ctypes.Structure):  # winuser.h
    _fields_ = [("cbSize", DWORD), ("flags", DWORD), ("hCursor", HANDLE), ("ptScreenPos", POINT)]


class SECURITY_ATTRIBUTES(ctypes.Structure):
    _fields_ = [("nLength", DWORD), ("lpSecurityDescriptor", ctypes.c_void_p), ("bInheritHandle", BOOL)]


class WNDCLASSW(ctypes.Structure):
    _fields_ = [("style", U), ("lpfnWndProc", WNDPROC), ("cbClsExtra", I), ("cbWndExtra", I),
                ("hInstance", wintypes.HINSTANCE), ("hIcon", wintypes.HICON), ("hCursor", HANDLE),
                ("hbrBackground", wintypes.HBRUSH), ("lpszMenuName", LPCWSTR), ("lpszClassName", LPCWSTR)]


class WNDCLASSEXW(ctypes.Structure):
    _fields_ = [("cbSize", U), ("style", U), ("lpfnWndProc", WNDPROC), ("cbClsExtra", I), ("cbWndExtra", I),
                ("hInstance", wintypes.HINSTANCE), ("hIcon", wintypes.HICON), ("hCursor", HANDLE),
                ("hbrBackground", wintypes.HBRUSH), ("lpszMenuName", LPCWSTR), ("lpszClassName", LPCWSTR),
                ("hIconSm", wintypes.HICON)]


class PAINTSTRUCT(ctypes.Structure):
    _fields_ = [("hdc", wintypes.HDC), ("fErase", B), ("rcPaint", RECT), ("fRestore", B), ("fIncUpdate", B),
                ("rgbReserved", ctypes.c_byte * 32)]


class BROWSEINFOW(ctypes.Structure):
    _fields_ = [("hwndOwner", H), ("pidlRoot", ctypes.c_void_p), ("pszDisplayName", LPWSTR),
                ("lpszTitle", LPCWSTR), ("ulFlags", U), ("lpfn", BFFCALLBACK), ("lParam", wintypes.LPARAM),
                ("iImage", I)]


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
    "GetTickCount64": (ctypes.c_ulonglong, []),  # 64 bits: GetTickCount wraps after 49 days
    "CreateNamedPipeW": (HANDLE, [LPCWSTR, DWORD, DWORD, DWORD, DWORD, DWORD, DWORD,
                                  ctypes.POINTER(SECURITY_ATTRIBUTES)]),
    "CreateEventW": (HANDLE, [LPVOID, BOOL, BOOL, LPCWSTR]),
    "SetEvent": (BOOL, [HANDLE]),
    "GetModuleHandleW": (wintypes.HMODULE, [LPCWSTR]),
    "SetConsoleCtrlHandler": (BOOL, [HANDLER, BOOL]),
    "GetCurrentThreadId": (DWORD, []),
    "GetConsoleMode": (BOOL, [HANDLE, LPDWORD]),
    "QueryFullProcessImageNameW": (BOOL, [HANDLE, DWORD, LPWSTR, LPDWORD]),  # the window in front's program
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
    # These two return a Win32 error code (0: success), not a BOOL.
    "GetNamedSecurityInfoW": (DWORD, [LPCWSTR, ctypes.c_int, DWORD, ctypes.POINTER(PSID), ctypes.POINTER(PSID),
                                      ctypes.POINTER(PACL), ctypes.POINTER(PACL),
                                      ctypes.POINTER(PSECURITY_DESCRIPTOR)]),
    "GetSecurityInfo": (DWORD, [HANDLE, ctypes.c_int, DWORD, ctypes.POINTER(PSID), ctypes.POINTER(PSID),
                                ctypes.POINTER(PACL), ctypes.POINTER(PACL), ctypes.POINTER(PSECURITY_DESCRIPTOR)]),
})

user32 = Library("user32", {
    "GetCursorInfo": (BOOL, [ctypes.POINTER(CURSORINFO)]),
    # windows, their classes and their message loops
    "RegisterClassW": (wintypes.ATOM, [ctypes.POINTER(WNDCLASSW)]),
    "RegisterClassExW": (wintypes.ATOM, [ctypes.POINTER(WNDCLASSEXW)]),
    "UnregisterClassW": (B, [LPCWSTR, wintypes.HINSTANCE]),
    "CreateWindowExW": (H, [DWORD, LPCWSTR, LPCWSTR, DWORD, I, I, I, I, H, wintypes.HMENU, wintypes.HINSTANCE,
                            LPVOID]),
    "DestroyWindow": (B, [H]),
    "DefWindowProcW": (LRESULT, [H, U, wintypes.WPARAM, wintypes.LPARAM]),
    "GetMessageW": (B, [ctypes.POINTER(MSG), H, U, U]),
    "TranslateMessage": (B, [ctypes.POINTER(MSG)]),
    "DispatchMessageW": (LRESULT, [ctypes.POINTER(MSG)]),
    "PostMessageW": (B, [H, U, wintypes.WPARAM, wintypes.LPARAM]),
    "SendMessageW": (LRESULT, [H, U, wintypes.WPARAM, wintypes.LPARAM]),
    "PostQuitMessage": (None, [I]),
    "ShutdownBlockReasonCreate": (B, [H, LPCWSTR]),
    "ShutdownBlockReasonDestroy": (B, [H]),
    # showing and painting (the indicator)
    "ShowWindow": (B, [H, I]),
    "SetWindowPos": (B, [H, H, I, I, I, I, U]),
    "SetLayeredWindowAttributes": (B, [H, wintypes.COLORREF, wintypes.BYTE, DWORD]),
    "BeginPaint": (wintypes.HDC, [H, ctypes.POINTER(PAINTSTRUCT)]),
    "EndPaint": (B, [H, ctypes.POINTER(PAINTSTRUCT)]),
    "InvalidateRect": (B, [H, ctypes.POINTER(RECT), B]),
    "UpdateWindow": (B, [H]),
    "SetTimer": (ctypes.c_size_t, [H, ctypes.c_size_t, U, LPVOID]),
    "GetSystemMetrics": (I, [I]),
    # other programs' windows (the masks, the consent box)
    "EnumWindows": (B, [WNDENUMPROC, wintypes.LPARAM]),
    "EnumThreadWindows": (B, [DWORD, WNDENUMPROC, wintypes.LPARAM]),
    "IsWindowVisible": (B, [H]),
    "IsIconic": (B, [H]),
    "GetWindowTextW": (I, [H, LPWSTR, I]),
    "GetClassNameW": (I, [H, LPWSTR, I]),
    "GetWindowRect": (B, [H, ctypes.POINTER(RECT)]),
    "MessageBoxW": (I, [H, LPCWSTR, LPCWSTR, U]),
    # the window in front (window events)
    "GetForegroundWindow": (H, []),
    "GetWindowThreadProcessId": (DWORD, [H, LPDWORD]),
})

gdi32 = Library("gdi32", {
    "CreateSolidBrush": (wintypes.HBRUSH, [wintypes.COLORREF]),
    "DeleteObject": (B, [wintypes.HGDIOBJ]),
    "GetStockObject": (wintypes.HGDIOBJ, [I]),
    "SelectObject": (wintypes.HGDIOBJ, [wintypes.HDC, wintypes.HGDIOBJ]),
    "Ellipse": (B, [wintypes.HDC, I, I, I, I]),
    "SetTextColor": (wintypes.COLORREF, [wintypes.HDC, wintypes.COLORREF]),
    "SetBkMode": (I, [wintypes.HDC, I]),
    "TextOutW": (B, [wintypes.HDC, I, I, LPCWSTR, I]),
})

shell32 = Library("shell32", {
    "SHBrowseForFolderW": (LPVOID, [ctypes.POINTER(BROWSEINFOW)]),
    "SHGetPathFromIDListW": (B, [LPVOID, LPWSTR]),
})

ole32 = Library("ole32", {
    "OleInitialize": (ctypes.c_long, [LPVOID]),  # an HRESULT, read as such: S_FALSE is success too
    "OleUninitialize": (None, []),
    "CoTaskMemFree": (None, [LPVOID]),
})

LIBRARIES = (kernel32, advapi32, user32, gdi32, shell32, ole32)
