"""The control pipe's Win32 edge: pipe instances that only their user can open.

multiprocessing.connection's Listener creates its pipes with the default security
descriptor (which lets every local account read them) and cannot say
PIPE_REJECT_REMOTE_CLIENTS, so the instances are created here with CreateNamedPipeW;
what is done with a connected instance (overlapped reads and writes, the HMAC
handshake) stays the standard library's (``_winapi``, ``multiprocessing.connection``).

Every foreign function is declared once, with its argument and result types, in
``recorder.platform.win32``: a handle is a pointer-wide ``HANDLE``, never an int cut
to 32 bits. The SID of the pipe's user is the platform's (``windows.user_sid``).
"""

from __future__ import annotations

import sys

if sys.platform != "win32":  # before anything Windows-only: type checkers skip the rest elsewhere
    raise ImportError("recorder.control.win32_pipe is Windows-only")

import _winapi
import ctypes
import time
from ctypes import wintypes
from multiprocessing import connection as mpc

from recorder.platform.win32 import SECURITY_ATTRIBUTES, advapi32, kernel32, take_string

PIPE_ACCESS_DUPLEX = 0x3
FILE_FLAG_FIRST_PIPE_INSTANCE = 0x00080000
FILE_FLAG_OVERLAPPED = 0x40000000
PIPE_TYPE_MESSAGE, PIPE_READMODE_MESSAGE, PIPE_REJECT_REMOTE_CLIENTS = 0x4, 0x2, 0x8
PIPE_UNLIMITED_INSTANCES = 255
BUFFER_SIZE = 64 * 1024
GENERIC_READ, GENERIC_WRITE, READ_CONTROL = 0x80000000, 0x40000000, 0x00020000
OPEN_EXISTING = 3
# The client tells the server it may identify it but never act as it: a process that
# took the pipe's name first could otherwise impersonate the user who connects.
SECURITY_SQOS_PRESENT, SECURITY_IDENTIFICATION = 0x00100000, 0x00010000
ERROR_FILE_NOT_FOUND, ERROR_PIPE_BUSY, ERROR_SEM_TIMEOUT = 2, 231, 121
OWNER_SECURITY_INFORMATION, DACL_SECURITY_INFORMATION = 0x1, 0x4
SE_KERNEL_OBJECT, SDDL_REVISION_1 = 6, 1
INFINITE, WAIT_OBJECT_0 = 0xFFFFFFFF, 0


def _check(ok: object, what: str) -> None:
    if not ok:
        code = ctypes.get_last_error()
        raise ctypes.WinError(code, f"{what} failed: {ctypes.FormatError(code)}")


def owner_only_sddl(sid: str) -> str:
    """A protected DACL (nothing inherited) with full access for the user and SYSTEM only:
    no Everyone, no Anonymous Logon, no other account on the machine."""
    return f"D:P(A;;GA;;;{sid})(A;;GA;;;SY)"


class SecurityDescriptor:
    """A self-relative security descriptor built from SDDL, alive as long as this object."""

    def __init__(self, sddl: str):
        self.pointer = ctypes.c_void_p()
        _check(advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl, SDDL_REVISION_1, ctypes.byref(self.pointer), None),
            "ConvertStringSecurityDescriptorToSecurityDescriptorW")
        self.attributes = SECURITY_ATTRIBUTES(ctypes.sizeof(SECURITY_ATTRIBUTES), self.pointer, False)

    def free(self) -> None:
        if self.pointer:
            kernel32.LocalFree(self.pointer)
            self.pointer = ctypes.c_void_p()


def create_instance(address: str, security: SecurityDescriptor, *, first: bool) -> int:
    """One more instance of the pipe at ``address``, overlapped, message mode, local clients only.
    The first one claims the name: if another process holds it already, this fails (access
    denied) rather than joining that process's pipe."""
    flags = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | (FILE_FLAG_FIRST_PIPE_INSTANCE if first else 0)
    handle = kernel32.CreateNamedPipeW(address, flags, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE
                                       | PIPE_REJECT_REMOTE_CLIENTS, PIPE_UNLIMITED_INSTANCES,
                                       BUFFER_SIZE, BUFFER_SIZE, 0, ctypes.byref(security.attributes))
    if handle is None or handle == _winapi.INVALID_HANDLE_VALUE:
        code = ctypes.get_last_error()
        raise ctypes.WinError(code, f"{address}: cannot create the pipe: {ctypes.FormatError(code)}")
    return handle


class Event:
    """A manual-reset Windows event: what the accept loop waits on beside a connection."""

    def __init__(self) -> None:
        self.handle = kernel32.CreateEventW(None, True, False, None)
        _check(self.handle, "CreateEventW")

    def set(self) -> None:
        kernel32.SetEvent(self.handle)

    def close(self) -> None:
        kernel32.CloseHandle(self.handle)


def wait_for_client(handle: int, stop: Event) -> bool:
    """Wait until a client connects to the instance ``handle`` (True) or ``stop`` is set
    (False). OSError when the client went away before it could be served."""
    overlapped = _winapi.ConnectNamedPipe(handle, overlapped=True)
    which = _winapi.WaitForMultipleObjects([overlapped.event, stop.handle], False, INFINITE)
    if which != WAIT_OBJECT_0:
        overlapped.cancel()
        overlapped.GetOverlappedResult(True)
        return False
    _, error = overlapped.GetOverlappedResult(True)
    if error:
        raise OSError(0, f"the client went away (winerror {error})", None, error)
    return True


def open_client(address: str, wait: float) -> mpc.PipeConnection:
    """The client's end of ``address``, waiting up to ``wait`` seconds while every
    instance is busy. FileNotFoundError when no such pipe exists."""
    deadline = time.monotonic() + wait
    while True:
        try:
            handle = _winapi.CreateFile(address, GENERIC_READ | GENERIC_WRITE, 0, _winapi.NULL, OPEN_EXISTING,
                                        FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION,
                                        _winapi.NULL)
            break
        except OSError as exc:
            if exc.winerror == ERROR_FILE_NOT_FOUND:
                raise FileNotFoundError(exc.errno, f"{address}: no such pipe") from None
            left = deadline - time.monotonic()
            if exc.winerror != ERROR_PIPE_BUSY or left <= 0:
                raise
        try:  # every instance is taken: the recorder makes the next one at once
            _winapi.WaitNamedPipe(address, max(1, int(left * 1000)))
        except OSError as exc:
            if exc.winerror not in (ERROR_SEM_TIMEOUT, ERROR_FILE_NOT_FOUND):
                raise
    _winapi.SetNamedPipeHandleState(handle, PIPE_READMODE_MESSAGE, None, None)
    return mpc.PipeConnection(handle)


def security_of(handle: int) -> str:
    """The owner and DACL of the kernel object ``handle`` (a pipe's either end), as SDDL."""
    which = OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION
    descriptor = ctypes.c_void_p()
    status = advapi32.GetSecurityInfo(handle, SE_KERNEL_OBJECT, which, None, None, None, None,
                                      ctypes.byref(descriptor))
    if status:
        raise ctypes.WinError(status, f"GetSecurityInfo failed: {ctypes.FormatError(status)}")
    try:
        text = wintypes.LPWSTR()
        _check(advapi32.ConvertSecurityDescriptorToStringSecurityDescriptorW(
            descriptor, SDDL_REVISION_1, which, ctypes.byref(text), None),
            "ConvertSecurityDescriptorToStringSecurityDescriptorW")
        return take_string(text)
    finally:
        kernel32.LocalFree(descriptor)
