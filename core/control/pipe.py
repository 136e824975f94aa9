"""The control channel on Windows: a named pipe, ``\\\\.\\pipe\\recorder-USER-PROFILE``.

Python has no Unix sockets on Windows. multiprocessing.connection speaks named
pipes there (overlapped I/O, so one thread may read while another writes) and
authenticates both ends with an HMAC challenge on a key: the key lives in a file
in the runtime dir, which only the user can open (owner-only ACL), so only the
user's processes can talk to the recorder, and the client knows the pipe is the
recorder's and not a squatter's. The JSON lines of the protocol travel unchanged,
one or more per pipe message.

``PipeStream`` gives a connection the few socket methods the server and client
use. Elsewhere the same code runs over an AF_UNIX address, which is how the
tests exercise it on Linux (simulated Windows, see docs/platforms.md).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import sys
import threading
from multiprocessing import AuthenticationError
from multiprocessing import connection as mpc
from pathlib import Path

from recorder import platform
from recorder.store.files import write_private


def in_use() -> bool:
    """Whether the control channel is a named pipe (Windows) rather than a Unix socket."""
    return platform.is_windows()


def key_path(socket_path: Path) -> Path:
    """The key beside where the socket would be: it says a recorder listens, and admits."""
    return socket_path.with_suffix(".key")


def _address(socket_path: Path) -> tuple[str, str]:
    if sys.platform == "win32":
        return platform.pipe_name(socket_path.stem), "AF_PIPE"
    # The simulation on Linux: an abstract socket name is, like a pipe name, one namespace per
    # machine with no file; the runtime dir's hash keeps test homes apart.
    digest = hashlib.sha256(os.fsencode(socket_path.parent)).hexdigest()[:16]
    return f"\0recorder-{digest}-{socket_path.stem}", "AF_UNIX"


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


class PipeListener:
    """The recorder's end: a key written first (owner-only), then the pipe."""

    def __init__(self, socket_path: Path):
        self.key_file = key_path(socket_path)
        self.key = secrets.token_bytes(32)
        write_private(self.key_file, self.key.hex().encode())
        address, family = _address(socket_path)
        self.address, self.family = address, family
        self.listener = mpc.Listener(address, family=family, backlog=16, authkey=self.key)
        self.closing = False

    def accept(self) -> PipeStream:
        while True:
            if self.closing:
                raise OSError("closed")
            try:
                conn = self.listener.accept()
            except AuthenticationError:
                continue  # someone without the key: refused
            if self.closing:
                conn.close()
                raise OSError("closed")
            return PipeStream(conn)

    def close(self) -> None:
        self.closing = True
        self.key_file.unlink(missing_ok=True)
        # accept() does not return when the listener is closed under it: a last connection wakes it.
        waker = threading.Thread(target=self._wake, daemon=True)
        waker.start()
        waker.join(1.0)
        self.listener.close()

    def _wake(self) -> None:
        try:
            mpc.Client(self.address, family=self.family, authkey=self.key).close()
        except (OSError, EOFError, AuthenticationError):
            pass


def connect(socket_path: Path) -> PipeStream:
    """The client's end. FileNotFoundError when no recorder listens (no key, no pipe);
    PermissionError when the key cannot be read (another user's recorder)."""
    key = bytes.fromhex(key_path(socket_path).read_bytes().decode("ascii", "replace").strip() or "00")
    address, family = _address(socket_path)
    try:
        return PipeStream(mpc.Client(address, family=family, authkey=key))
    except AuthenticationError:
        raise PermissionError("the control channel did not accept this user's key") from None
    except (ConnectionRefusedError, FileNotFoundError) as exc:
        raise FileNotFoundError(str(exc)) from None
