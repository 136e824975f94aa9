"""The control channel on Windows: a named pipe, ``\\\\.\\pipe\\recorder-USER-PROFILE``.

Python has no Unix sockets on Windows. The pipe's instances are created by
``win32_pipe`` with a security descriptor of their own (the user and SYSTEM, nobody
else) and PIPE_REJECT_REMOTE_CLIENTS; what travels over them is
multiprocessing.connection's (overlapped I/O, so one thread may read while another
writes), and both ends prove they hold a key with its HMAC challenge: the key lives
in a file in the runtime dir that only the user can open (an explicit owner-only
DACL, set before the first byte), so the client knows the pipe is the recorder's and
not a squatter's, and the recorder that the client is its user's process.

The handshake runs on a thread of its own per connection, with a deadline: a client
that connects and says nothing, hangs up half-way or answers garbage costs that
thread a few seconds and never holds up the accept loop (``recorder stop`` gets its
own instance at once). The JSON lines of the protocol travel unchanged, one or more
per pipe message; ``PipeStream`` gives a connection the few socket methods the server
and client use. Elsewhere the same code runs over an AF_UNIX address, which is how
the tests exercise it on Linux (simulated Windows, see docs/platforms.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import queue
import secrets
import socket
import struct
import sys
import tempfile
import threading
import time
from multiprocessing import AuthenticationError
from multiprocessing import connection as mpc
from pathlib import Path
from typing import Any, Protocol

from recorder import platform

if sys.platform == "win32":
    from recorder.control import win32_pipe
    from recorder.platform.windows import user_sid

log = logging.getLogger("recorder")
HANDSHAKE_DEADLINE = 5.0  # seconds a connecting client has to prove it holds the key
MAX_HANDSHAKES = 128  # handshakes under way at once; a connection beyond them is closed at once
CONNECT_WAIT = 5.0  # seconds a client waits while every pipe instance is busy


def in_use() -> bool:
    """Whether the control channel is a named pipe (Windows) rather than a Unix socket."""
    return platform.is_windows()


def key_path(socket_path: Path) -> Path:
    """The key beside where the socket would be: it says a recorder listens, and admits."""
    return socket_path.with_suffix(".key")


def _address(socket_path: Path) -> str:
    if sys.platform == "win32":
        return platform.pipe_name(socket_path.stem)
    # The simulation on Linux: an abstract socket name is, like a pipe name, one namespace per
    # machine with no file; the runtime dir's hash keeps test homes apart.
    digest = hashlib.sha256(os.fsencode(socket_path.parent)).hexdigest()[:16]
    return f"\0recorder-{digest}-{socket_path.stem}"


class PipeStream:
    """A multiprocessing connection with the socket methods the control channel uses."""

    def __init__(self, conn: mpc.Connection):
        self.conn = conn
        self.buffer = b""
        self.timeout: float | None = None
        self.lock = threading.Lock()

    def sendall(self, data: bytes) -> None:
        with self.lock:
            try:
                self.conn.send_bytes(data)
            except (EOFError, ValueError) as exc:  # closed: as a socket would say
                raise OSError(str(exc) or "the pipe is closed") from None

    def readline(self, limit: int = -1) -> bytes:
        while b"\n" not in self.buffer and (limit < 0 or len(self.buffer) < limit):
            try:
                if self.timeout is not None and not self.conn.poll(self.timeout):
                    raise socket.timeout("timed out")
                self.buffer += self.conn.recv_bytes()
            except (EOFError, OSError, ValueError) as exc:
                if isinstance(exc, socket.timeout):
                    raise
                line, self.buffer = self.buffer, b""
                return line
        end = self.buffer.find(b"\n") + 1 or len(self.buffer)
        if limit >= 0:
            end = min(end, limit)
        line, self.buffer = self.buffer[:end], self.buffer[end:]
        return line

    def makefile(self, mode: str = "rb") -> "PipeStream":
        return self

    def settimeout(self, timeout: float | None) -> None:
        self.timeout = timeout

    def setsockopt(self, *args) -> None:
        pass  # no send timeout on a pipe: a stuck reader blocks only its own writer thread

    def shutdown(self, how: int) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.conn.close()
        except OSError:
            pass


class _Deadlined:
    """A connection whose reads give up at ``deadline`` (time.monotonic()): what the
    handshake reads through, so that a silent peer costs seconds, not a thread forever."""

    def __init__(self, conn: Any, deadline: float):
        self.conn, self.deadline = conn, deadline

    def send_bytes(self, data: bytes) -> None:
        self.conn.send_bytes(data)

    def recv_bytes(self, maxlength: int | None = None) -> bytes:
        if not self.conn.poll(max(0.0, self.deadline - time.monotonic())):
            raise TimeoutError("no answer before the handshake's deadline")
        return self.conn.recv_bytes(maxlength)


def _handshake(conn: Any, key: bytes, *, server: bool) -> None:
    """Both ends prove they hold ``key`` (multiprocessing's HMAC challenge, each way).
    AuthenticationError for a wrong key; TimeoutError, EOFError or OSError when the
    peer is silent, hangs up or talks nonsense."""
    timed: Any = _Deadlined(conn, time.monotonic() + HANDSHAKE_DEADLINE)
    if server:
        mpc.deliver_challenge(timed, key)
        mpc.answer_challenge(timed, key)
    else:
        mpc.answer_challenge(timed, key)
        mpc.deliver_challenge(timed, key)


class _Instances(Protocol):
    def accept(self) -> Any | None:
        """The next connected client (not yet authenticated), None once closed."""

    def close(self) -> None:
        """Wake accept() for good."""


class _UnixInstances:
    """The Linux simulation's endpoint: an abstract AF_UNIX socket."""

    def __init__(self, address: str):
        if sys.platform == "win32":  # an if, not an assert: type checkers skip it elsewhere
            raise OSError("no Unix sockets here: the named pipe serves")
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(address)
            self.sock.listen(64)
            self.closing = False

    def accept(self) -> Any | None:
        try:
            sock, _ = self.sock.accept()
        except OSError:
            if self.closing:
                return None
            raise
        # a peer that sends half a message and stalls: the read fails instead of waiting
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", int(HANDSHAKE_DEADLINE), 0))
        return mpc.Connection(sock.detach())

    def close(self) -> None:
        self.closing = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes accept()
        self.sock.close()


class _PipeInstances:
    """Windows: owner-only pipe instances, the next one created as soon as one is taken."""

    def __init__(self, address: str):
        if sys.platform == "win32":  # an if, not an assert: type checkers skip it elsewhere
            self.address = address
            self.security = win32_pipe.SecurityDescriptor(win32_pipe.owner_only_sddl(user_sid()))
            self.stop = win32_pipe.Event()
            self.lock = threading.Lock()  # over ``spare``: close() may run while accept() waits
            self.closed = False
            self.spare: int | None = win32_pipe.create_instance(address, self.security, first=True)
        else:
            raise OSError("no named pipes here")

    def accept(self) -> Any | None:
        if sys.platform == "win32":
            while True:
                with self.lock:
                    if self.closed:
                        return None
                    handle, self.spare = self.spare, None
                if handle is None:
                    handle = win32_pipe.create_instance(self.address, self.security, first=False)
                try:
                    connected = win32_pipe.wait_for_client(handle, self.stop)
                except OSError:
                    win32_pipe.kernel32.CloseHandle(handle)
                    continue  # the client hung up before it was served: the next one
                if not connected:
                    win32_pipe.kernel32.CloseHandle(handle)
                    return None
                # The next instance before this one is handed over: a client finds every
                # instance busy only for as long as this takes (and then waits, WaitNamedPipe).
                with contextlib.suppress(OSError):
                    self._keep_spare(win32_pipe.create_instance(self.address, self.security, first=False))
                return mpc.PipeConnection(handle)
        return None

    def _keep_spare(self, handle: int) -> None:
        if sys.platform == "win32":
            with self.lock:
                if not self.closed:
                    self.spare, handle = handle, 0
            if handle:
                win32_pipe.kernel32.CloseHandle(handle)

    def close(self) -> None:
        if sys.platform == "win32":
            with self.lock:
                self.closed, spare, self.spare = True, self.spare, None
            self.stop.set()  # wakes accept()
            if spare is not None:
                win32_pipe.kernel32.CloseHandle(spare)


class PipeListener:
    """The recorder's end: the pipe's first instance (which claims the name), then the key
    (owner-only) that tells clients a recorder listens. ``accept()`` returns only
    connections that passed the handshake."""

    def __init__(self, socket_path: Path):
        self.key_file = key_path(socket_path)
        self.key = secrets.token_bytes(32)
        self.address = _address(socket_path)
        self.instances: _Instances = (_PipeInstances if sys.platform == "win32" else _UnixInstances)(self.address)
        try:
            _write_key(self.key_file, self.key)
        except BaseException:
            self.instances.close()
            raise
        self.closing = False
        self.admitted: queue.Queue[PipeStream | None] = queue.Queue()
        self.handshakes = threading.BoundedSemaphore(MAX_HANDSHAKES)
        self.thread = threading.Thread(target=self._accept_loop, name="recorder-control-pipe", daemon=True)
        self.thread.start()

    def _accept_loop(self) -> None:
        while not self.closing:
            try:
                conn = self.instances.accept()
            except OSError as exc:  # this connection's trouble (or no instance to be had): the next
                log.warning("control channel: %s", exc)
                time.sleep(0.1)
                continue
            if conn is None:
                break
            if not self.handshakes.acquire(blocking=False):
                conn.close()  # too many at once: this one is refused, those under way go on
                continue
            threading.Thread(target=self._admit, args=(conn,), name="recorder-control-handshake",
                             daemon=True).start()
        self.admitted.put(None)

    def _admit(self, conn: Any) -> None:
        try:
            _handshake(conn, self.key, server=True)
            if sys.platform != "win32":  # the simulation's socket: reads wait again from now on
                with socket.socket(fileno=os.dup(conn.fileno())) as sock:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 0))
        except Exception as exc:  # silent, hung up, wrong key or nonsense: that client only
            log.debug("control channel: a connection failed its handshake: %r", exc)
            conn.close()
            return
        finally:
            self.handshakes.release()
        if self.closing:
            conn.close()
        else:
            self.admitted.put(PipeStream(conn))

    def accept(self) -> PipeStream:
        stream = self.admitted.get()
        if stream is None:
            self.admitted.put(None)  # for any other caller
            raise OSError("closed")
        return stream

    def close(self) -> None:
        self.closing = True
        self.key_file.unlink(missing_ok=True)
        self.instances.close()
        self.thread.join(2.0)
        while True:  # admitted but never taken
            try:
                stream = self.admitted.get_nowait()
            except queue.Empty:
                break
            if stream is not None:
                stream.close()
        self.admitted.put(None)


