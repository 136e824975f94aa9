"""The dialog prompts on Windows, through Windows' own dialogs: python.org's embeddable
CPython (what the Windows bundle ships) has no tkinter, and a customer recognises a
Windows message box for what it is.

Consent is a MessageBoxW with Yes and No, No the default: Enter never agrees, and
Escape and the close box do nothing in a Yes/No box, so only a click on Yes (or Alt+Y)
allows. It runs on a thread of its own; when the time is up recorder answers No in
the box's place and reports "no answer". The save location is SHBrowseForFolderW
(the new-style folder picker, which can make a folder), opened at the default.

Every function is declared once, with its types, in ``recorder.platform.win32``.
"""

from __future__ import annotations

import sys

if sys.platform != "win32":  # before anything Windows-only: type checkers skip the rest elsewhere
    raise ImportError("recorder.plugins.dialog_prompt_win32 is Windows-only")

import ctypes
import msvcrt
import threading
import time
from ctypes import wintypes

from recorder.platform import win32

MB_OK, MB_YESNO, MB_ICONWARNING, MB_ICONQUESTION = 0x0, 0x4, 0x30, 0x20
MB_DEFBUTTON2, MB_SETFOREGROUND, MB_TOPMOST = 0x100, 0x10000, 0x40000
IDYES, IDNO = 6, 7
WM_COMMAND, WM_USER = 0x111, 0x400
BFFM_INITIALIZED, BFFM_SETSELECTIONW = 1, WM_USER + 103
BIF_RETURNONLYFSDIRS, BIF_NEWDIALOGSTYLE = 0x1, 0x40
MAX_PATH = 260  # SHGetPathFromIDListW's buffer: it writes at most this many characters

user32, kernel32, shell32, ole32 = win32.user32, win32.kernel32, win32.shell32, win32.ole32
BFFCALLBACK, WNDENUMPROC, BROWSEINFOW = win32.BFFCALLBACK, win32.WNDENUMPROC, win32.BROWSEINFOW


def stdin_is_console() -> bool:
    """Whether someone can type answers: stdin is a console. isatty() is no test on
    Windows: it is true of NUL, which a support tool gives the recorder it starts."""
    try:
        handle = msvcrt.get_osfhandle(sys.stdin.fileno())
    except (OSError, ValueError, AttributeError):  # no stdin at all (pythonw), or closed
        return False
    return bool(kernel32.GetConsoleMode(handle, ctypes.byref(wintypes.DWORD())))


class Unavailable(Exception):
    """Windows could not show the dialog (no desktop to show it on)."""


def ask_consent(title: str, question: str, timeout: float) -> str:
    """"yes", "no" or "no-answer" (``timeout`` seconds passed)."""
    text = f"{question}\n\nYes: allow recording.    No: do not record."
    box: dict = {}

    def run() -> None:
        box["thread"] = kernel32.GetCurrentThreadId()
        box["answer"] = user32.MessageBoxW(None, text, title, MB_YESNO | MB_ICONQUESTION | MB_DEFBUTTON2
                                           | MB_TOPMOST | MB_SETFOREGROUND)
        box["error"] = ctypes.get_last_error()

    thread = threading.Thread(target=run, name="recorder-consent", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while thread.is_alive() and time.monotonic() < deadline:
        thread.join(0.1)  # short waits: Ctrl-C is seen between them
    if thread.is_alive():
        _answer_no(box["thread"])  # the box goes; no answer is not a no from the person
        thread.join(5)
        return "no-answer"
    if box["answer"] == 0:
        raise Unavailable(f"MessageBoxW failed (winerror {box['error']})")
    return "yes" if box["answer"] == IDYES else "no"


def _answer_no(thread_id: int) -> None:
    def close(hwnd, _):
        user32.PostMessageW(hwnd, WM_COMMAND, IDNO, 0)
        return True

    user32.EnumThreadWindows(thread_id, WNDENUMPROC(close), 0)


def warn(title: str, text: str) -> None:
    user32.MessageBoxW(None, text, title, MB_OK | MB_ICONWARNING | MB_TOPMOST | MB_SETFOREGROUND)


def ask_folder(title: str, start: str) -> str | None:
    """The folder the person picked, or None if they cancelled. Runs on a thread of its
    own: the picker needs OLE initialised (single-threaded apartment) where it runs."""
    result: dict = {}
    thread = threading.Thread(target=_browse, args=(title, start, result), name="recorder-save-dialog", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.1)
    if "error" in result:
        raise Unavailable(result["error"])
    return result.get("path")


def _browse(title: str, start: str, result: dict) -> None:
    initial = ctypes.create_unicode_buffer(start)

    def opened(hwnd, message, lparam, data):
        if message == BFFM_INITIALIZED:  # open at the default, not at the desktop
            user32.SendMessageW(hwnd, BFFM_SETSELECTIONW, True, ctypes.cast(initial, ctypes.c_void_p).value or 0)
        return 0

    callback = BFFCALLBACK(opened)
    status = ole32.OleInitialize(None)
    try:
        name = ctypes.create_unicode_buffer(260)
        info = BROWSEINFOW(hwndOwner=None, pszDisplayName=ctypes.cast(name, wintypes.LPWSTR), lpszTitle=title,
                           ulFlags=BIF_RETURNONLYFSDIRS | BIF_NEWDIALOGSTYLE, lpfn=callback)
        pidl = shell32.SHBrowseForFolderW(ctypes.byref(info))
        if not pidl:
            return  # cancelled
        try:
            path = ctypes.create_unicode_buffer(MAX_PATH)
            if not shell32.SHGetPathFromIDListW(pidl, path):
                result["error"] = "the chosen place is not a folder on disk"
                return
            result["path"] = path.value
        finally:
            ole32.CoTaskMemFree(pidl)
    except Exception as exc:  # reported on the asking thread: another prompt asks instead
        result["error"] = f"the folder picker failed: {exc}"
    finally:
        if status >= 0:
            ole32.OleUninitialize()
