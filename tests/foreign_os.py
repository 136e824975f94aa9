"""Foreign-OS semantics on Linux: what Windows and macOS do differently where it
matters to recorder, given to this process by monkeypatching (a simulation: no
Windows or macOS machine is available here, see docs/platforms.md).

``windows(patch)``: no os.posix_fallocate, os.pread, os.pwrite, fcntl or
signal.SIGHUP; os.O_BINARY exists, and recorder code that opens a file with
os.open without it is recorded (Windows would open it in text mode, a CRLF for
each LF); os.open of a folder fails with EACCES; a rename, replace or unlink of a
file (or of a folder holding one) that another handle has open fails with a
sharing violation (PermissionError, winerror 32), as long as that handle stays
open; os.kill from recorder code is recorded (it is TerminateProcess there).
recorder.platform is told it runs on win32 (recorder.platform.system's sys);
the Win32 edges of recorder.platform.windows (the token's SID, reading and
setting a DACL, process liveness) are replaced by an in-memory ACL store.

``macos(patch)``: no os.posix_fallocate; fcntl has F_FULLFSYNC (recorded, then
a plain fsync); a Unix socket path of 104 bytes or more is refused (sun_path), and
/proc/self/fd names do not exist; recorder.platform is told it runs on darwin (recorder.platform.system's sys).

``main()`` applies either to a ``recorder`` command run as a subprocess
(``python foreign_os.py windows LOG -- ARGS``), so that the CLI paths (record,
stop, list, verify, recover) run under the simulation too.
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import signal
import sys
import threading
import types
import weakref

import filelock  # noqa: F401 - imported before fcntl goes away: its lock stays a kernel lock, as on Windows

O_BINARY = 0x40000000  # a bit Linux does not use; stripped before the real os.open
SHARING_VIOLATION = 32
USER_SID = "S-1-5-21-1004336348-1177238915-682003330-1001"
# A folder in a user profile: the user, SYSTEM and Administrators, inherited.
DEFAULT_SDDL = f"O:{USER_SID}D:AI(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIID;FA;;;{USER_SID})"
OURS = (os.sep + "core" + os.sep, os.sep + "plugins" + os.sep)


STDLIB = os.path.dirname(os.__file__)


def _stdlib_caller() -> bool:
    frame = sys._getframe(2)
    return frame.f_code.co_filename.startswith(STDLIB + os.sep) and "site-packages" not in frame.f_code.co_filename


class Patch:
    """The part of pytest's monkeypatch this module uses, for a subprocess (never undone)."""

    def setattr(self, target, name, value, raising=True):
        setattr(target, name, value)

    def delattr(self, target, name, raising=True):
        delattr(target, name)

    def setitem(self, mapping, key, value):
        mapping[key] = value


class Simulation:
    def __init__(self, system: str):
        self.system = system
        self.violations: list[str] = []  # what would go wrong on the real system
        self.sharing_violations = 0  # renames refused while a handle was open (then retried)
        self.full_fsyncs = 0
        self.acls: dict[str, str] = {}  # path -> SDDL, the simulated ACL store
        self.lock = threading.Lock()
        self.fds: dict[int, tuple[str, int]] = {}  # fd -> (path, inode)
        self.files: weakref.WeakSet = weakref.WeakSet()

    def caller(self) -> str | None:
        """recorder's frame that made the call (core/ or plugins/), or None for the stdlib
        and libraries (tempfile, for one, adds O_BINARY itself on Windows)."""
        frame = sys._getframe(2)
        while frame is not None:
            name = frame.f_code.co_filename
            if name == __file__:
                frame = frame.f_back
                continue
            if any(part in name for part in OURS) and "site-packages" not in name:
                return f"{name}:{frame.f_lineno}"
            return None
        return None

    # -- open handles -----------------------------------------------------------
    def open_paths(self) -> list[tuple[str, int]]:
        found = []
        with self.lock:
            for fd, (path, ino) in list(self.fds.items()):
                try:
                    if os.fstat(fd).st_ino == ino:
                        found.append((path, ino))
                        continue
                except OSError:
                    pass
                del self.fds[fd]
            for fh in list(self.files):
                if not fh.closed:
                    found.append(fh._sim_key)
        return found

    def in_use(self, path) -> bool:
        """Whether a handle is open on ``path`` or, for a folder, on anything inside it."""
        try:
            target = os.path.realpath(path)
            ino = os.stat(path).st_ino
        except OSError:
            return False
        for open_path, open_ino in self.open_paths():
            if open_ino == ino or open_path.startswith(target.rstrip(os.sep) + os.sep):
                return True
        return False

    def refuse(self, what: str, path) -> None:
        self.sharing_violations += 1
        exc = PermissionError(errno.EACCES, f"{what}: the process cannot access the file because it is "
                                            "being used by another process", str(path))
        exc.winerror = SHARING_VIOLATION
        raise exc