def _write_key(path: Path, key: bytes) -> None:
    """The key, readable by its user alone from the first byte: an empty temporary file made
    owner-only (on Windows an explicit, protected DACL: chmod would only toggle read-only),
    then written and renamed into place (the DACL goes with it)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            platform.make_owner_only(tmp, folder=False)
            fh.write(key.hex().encode("ascii"))
            fh.flush()
            platform.fsync(fh.fileno())
        platform.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _open(address: str) -> Any:
    if sys.platform == "win32":
        return win32_pipe.open_client(address, CONNECT_WAIT)
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(address)
        except OSError:
            sock.close()
            raise
        return mpc.Connection(sock.detach())


def connect(socket_path: Path) -> PipeStream:
    """The client's end. FileNotFoundError when no recorder listens (no key, no pipe);
    PermissionError when the key cannot be read or is not the recorder's (another user's
    recorder, or a squatter on the name); ConnectionResetError when the recorder did not
    finish the handshake in time."""
    key = bytes.fromhex(key_path(socket_path).read_bytes().decode("ascii", "replace").strip() or "00")
    try:
        conn = _open(_address(socket_path))
    except (ConnectionRefusedError, FileNotFoundError) as exc:
        raise FileNotFoundError(str(exc)) from None
    try:
        _handshake(conn, key, server=False)
    except AuthenticationError:
        conn.close()
        raise PermissionError("the control channel did not accept this user's key") from None
    except (EOFError, OSError) as exc:  # TimeoutError is an OSError
        conn.close()
        raise ConnectionResetError(f"the recorder did not finish the handshake: {exc or type(exc).__name__}") from None
    return PipeStream(conn)
