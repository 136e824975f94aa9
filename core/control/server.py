"""The recorder's side of the control channel.

Every connection has a reader thread; a subscription adds a writer thread fed
by a bounded queue. Publishing only puts into those queues, never waits, so a
slow or stuck subscriber cannot delay capture, encoding or sealing: when its
queue overflows it is told so (if it can still take a line) and dropped.

A connection that has not subscribed and sends nothing for IDLE_TIMEOUT is told
so and closed, and when all MAX_CLIENTS places are taken the one idle longest
makes room: connections that say nothing cannot lock the support tool out.
Marks are counted here against protocol.MAX_MARKS and MAX_MARK_BYTES.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import stat
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from recorder.control import pipe, protocol
from recorder.control.protocol import BadRequest
from recorder.control.address import bound_address
from recorder.version import __version__

log = logging.getLogger("recorder")
MAX_CLIENTS = 32
BACKLOG = 1000  # messages a subscriber may fall behind by before it is dropped
SEND_TIMEOUT = 2.0  # a subscriber that takes no data for this long is dropped
CLOSE_WAIT = 0.5  # at the end, how long subscribers get to take the last lines
IDLE_TIMEOUT = 60.0  # a connection that has not subscribed and sends nothing this long is closed
EVICT_IDLE = 2.0  # with every place taken, a connection idle this long makes room for a new one


def me() -> int | None:
    """This process's uid; None on Windows, where the pipe's key admits (control/pipe.py)."""
    if sys.platform == "win32":
        return None
    else:
        return os.geteuid()


def peer_uid(conn) -> int | None:
    """The uid of the process at the other end (Linux); None where the platform cannot tell."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None or isinstance(conn, pipe.PipeStream):
        return None  # macOS: the socket's 0700 folder is the barrier (getpeereid by design)
    creds = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


class Connection:
    def __init__(self, server: "ControlServer", conn: socket.socket):
        self.server, self.conn = server, conn
        self.send_lock = threading.Lock()
        self.outbox: queue.Queue | None = None  # set by subscribe
        self.closed = threading.Event()
        self.last_active = time.monotonic()
        # A send blocks at most this long: the reader answers requests, and a
        # client that does not read its answers is dropped, not waited for.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", int(SEND_TIMEOUT), 0))

    def send(self, message: dict[str, Any]) -> bool:
        line = protocol.encode(message)
        try:
            with self.send_lock:
                self.conn.sendall(line)
            return True
        except OSError:
            self.close()
            return False

    def idle_for(self, now: float) -> float:
        """Seconds since the last request; 0 for a subscriber (it listens, it need not speak)."""
        return 0.0 if self.outbox is not None else now - self.last_active

    def send_off(self, why: str) -> None:
        """Tell the client why it is closed (if it can take one line at once), and close."""
        with contextlib.suppress(OSError):
            self.conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 0, 100_000))
        self.send({"id": None, "ok": False, "error": why})
        self.close()

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        if self.outbox is not None:
            try:
                self.outbox.put_nowait(None)
            except queue.Full:
                pass
        try:
            self.conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.server.forget(self)

    # -- requests ---------------------------------------------------------------
    def serve(self) -> None:
        try:
            self.send(self.server.hello())
            reader = self.conn.makefile("rb")
            while not self.closed.is_set():
                line = reader.readline(protocol.MAX_LINE + 1)
                if not line:
                    break
                if len(line) > protocol.MAX_LINE:
                    self.send({"ok": False, "error": f"request longer than {protocol.MAX_LINE} bytes"})
                    break
                self.last_active = time.monotonic()
                if line.strip():
                    self.answer(line)
        except OSError:
            pass
        finally:
            self.close()
            self.conn.close()

    def answer(self, line: bytes) -> None:
        ident = None
        try:
            ident, command, args = protocol.decode_request(line)
            if command == "subscribe":
                result = self.subscribe(args)
                self.send({"id": ident, "ok": True, "result": result})  # before the first streamed line
                threading.Thread(target=self.write_stream, name="recorder-control-out", daemon=True).start()
                return
            if command in protocol.COUNTED:
                result = self.server.mark(args, command)
            else:
                result = self.server.handler(command, args)
            self.send({"id": ident, "ok": True, "result": result})
        except BadRequest as exc:
            ident = ident if exc.ident is None else exc.ident
            self.send({"id": ident, "ok": False, "error": str(exc)})
        except Exception as exc:  # the recorder goes on whatever a request does
            log.exception("control request failed")
            self.send({"id": ident, "ok": False, "error": f"internal error: {type(exc).__name__}: {exc}"})

    def subscribe(self, args: dict) -> dict:
        if self.outbox is not None:
            raise BadRequest("already subscribed")
        history = args.get("history", False)
        if not isinstance(history, bool):
            raise BadRequest("history: must be true or false")
        self.outbox = queue.Queue(BACKLOG)
        with self.server.lock:
            # The session so far, then what happens next, without a gap: an event
            # both in the history and published meanwhile is sent once (by seq).
            for message in self.server.history() if history else ():
                if not self.outbox.full():
                    self.outbox.put_nowait(message)
            self.server.subscribers.add(self)
        return {"subscribed": True}

    def offer(self, message: dict[str, Any]) -> None:
        try:
            self.outbox.put_nowait(message)
        except queue.Full:
            with self.server.lock:
                if self not in self.server.subscribers:
                    return  # being dropped already
                self.server.subscribers.discard(self)
            log.warning("control channel: a subscriber fell %d messages behind and was dropped", BACKLOG)
            threading.Thread(target=self._drop, daemon=True).start()

    def _drop(self) -> None:
        self.conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 0, 100_000))
        self.send({"type": "dropped", "reason": f"fell {BACKLOG} messages behind"})
        self.close()

    def write_stream(self) -> None:
        # Answers to this connection's own requests are sent by its reader thread:
        # the stream is written here, so neither waits for the other's reader.
        try:
            last_seq = -1
            while (message := self.outbox.get()) is not None:
                seq = message.get("seq")
                if isinstance(seq, int):
                    if seq <= last_seq:
                        continue
                    last_seq = seq
                if not self.send(message):
                    return
        except Exception as exc:  # a subscriber is never left connected and silent
            log.exception("control channel: a subscriber's stream failed")
            self.send_off(f"dropped: the stream failed ({type(exc).__name__}); subscribe again")


