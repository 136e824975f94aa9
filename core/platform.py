"""The operating system, in one place: every call whose behaviour differs between
Linux, macOS and Windows goes through a function here, named after what it does
and documented with the behaviour it covers on each system.

Checks are made at call time (``sys.platform``, ``hasattr(os, ...)``), never at
import time, so that tests can give Linux another system's semantics
(tests/foreign_os.py) and the code under test takes the foreign path.
"""

from __future__ import annotations

import contextlib
import errno
import getpass
import os
import re
import sys
import time
from pathlib import Path
from typing import IO, Any, Iterator

import filelock

UTF8 = "utf-8"
FILE_MODE = 0o600
DIR_MODE = 0o700
# Windows: ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION: another
# handle (antivirus, the search indexer, OneDrive, `recorder list`) has the file open.
SHARING_VIOLATIONS = frozenset({5, 32, 33})
REPLACE_ATTEMPTS = 20
REPLACE_DELAY = 0.05  # seconds, doubled up to REPLACE_MAX_DELAY: about 5 s in all
REPLACE_MAX_DELAY = 0.5


def is_windows() -> bool:
    return sys.platform == "win32"


def is_macos() -> bool:
    return sys.platform == "darwin"


# -- opening files ------------------------------------------------------------------

def binary_flags(flags: int) -> int:
    """``flags`` for an ``os.open`` of bytes. Windows opens in text mode unless O_BINARY
    is given (a CRLF for every LF written, a read stopping at ^Z): a copied part would
    fail its hash. O_BINARY exists only on Windows; elsewhere this adds nothing."""
    return flags | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOINHERIT", 0)


def nofollow(flags: int) -> int:
    """``flags`` refusing to open through a symlink (O_NOFOLLOW on POSIX). Windows has
    no O_NOFOLLOW; creating symlinks there needs a privilege ordinary users lack."""
    return flags | getattr(os, "O_NOFOLLOW", 0)


def open_binary(path: str | os.PathLike, flags: int, mode: int = FILE_MODE) -> int:
    """``os.open`` of a file of bytes, never in Windows' text mode (see ``binary_flags``)."""
    return os.open(path, binary_flags(flags), mode)


def open_text(path: str | os.PathLike, mode: str = "r", **kwargs: Any) -> IO[str]:
    """A text file, always UTF-8: the locale's encoding is cp1252 on many Windows
    machines and would fail on (or silently change) anything outside it."""
    return open(path, mode, encoding=UTF8, **kwargs)


def read_text(path: Path) -> str:
    """``path``'s text as UTF-8, whatever the locale (see ``open_text``)."""
    return path.read_text(encoding=UTF8)


# -- durability ---------------------------------------------------------------------

def fsync(fd: int) -> None:
    """Flush ``fd``'s file to the drive. macOS: plain fsync only reaches the drive's
    cache, F_FULLFSYNC flushes it (some filesystems refuse it: then fsync). Windows:
    fsync is FlushFileBuffers, which needs a handle opened for writing; ``fd`` must be
    one there (see ``sync_handle``)."""
    if sys.platform == "darwin":
        import fcntl  # present on macOS; imported here so that Windows never needs it

        try:
            fcntl.fcntl(fd, fcntl.F_FULLFSYNC)
            return
        except OSError:
            pass  # a filesystem without it (SMB, some FUSE): plain fsync
    os.fsync(fd)


def sync_handle(path: str | os.PathLike) -> int:
    """A descriptor of ``path`` that ``fsync`` can flush: read-only is enough on POSIX
    (fsync through any descriptor flushes the file), Windows needs write access."""
    flags = os.O_WRONLY if is_windows() else os.O_RDONLY
    return os.open(path, binary_flags(nofollow(flags)))


def fsync_folder(folder: str | os.PathLike) -> None:
    """Make a rename or a new file in ``folder`` durable. POSIX: fsync of the folder
    (F_FULLFSYNC on macOS). Windows: a folder cannot be opened with os.open (EACCES)
    and NTFS journals the rename itself, so nothing is done there."""
    if is_windows() or not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fsync(fd)
    finally:
        os.close(fd)