def windows(patch, sim: Simulation | None = None) -> Simulation:
    from recorder.platform import system, windows as win

    sim = sim or Simulation("windows")
    real_open, real_close, real_replace, real_rename, real_unlink = os.open, os.close, os.replace, os.rename, os.unlink
    real_kill, real_io_open = os.kill, io.open

    for name in ("posix_fallocate", "pread", "pwrite"):
        if hasattr(os, name):
            patch.delattr(os, name)
    patch.setitem(sys.modules, "fcntl", None)  # import fcntl: ImportError
    for name in ("SIGHUP", "SIGALRM", "setitimer"):
        if hasattr(signal, name):
            patch.delattr(signal, name)
    patch.setattr(os, "O_BINARY", O_BINARY, raising=False)

    def sim_open(path, flags, mode=0o777, *, dir_fd=None):
        real_flags = flags & ~O_BINARY
        # shutil.rmtree opens folders on Linux only (its Windows branch never does): the stdlib's own
        # Linux internals are let through, everything else is refused as Windows would.
        if dir_fd is None and os.path.isdir(path) and not flags & getattr(os, "O_PATH", 0) and not _stdlib_caller():
            raise PermissionError(errno.EACCES, "Permission denied (a folder cannot be opened on Windows)", str(path))
        fd = real_open(path, real_flags, mode, dir_fd=dir_fd)
        where = sim.caller()
        if where and not flags & O_BINARY and not os.path.isdir(path):
            sim.violations.append(f"{where}: os.open({path}) without O_BINARY (text mode on Windows)")
        try:
            with sim.lock:
                sim.fds[fd] = (os.path.realpath(path), os.fstat(fd).st_ino)
        except OSError:
            pass
        return fd

    def sim_close(fd):
        with sim.lock:
            sim.fds.pop(fd, None)
        return real_close(fd)

    def sim_io_open(file, *args, **kwargs):
        fh = real_io_open(file, *args, **kwargs)
        if isinstance(file, (str, bytes, os.PathLike)):
            try:
                fh._sim_key = (os.path.realpath(file), os.fstat(fh.fileno()).st_ino)
                sim.files.add(fh)
            except (OSError, AttributeError, TypeError):
                pass
        return fh

    def guarded(real, what):
        def call(src, dst, *args, **kwargs):
            if not kwargs and (sim.in_use(src) or sim.in_use(dst)):
                sim.refuse(what, dst)
            return real(src, dst, *args, **kwargs)
        return call

    def sim_unlink(path, *, dir_fd=None):
        if dir_fd is None and sim.in_use(path):
            sim.refuse("unlink", path)
        return real_unlink(path, dir_fd=dir_fd)

    def sim_kill(pid, sig):
        where = sim.caller()
        if where:
            sim.violations.append(f"{where}: os.kill({pid}, {sig}) (TerminateProcess or a console event on Windows)")
        return real_kill(pid, sig)

    patch.setattr(os, "open", sim_open)
    patch.setattr(os, "close", sim_close)
    patch.setattr(os, "replace", guarded(real_replace, "replace"))
    patch.setattr(os, "rename", guarded(real_rename, "rename"))
    patch.setattr(os, "unlink", sim_unlink)
    patch.setattr(os, "remove", sim_unlink)
    patch.setattr(os, "kill", sim_kill)
    patch.setattr(io, "open", sim_io_open)
    patch.setattr(builtins, "open", sim_io_open)

    # recorder.platform believes it runs on Windows; its ctypes edges are simulated.
    patch.setattr(system, "sys", types.SimpleNamespace(platform="win32"))
    patch.setattr(win, "user_sid", lambda: USER_SID)
    # SetFileSecurityW with DACL_SECURITY_INFORMATION: the DACL changes, the owner (the creator) stays.
    patch.setattr(win, "set_sddl",
                  lambda path, sddl: sim.acls.__setitem__(os.path.realpath(path), f"O:{USER_SID}{sddl}"))
    patch.setattr(win, "get_sddl", lambda path: sim.acls.get(os.path.realpath(path), DEFAULT_SDDL))
    patch.setattr(win, "process_alive", lambda pid: os.path.exists(f"/proc/{pid}"))
    return sim