class ControlServer:
    """Listens on ``path`` for ``handler(command, args) -> result``; ``publish`` streams."""

    def __init__(self, path: Path, handler: Callable[[str, dict], Any], hello: Callable[[], dict],
                 history: Callable[[], list[dict]]):
        self.path, self.handler, self._hello, self.history = path, handler, hello, history
        self.lock = threading.Lock()
        self.connections: set[Connection] = set()
        self.subscribers: set[Connection] = set()
        self.sock: socket.socket | pipe.PipeListener | None = None
        self.thread: threading.Thread | None = None
        self.marks, self.mark_bytes = 0, 0  # this session's marks so far (seed_marks)
        self._ended = threading.Event()

    def hello(self) -> dict:
        return {"recorder": "control", "protocol": protocol.PROTOCOL, "version": __version__, **self._hello()}

    def start(self) -> None:
        if pipe.in_use():  # Windows: no Unix sockets there
            self.sock = pipe.PipeListener(self.path)
        elif sys.platform != "win32":
            self._remove_stale()
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            with bound_address(self.path) as address:
                sock.bind(address)
            os.chmod(self.path, 0o600)  # just created by bind, in a folder only this user can write
            sock.listen(16)
            self.sock = sock
        self.thread = threading.Thread(target=self._accept, name="recorder-control", daemon=True)
        self.thread.start()
        threading.Thread(target=self._close_idle, name="recorder-control-idle", daemon=True).start()

    def seed_marks(self, marks: list[dict]) -> None:
        """The marks the session has from before (a resumed session): they count against the cap."""
        self.marks, self.mark_bytes = len(marks), sum(protocol.mark_size(m) for m in marks)

    def mark(self, args: dict, command: str = "mark") -> Any:
        """A mark (or a hold, or a release: each rewrites session.json too): refused past the session's
        cap, else handed to the handler and counted."""
        size = protocol.mark_size(args)
        with self.lock:
            if self.marks >= protocol.MAX_MARKS:
                raise BadRequest(f"marks: this session has its {protocol.MAX_MARKS} marks, the most it "
                                 "keeps; this one is refused")
            if self.mark_bytes + size > protocol.MAX_MARK_BYTES:
                raise BadRequest(f"marks: this session has {self.mark_bytes} bytes of marks, and this one "
                                 f"would pass the {protocol.MAX_MARK_BYTES} it keeps; it is refused")
            self.marks += 1  # counted before the handler: two clients at once cannot both pass the cap
            self.mark_bytes += size
        try:
            return self.handler(command, args)
        except BaseException:
            with self.lock:
                self.marks -= 1
                self.mark_bytes -= size
            raise

    def _close_idle(self) -> None:
        while not self._ended.wait(min(1.0, IDLE_TIMEOUT / 4)):
            now = time.monotonic()
            with self.lock:
                idle = [c for c in self.connections if c.idle_for(now) > IDLE_TIMEOUT]
            for connection in idle:
                connection.send_off(f"idle for {IDLE_TIMEOUT:g} s without a request: closed")

    def _remove_stale(self) -> None:
        """Holding the profile's lock, any socket here is a dead recorder's: remove it,
        but never anything else (a planted file or link is refused, not followed)."""
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(info.st_mode) or info.st_uid != me():
            raise OSError(f"{self.path} exists and is not this user's control socket")
        os.unlink(self.path)

    def _accept(self) -> None:
        while True:
            listener = self.sock
            if listener is None:
                return  # closed
            try:
                accepted = listener.accept()
                conn = accepted if isinstance(accepted, pipe.PipeStream) else accepted[0]
            except OSError as exc:
                if self.sock is None:
                    return  # closed under accept()
                log.warning("control channel: accepting a connection failed: %s", exc)
                time.sleep(0.1)  # a persistent failure (no descriptors left) must not spin
                continue
            try:
                self._take(conn)
            except Exception:  # one client's trouble never ends the loop that serves the others
                log.exception("control channel: a connection could not be served")
                with contextlib.suppress(OSError):
                    conn.close()

    def _take(self, conn) -> None:
        uid = peer_uid(conn)
        if uid is not None and uid != me():
            # Another user reached the socket (a folder made accessible): refused.
            try:
                conn.sendall(protocol.encode({"ok": False, "error": "refused: this recorder's control "
                                              "channel serves only the user running it"}))
            except OSError:
                pass
            conn.close()
            return
        with self.lock:
            now = time.monotonic()
            idlest = max(self.connections, key=lambda c: c.idle_for(now), default=None)
            full = len(self.connections) >= MAX_CLIENTS
            if full and (idlest is None or idlest.idle_for(now) < EVICT_IDLE):
                with contextlib.suppress(OSError):
                    conn.sendall(protocol.encode({"ok": False, "error": f"busy: {MAX_CLIENTS} clients are "
                                                  "connected; try again in a moment"}))
                conn.close()
                return
        if full and idlest is not None:
            idlest.send_off(f"closed while idle: all {MAX_CLIENTS} places were taken")
        with self.lock:
            connection = Connection(self, conn)
            self.connections.add(connection)
        threading.Thread(target=connection.serve, name="recorder-control-in", daemon=True).start()

    def forget(self, connection: Connection) -> None:
        with self.lock:
            self.connections.discard(connection)
            self.subscribers.discard(connection)

    def publish(self, message: dict[str, Any]) -> None:
        with self.lock:
            subscribers = list(self.subscribers)
        for subscriber in subscribers:
            subscriber.offer(message)

    def close(self, last: dict[str, Any] | None = None) -> None:
        """Stop listening; subscribers get ``last`` and at most CLOSE_WAIT to take it."""
        sock, self.sock = self.sock, None  # None first: the accept loop knows the end is no failure
        if sock is None:
            return
        self._ended.set()
        sock.close()
        try:
            if stat.S_ISSOCK(os.lstat(self.path).st_mode):
                os.unlink(self.path)
        except OSError:
            pass
        with self.lock:
            subscribers, connections = list(self.subscribers), list(self.connections)
        for subscriber in subscribers:
            if last is not None:
                subscriber.offer(last)
            try:
                subscriber.outbox.put_nowait(None)  # the writer ends after the last line
            except queue.Full:
                pass
        deadline = time.monotonic() + CLOSE_WAIT
        while time.monotonic() < deadline and any(
                not s.closed.is_set() and not s.outbox.empty() for s in subscribers):
            time.sleep(0.01)
        for connection in connections:
            connection.close()