def replace(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """``os.replace`` that outlasts a moment of sharing: on Windows a rename onto (or
    of) a file another process holds open fails with a sharing violation (winerror
    5/32/33) until that handle closes; retried with backoff for about 5 s, then raised.
    POSIX renames never fail that way: one attempt."""
    _retry(os.replace, source, target)


def rename(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """``os.rename`` (refuses an existing target on Windows, replaces a file on POSIX)
    with the same retry on sharing violations as ``replace``."""
    _retry(os.rename, source, target)


def _retry(call, source, target) -> None:
    delay = REPLACE_DELAY
    for attempt in range(REPLACE_ATTEMPTS):
        try:
            call(source, target)
            return
        except PermissionError as exc:
            if getattr(exc, "winerror", None) not in SHARING_VIOLATIONS or attempt == REPLACE_ATTEMPTS - 1:
                raise
        time.sleep(delay)
        delay = min(delay * 2, REPLACE_MAX_DELAY)


def pread(fd: int, size: int, offset: int) -> bytes:
    """Read ``size`` bytes at ``offset`` without moving the file position on POSIX.
    Windows has no os.pread: seek and read there (the caller owns the descriptor)."""
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, size)


def pwrite(fd: int, data: bytes, offset: int) -> int:
    """Write ``data`` at ``offset`` (os.pwrite on POSIX; seek and write on Windows, which has none)."""
    if hasattr(os, "pwrite"):
        return os.pwrite(fd, data, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.write(fd, data)


def preallocate(fd: int, size: int) -> None:
    """Set ``size`` bytes aside for ``fd``'s file. Linux: posix_fallocate (real blocks,
    ENOSPC now rather than later). macOS and Windows have no posix_fallocate: the bytes
    are written as zeros in 1 MiB blocks (a truncate alone would make a sparse file and
    reserve nothing). Raises OSError only (ENOSPC when the disk is too full)."""
    allocate = getattr(os, "posix_fallocate", None)
    if allocate is not None:
        try:
            allocate(fd, 0, size)
            return
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOSYS):
                raise  # ENOSPC and the like: the answer. Unsupported filesystem: write zeros.
    block = b"\0" * min(size, 1 << 20)
    os.lseek(fd, 0, os.SEEK_SET)
    left = size
    while left > 0:
        left -= os.write(fd, block[:left])
    fsync(fd)


# -- processes ----------------------------------------------------------------------

def process_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs. POSIX: signal 0 probes without sending.
    Windows: os.kill(pid, 0) would send CTRL_C_EVENT to a console group or terminate
    the process; OpenProcess + GetExitCodeProcess asks instead."""
    if pid <= 0:
        return False
    if is_windows():
        return _windows_process_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


STILL_ACTIVE = 259
PROCESS_QUERY_LIMITED_INFORMATION = 0x1000


def _windows_process_alive(pid: int) -> bool:
    if sys.platform == "win32":  # an if, not an assert: type checkers skip it elsewhere
        import ctypes
        from ctypes import wintypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        handle = kernel32.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
        if not handle:
            return ctypes.get_last_error() == 5  # ERROR_ACCESS_DENIED: it exists
        try:
            code = wintypes.DWORD()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return False
            return code.value == STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    raise OSError(errno.ENOSYS, "a Windows API, called elsewhere")


def can_signal_for_control() -> bool:
    """Whether another process may be asked to stop by a signal. Windows: os.kill is
    TerminateProcess (no sealing, and maybe a stale pid reused by someone else's
    process): control goes through the channel only there."""
    return not is_windows()


def shutdown_signals() -> tuple[str, ...]:
    """The signals that mean the machine or the session is going away. SIGHUP exists
    only on POSIX; Windows delivers shutdown through a window message (the
    windows-shutdown guard) and SIGTERM only when raised in-process."""
    import signal

    return tuple(name for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


# -- locking ------------------------------------------------------------------------

def file_lock(path: str | os.PathLike) -> filelock.BaseFileLock:
    """An exclusive lock on ``path``, released by the system when the process dies,
    however it dies: flock on POSIX, LockFileEx (msvcrt.locking) on Windows, by the
    ``filelock`` library. Not reentrant across processes; ``acquire(timeout=0)`` does
    not wait."""
    return filelock.FileLock(os.fspath(path), mode=FILE_MODE, is_singleton=False)


@contextlib.contextmanager
def locked(path: str | os.PathLike, timeout: float = -1) -> Iterator[None]:
    """Hold ``file_lock(path)`` for the block (waiting for it unless ``timeout`` >= 0)."""
    with file_lock(path).acquire(timeout=timeout):
        yield


def lock_held(path: str | os.PathLike) -> bool:
    """Whether another process holds ``file_lock(path)`` now (tried without waiting)."""
    lock = file_lock(path)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        return True
    lock.release()
    return False


# -- permissions --------------------------------------------------------------------

def make_owner_only(path: str | os.PathLike, *, folder: bool) -> None:
    """Only the user may open ``path``. POSIX: mode 0700/0600. Windows: chmod only
    toggles the read-only flag and a new folder inherits its parent's ACL, so an
    explicit, protected (not inherited) DACL is set: full control for the user and
    SYSTEM (which backs up and indexes), nobody else (``owner_only_sddl``)."""
    if is_windows():
        _win_set_sddl(os.fspath(path), owner_only_sddl(_win_user_sid()))
    else:
        os.chmod(path, DIR_MODE if folder else FILE_MODE)


def writable_by_others(path: Path) -> str | None:
    """Why users other than this one (and the system) could plant files in ``path``, or
    None. POSIX: its owner and mode bits (a sticky folder is fine). Windows: its owner
    and DACL (``sddl_writers``)."""
    if sys.platform == "win32":
        user = _win_user_sid()
        owner, writers = sddl_writers(_win_get_sddl(os.fspath(path)), trusted={user, *ADMIN_SIDS})
        if owner not in (user, *ADMIN_SIDS):
            return f"{path} belongs to another user"
        return f"{path} can be written by other users ({', '.join(writers)})" if writers else None
    else:
        return _posix_writable_by_others(path)


def _posix_writable_by_others(path: Path) -> str | None:
    import stat

    if sys.platform != "win32":  # st_uid and modes are POSIX's; Windows goes by ACLs
        info = path.stat()
        if info.st_uid not in (os.getuid(), 0):
            return f"{path} belongs to another user"
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX:
            return f"{path} can be written by other users (mode {stat.S_IMODE(info.st_mode):04o})"
        return None
    return None


def admin_only(path: Path) -> str | None:
    """Why ``path`` (a site policy file) or its folder is not an administrator's alone,
    or None. POSIX: owned by root, not writable by group or others. Windows: owned by
    Administrators or SYSTEM, nobody else may write or create files there
    (C:\\ProgramData lets every user create files: a user could plant the policy)."""
    import stat

    for place in (path, path.parent):
        if is_windows():
            owner, writers = sddl_writers(_win_get_sddl(os.fspath(place)), trusted=set(ADMIN_SIDS))
            if owner not in ADMIN_SIDS:
                return f"{place} does not belong to Administrators or SYSTEM"
            if writers:
                return f"{place} can be written by users who are not administrators ({', '.join(writers)})"
            continue
        info = place.stat()  # POSIX: st_uid is the owner
        if info.st_uid != 0:
            return f"{place} does not belong to root"
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return f"{place} can be written by other users (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


# Windows security descriptors as SDDL text: built and read here as plain strings (so
# that the logic is tested on Linux), converted by advapi32 only at the edge.
# SYSTEM, Administrators, TrustedInstaller: accounts that own the machine anyway.
ADMIN_SIDS = ("S-1-5-18", "S-1-5-32-544",
              "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464")
SDDL_ALIASES = {"SY": "S-1-5-18", "BA": "S-1-5-32-544", "BU": "S-1-5-32-545", "WD": "S-1-1-0",
                "AU": "S-1-5-11", "CO": "S-1-3-0", "OW": "S-1-3-4", "IU": "S-1-5-4", "AN": "S-1-5-7",
                "BG": "S-1-5-32-546", "PU": "S-1-5-32-547"}
# Rights that let someone change what a folder holds or a file says: FILE_WRITE_DATA
# (ADD_FILE), FILE_APPEND_DATA (ADD_SUBDIRECTORY), FILE_DELETE_CHILD, DELETE, WRITE_DAC,
# WRITE_OWNER, GENERIC_WRITE, GENERIC_ALL.
WRITE_RIGHTS = 0x2 | 0x4 | 0x40 | 0x10000 | 0x40000 | 0x80000 | 0x40000000 | 0x10000000
SDDL_RIGHTS = {"GA": 0x10000000, "GW": 0x40000000, "GR": 0x80000000, "GX": 0x20000000,
               "FA": 0x1F01FF, "FW": 0x120116, "FR": 0x120089, "FX": 0x1200A0,
               "SD": 0x10000, "WD": 0x40000, "WO": 0x80000, "RC": 0x20000,
               "CC": 0x1, "DC": 0x2, "LC": 0x4, "SW": 0x8, "RP": 0x10, "WP": 0x20, "DT": 0x40,
               "LO": 0x80, "CR": 0x100}


def owner_only_sddl(user_sid: str) -> str:
    """The security descriptor of a private file or folder: a protected DACL (``P``: no
    ACE inherited from the parent) granting full control (``FA``) to the user and
    SYSTEM, inherited by what is created inside (``OICI``); nobody else has an ACE."""
    return f"D:P(A;OICI;FA;;;{user_sid})(A;OICI;FA;;;SY)"


def sddl_writers(sddl: str, trusted: set[str]) -> tuple[str | None, list[str]]:
    """(owner SID, SIDs outside ``trusted`` that an allow ACE gives a write right) of an
    SDDL string. Inherit-only ACEs (``IO``) do not apply to the object itself; deny ACEs
    take nothing away from the question "could someone write"."""
    owner_match = re.search(r"O:([^:()]+?)(?=[GDS]:|$)", sddl)
    owner = SDDL_ALIASES.get(owner_match.group(1), owner_match.group(1)) if owner_match else None
    dacl = sddl.split("D:", 1)[1] if "D:" in sddl else ""
    dacl = dacl.split("S:", 1)[0]
    writers = []
    for ace in re.findall(r"\(([^)]*)\)", dacl):
        fields = ace.split(";")
        if len(fields) < 6 or fields[0] not in ("A", "OA") or "IO" in fields[1]:
            continue
        sid = SDDL_ALIASES.get(fields[5], fields[5])
        if sid in trusted or not _sddl_mask(fields[2]) & WRITE_RIGHTS:
            continue
        writers.append(sid)
    return owner, writers


def _sddl_mask(rights: str) -> int:
    if rights.lower().startswith("0x"):
        return int(rights, 16)
    return sum(SDDL_RIGHTS.get(rights[i:i + 2], 0) for i in range(0, len(rights), 2))


def _advapi32() -> Any:
    if sys.platform == "win32":  # an if, not an assert: type checkers skip it elsewhere
        import ctypes

        return ctypes.WinDLL("advapi32", use_last_error=True)
    raise OSError(errno.ENOSYS, "a Windows API, called elsewhere")


def _win_check(ok: Any, what: str) -> None:
    if sys.platform == "win32":  # an if, not an assert: type checkers skip it elsewhere
        import ctypes

        if not ok:
            code = ctypes.get_last_error()
            raise OSError(errno.EACCES, f"{what} failed (winerror {code})")
        return
    raise OSError(errno.ENOSYS, "a Windows API, called elsewhere")


def _win_user_sid() -> str:
    """The SID of the user this process runs as (its token's TokenUser), as text."""
    if sys.platform == "win32":  # an if, not an assert: type checkers skip it elsewhere
        import ctypes
        from ctypes import wintypes

        advapi32, kernel32 = _advapi32(), ctypes.WinDLL("kernel32", use_last_error=True)
        token = wintypes.HANDLE()
        kernel32.GetCurrentProcess.restype = wintypes.HANDLE  # a 64-bit pseudo-handle, not an int
        _win_check(advapi32.OpenProcessToken(wintypes.HANDLE(kernel32.GetCurrentProcess()), 0x8, ctypes.byref(token)),
                   "OpenProcessToken")
        try:
            size = wintypes.DWORD()
            advapi32.GetTokenInformation(token, 1, None, 0, ctypes.byref(size))  # TokenUser: ask the size
            buffer = ctypes.create_string_buffer(size.value)
            _win_check(advapi32.GetTokenInformation(token, 1, buffer, size, ctypes.byref(size)), "GetTokenInformation")
            sid = ctypes.cast(buffer, ctypes.POINTER(ctypes.c_void_p))[0]  # TOKEN_USER.User.Sid
            text = wintypes.LPWSTR()
            _win_check(advapi32.ConvertSidToStringSidW(ctypes.c_void_p(sid), ctypes.byref(text)), "ConvertSidToStringSidW")
            return _win_take_string(kernel32, text)
        finally:
            kernel32.CloseHandle(token)
    raise OSError(errno.ENOSYS, "a Windows API, called elsewhere")


def _win_take_string(kernel32: Any, text: Any) -> str:
    """The value of a string Windows allocated for the caller, which it then frees (LocalFree)."""
    try:
        return text.value or ""
    finally:
        kernel32.LocalFree(text)


OWNER_SECURITY_INFORMATION, DACL_SECURITY_INFORMATION = 0x1, 0x4
PROTECTED_DACL_SECURITY_INFORMATION = 0x80000000
SE_FILE_OBJECT, SDDL_REVISION_1 = 1, 1


def _win_set_sddl(path: str, sddl: str) -> None:
    """Apply the DACL of ``sddl`` to ``path``, protected from inheritance."""
    if sys.platform == "win32":  # an if, not an assert: type checkers skip it elsewhere
        import ctypes
        from ctypes import wintypes

        advapi32, kernel32 = _advapi32(), ctypes.WinDLL("kernel32", use_last_error=True)
        descriptor = ctypes.c_void_p()
        _win_check(advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl, SDDL_REVISION_1, ctypes.byref(descriptor), None), "ConvertStringSecurityDescriptorToSecurityDescriptorW")
        try:
            present, defaulted, dacl = wintypes.BOOL(), wintypes.BOOL(), ctypes.c_void_p()
            _win_check(advapi32.GetSecurityDescriptorDacl(descriptor, ctypes.byref(present), ctypes.byref(dacl),
                                                          ctypes.byref(defaulted)), "GetSecurityDescriptorDacl")
            status = advapi32.SetNamedSecurityInfoW(path, SE_FILE_OBJECT,
                                                    DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                                                    None, None, dacl, None)
            if status:
                raise OSError(errno.EACCES, f"{path}: cannot make it private (SetNamedSecurityInfoW: winerror {status})")
        finally:
            kernel32.LocalFree(descriptor)
        return
    raise OSError(errno.ENOSYS, "a Windows API, called elsewhere")


def _win_get_sddl(path: str) -> str:
    """``path``'s owner and DACL as SDDL text."""
    if sys.platform == "win32":  # an if, not an assert: type checkers skip it elsewhere
        import ctypes
        from ctypes import wintypes

        advapi32, kernel32 = _advapi32(), ctypes.WinDLL("kernel32", use_last_error=True)
        which = OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION
        descriptor = ctypes.c_void_p()
        status = advapi32.GetNamedSecurityInfoW(path, SE_FILE_OBJECT, which, None, None, None, None,
                                                ctypes.byref(descriptor))
        if status:
            raise OSError(errno.EACCES, f"{path}: cannot read its permissions (winerror {status})")
        try:
            text = wintypes.LPWSTR()
            _win_check(advapi32.ConvertSecurityDescriptorToStringSecurityDescriptorW(
                descriptor, SDDL_REVISION_1, which, ctypes.byref(text), None), "ConvertSecurityDescriptorToString")
            return _win_take_string(kernel32, text)
        finally:
            kernel32.LocalFree(descriptor)
    raise OSError(errno.ENOSYS, "a Windows API, called elsewhere")


# -- names --------------------------------------------------------------------------

def user_name() -> str:
    """The login name, for per-user names such as the control pipe (no pwd on Windows)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return str(getattr(os, "getuid", lambda: "user")())


def pipe_name(profile: str) -> str:
    """The Windows named pipe of a profile's control channel (``\\\\.\\pipe\\recorder-USER-PROFILE``):
    Windows has no Unix sockets in Python, and a pipe's name is per machine, so the
    user is part of it; its ACL admits only that user."""
    user = re.sub(r"[^A-Za-z0-9_.-]", "_", user_name())
    return rf"\\.\pipe\recorder-{user}-{profile}"


def check_folder_name(name: str, what: str) -> str | None:
    """Why ``name`` cannot be a folder name on every system recorder runs on, or None:
    Windows refuses ``: * ? " < > |``, control characters, trailing dots and spaces and
    the device names (CON, NUL, COM1...); POSIX refuses ``/`` and NUL; macOS ``:``.
    Checked with pathvalidate for the universal platform."""
    from pathvalidate import ValidationError, validate_filename

    if name in (".", ".."):
        return f"{what}: {name!r} is not a folder name"
    try:
        validate_filename(name, platform="universal")
    except ValidationError as exc:
        return f"{what}: {name!r} cannot be a folder name on every system ({exc.reason.name.lower()})"
    return None


def safe_folder_name(name: str) -> str:
    """``name`` made valid on every system (see ``check_folder_name``), for names built
    from the support session's input: invalid characters become ``_``."""
    from pathvalidate import sanitize_filename

    return sanitize_filename(name, replacement_text="_", platform="universal") or "_"


def cloud_synced(folder: Path) -> str | None:
    """Which cloud service syncs ``folder`` to a third party, or None. Windows: OneDrive's
    folder redirection ("back up" Documents) moves it under %OneDrive% (or
    %OneDriveCommercial% / %OneDriveConsumer%). macOS: iCloud's "Desktop & Documents
    Folders" syncs ~/Documents through iCloud Drive (~/Library/Mobile Documents/com~apple~CloudDocs,
    which then holds a Documents folder), or Documents is a link into iCloud Drive."""
    try:
        resolved = folder.expanduser().resolve()
    except OSError:
        resolved = folder
    if is_windows():
        for variable in ("OneDrive", "OneDriveCommercial", "OneDriveConsumer"):
            root = os.environ.get(variable)
            if root and _under(resolved, Path(root)):
                return f"OneDrive (%{variable}%)"
        return None
    if is_macos():
        drive = Path.home() / "Library" / "Mobile Documents" / "com~apple~CloudDocs"
        if _under(resolved, drive):
            return "iCloud Drive"
        if (drive / folder.name).is_dir() and _under(resolved, Path.home()):
            return "iCloud Drive (Desktop & Documents Folders)"
    return None


def _under(path: Path, root: Path) -> bool:
    try:
        root = root.expanduser().resolve()
    except OSError:
        pass
    return os.path.normcase(str(path)) == os.path.normcase(str(root)) or \
        os.path.normcase(str(path)).startswith(os.path.normcase(str(root)).rstrip("\\/") + os.sep)


# OS metadata that Finder, Explorer and file sync write into any folder a user opens:
# never part of a session, never a reason to call one damaged or to keep it.
METADATA_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini", "Icon\r", ".localized", "ehthumbs.db"})


def is_os_metadata(name: str) -> bool:
    """Whether ``name`` is a file the OS or its file manager writes into folders:
    .DS_Store, Icon\\r, ._* AppleDouble (macOS), Thumbs.db, desktop.ini (Windows)."""
    return name in METADATA_NAMES or name.startswith("._")