def macos(patch, sim: Simulation | None = None) -> Simulation:
    from recorder.platform import system

    sim = sim or Simulation("macos")
    if hasattr(os, "posix_fallocate"):
        patch.delattr(os, "posix_fallocate")
    fake = types.ModuleType("fcntl")
    fake.F_FULLFSYNC = 51  # its value on macOS

    def fcntl(fd, cmd, arg=0):
        if cmd != fake.F_FULLFSYNC:
            raise OSError(errno.EINVAL, "only F_FULLFSYNC is simulated")
        sim.full_fsyncs += 1
        os.fsync(fd)
        return 0

    fake.fcntl = fcntl
    patch.setitem(sys.modules, "fcntl", fake)
    patch.setattr(system, "sys", types.SimpleNamespace(platform="darwin"))
    _macos_sun_path(patch)
    return sim


MACOS_SUN_PATH = 104  # sizeof(sockaddr_un.sun_path) on macOS, the terminating NUL included


def _macos_sun_path(patch) -> None:
    """A Unix socket path of 104 bytes or more is refused, as Python refuses it on macOS
    ("AF_UNIX path too long"); Linux's /proc/self/fd short names do not exist there."""
    import socket

    def limited(real):
        def call(self, address):
            if self.family == socket.AF_UNIX and isinstance(address, (str, bytes)):
                raw = os.fsencode(address)
                if raw.startswith(b"/proc/self/fd/"):
                    raise FileNotFoundError(errno.ENOENT, "no /proc on macOS", address)
                if not raw.startswith(b"\0") and len(raw) >= MACOS_SUN_PATH:
                    raise OSError("AF_UNIX path too long")
            return real(self, address)
        return call

    patch.setattr(socket.socket, "bind", limited(socket.socket.bind))
    patch.setattr(socket.socket, "connect", limited(socket.socket.connect))


def main() -> None:
    """``python foreign_os.py SYSTEM LOG -- recorder ARGS``: the recorder CLI under SYSTEM's
    semantics; what would go wrong there is written to LOG as JSON at exit."""
    import atexit

    system, log = sys.argv[1], sys.argv[2]
    args = sys.argv[sys.argv.index("--") + 1:]
    sim = (windows if system == "windows" else macos)(Patch())

    def dump():
        with real_open_text(log) as fh:
            json.dump({"violations": sim.violations, "sharing_violations": sim.sharing_violations,
                       "full_fsyncs": sim.full_fsyncs}, fh)

    atexit.register(dump)
    from recorder.cli.main import main as recorder_main

    sys.argv = ["recorder", *args]
    recorder_main()


_builtin_open = builtins.open


def real_open_text(path):
    return _builtin_open(path, "w", encoding="utf-8")


if __name__ == "__main__":
    main()
