"""Windows: FlushFileBuffers through a write handle, process liveness without a
signal, owner-only DACLs, the site policy's owner, OneDrive.

The Win32 calls are made in four edge functions (``user_sid``, ``get_sddl``,
``set_sddl``, ``process_alive``) through the declared tables of
``recorder.platform.win32``; the rest is logic over SDDL text that the Linux
simulation (tests/foreign_os.py) runs with those edges replaced.
"""

from __future__ import annotations

import ctypes
import errno
import os
from ctypes import wintypes
from pathlib import Path

from recorder.platform.files import is_under
from recorder.platform.sddl import ADMIN_SIDS, owner_only_sddl, sddl_writers
from recorder.platform.win32 import advapi32, check, kernel32, last_error, take_string

STILL_ACTIVE = 259
PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
ERROR_ACCESS_DENIED = 5
TOKEN_QUERY, TOKEN_USER = 0x8, 1
OWNER_SECURITY_INFORMATION, DACL_SECURITY_INFORMATION = 0x1, 0x4
PROTECTED_DACL_SECURITY_INFORMATION = 0x80000000
SE_FILE_OBJECT, SDDL_REVISION_1 = 1, 1  # GetNamedSecurityInfoW's object type; SDDL's only revision


# -- files --------------------------------------------------------------------------

def fsync(fd: int) -> None:
    os.fsync(fd)  # FlushFileBuffers: ``fd`` must have been opened for writing


def sync_flags() -> int:
    return os.O_RDWR  # write access for FlushFileBuffers, read access for the rescue copy


def fsync_folder(folder: str) -> None:
    """Nothing: a folder cannot be opened with os.open (EACCES), and NTFS journals
    renames and new files itself."""


def cloud_synced(folder: Path, resolved: Path) -> str | None:
    """OneDrive's folder redirection ("back up" Documents) moves folders under
    %OneDrive% (or %OneDriveCommercial% / %OneDriveConsumer%)."""
    for variable in ("OneDrive", "OneDriveCommercial", "OneDriveConsumer"):
        root = os.environ.get(variable)
        if root and is_under(resolved, Path(root)):
            return f"OneDrive (%{variable}%)"
    return None


# -- processes ----------------------------------------------------------------------

def no_core_dumps() -> None:
    """Nothing: Windows writes no core file; a crash dump is made only where Windows Error
    Reporting's LocalDumps are configured for the machine (an administrator's choice)."""


def can_signal_for_control() -> bool:
    """No: os.kill is TerminateProcess here (no sealing, and maybe a stale pid reused
    by someone else's process); control goes through the channel only."""
    return False


def process_alive(pid: int) -> bool:
    """OpenProcess + GetExitCodeProcess: os.kill(pid, 0) would send CTRL_C_EVENT to a
    console group or terminate the process."""
    handle = kernel32.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        return last_error() == ERROR_ACCESS_DENIED  # someone else's process: it exists
    try:
        code = wintypes.DWORD()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return False
        return code.value == STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


# -- permissions --------------------------------------------------------------------

def make_owner_only(path: str, *, folder: bool) -> None:
    """chmod only toggles the read-only flag and a new folder inherits its parent's
    ACL: an explicit, protected DACL instead (``owner_only_sddl``)."""
    set_sddl(path, owner_only_sddl(user_sid()))


def writable_by_others(path: Path) -> str | None:
    """From ``path``'s owner and DACL (``sddl_writers``)."""
    user = user_sid()
    owner, writers = sddl_writers(get_sddl(os.fspath(path)), trusted={user, *ADMIN_SIDS})
    if owner not in (user, *ADMIN_SIDS):
        return f"{path} belongs to another user"
    return f"{path} can be written by other users ({', '.join(writers)})" if writers else None


def admin_only(place: Path) -> str | None:
    """Owned by Administrators or SYSTEM, and nobody else may write or create files
    there (C:\\ProgramData lets every user create files: a user could plant a policy)."""
    owner, writers = sddl_writers(get_sddl(os.fspath(place)), trusted=set(ADMIN_SIDS))
    if owner not in ADMIN_SIDS:
        return f"{place} does not belong to Administrators or SYSTEM"
    if writers:
        return f"{place} can be written by users who are not administrators ({', '.join(writers)})"
    return None


# -- the Win32 edges ----------------------------------------------------------------

def user_sid() -> str:
    """The SID of the user this process runs as (its token's TokenUser), as text."""
    token = wintypes.HANDLE()
    check(advapi32.OpenProcessToken(kernel32.GetCurrentProcess(), TOKEN_QUERY, ctypes.byref(token)),
          "OpenProcessToken")
    try:
        size = wintypes.DWORD()
        advapi32.GetTokenInformation(token, TOKEN_USER, None, 0, ctypes.byref(size))  # asks the size
        buffer = ctypes.create_string_buffer(size.value)
        check(advapi32.GetTokenInformation(token, TOKEN_USER, buffer, size, ctypes.byref(size)),
              "GetTokenInformation")
        sid = ctypes.cast(buffer, ctypes.POINTER(ctypes.c_void_p))[0]  # TOKEN_USER.User.Sid
        text = wintypes.LPWSTR()
        check(advapi32.ConvertSidToStringSidW(sid, ctypes.byref(text)), "ConvertSidToStringSidW")
        return take_string(text)
    finally:
        kernel32.CloseHandle(token)


def set_sddl(path: str, sddl: str) -> None:
    """Give ``path`` the DACL of ``sddl``, protected from inheritance. SetFileSecurityW
    applies the descriptor to this one object; SetNamedSecurityInfoW would also walk
    what the folder holds (nothing, for a folder just made), and under Wine 8 it
    reports success and changes nothing (docs/platforms.md)."""
    descriptor = ctypes.c_void_p()
    check(advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW(
        sddl, SDDL_REVISION_1, ctypes.byref(descriptor), None), "ConvertStringSecurityDescriptorToSecurityDescriptorW")
    try:
        if not advapi32.SetFileSecurityW(path, DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                                         descriptor):
            raise OSError(errno.EACCES, f"{path}: cannot make it private (SetFileSecurityW: winerror {last_error()})")
    finally:
        kernel32.LocalFree(descriptor)


def get_sddl(path: str) -> str:
    """``path``'s owner and DACL as SDDL text."""
    which = OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION
    descriptor = ctypes.c_void_p()
    status = advapi32.GetNamedSecurityInfoW(path, SE_FILE_OBJECT, which, None, None, None, None,
                                            ctypes.byref(descriptor))
    if status:
        raise OSError(errno.EACCES, f"{path}: cannot read its permissions (winerror {status})")
    try:
        text = wintypes.LPWSTR()
        check(advapi32.ConvertSecurityDescriptorToStringSecurityDescriptorW(
            descriptor, SDDL_REVISION_1, which, ctypes.byref(text), None), "ConvertSecurityDescriptorToString")
        return take_string(text)
    finally:
        kernel32.LocalFree(descriptor)
