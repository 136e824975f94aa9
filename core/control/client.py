"""Talking to a running recorder: what the CLI verbs (and a Python support tool) use."""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path
from typing import Any, Iterator

from recorder.control import pipe, protocol
from recorder.control.address import bound_address
from recorder.errors import RecorderError, UsageError
from recorder.session import lock


class ChannelError(RecorderError):
    """The recorder answered with an error, or went away mid-conversation."""


def endpoint(profile: str) -> Path:
    """What exists while a recorder listens: its Unix socket, or on Windows its pipe's key."""
    path = protocol.socket_path(lock.runtime_dir(), profile)
    return pipe.key_path(path) if pipe.in_use() else path


def running_profile(profile: str | None, wait: float = 0.0) -> str:
    """The profile whose recorder to talk to: the one given, or the only one running."""
    deadline = time.monotonic() + wait
    while True:
        running = lock.running_profiles()
        if profile is not None and (profile in running or endpoint(profile).exists()):
            return profile
        if profile is None and len(running) == 1:
            return running[0]
        if profile is None and len(running) > 1:
            raise UsageError(f"several recorders are running ({', '.join(running)}): use --profile")
        if time.monotonic() >= deadline:
            raise UsageError(f"no recorder is running for profile '{profile}'" if profile
                             else "no recorder is running")
        time.sleep(0.05)


def _connect(path: Path, timeout: float):
    """A connection to the recorder listening at ``path``: its Unix socket, or on Windows
    its named pipe (control/pipe.py). Raises FileNotFoundError or ConnectionRefusedError
    when nothing listens, PermissionError when it is not this user's."""
    if pipe.in_use():
        stream = pipe.connect(path)
        stream.settimeout(timeout)
        return stream
    if sys.platform != "win32":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            with bound_address(path) as address:
                sock.connect(address)
        except BaseException:
            sock.close()
            raise
        return sock
    raise FileNotFoundError(str(path))


class Client:
    """One connection: ``request()`` for commands, ``stream()`` after ``subscribe``."""

    def __init__(self, profile: str, *, wait: float = 0.0, timeout: float = 10.0):
        self.profile = profile
        path = endpoint(profile)
        deadline = time.monotonic() + wait
        while True:
            try:
                self.sock = _connect(path, timeout)
                break
            except (FileNotFoundError, ConnectionRefusedError) as exc:
                if time.monotonic() >= deadline:
                    raise UsageError(f"no recorder is running for profile '{profile}' "
                                     f"(nothing listens on {path})") from exc
                time.sleep(0.05)
            except PermissionError:
                raise UsageError(f"{path}: permission denied (the control channel serves only "
                                 "the user running the recorder)") from None
            except ConnectionResetError as exc:  # it connected, then did not finish the handshake
                raise ChannelError(f"the recorder for profile '{profile}' did not answer: {exc}") from None
        self.reader = self.sock.makefile("rb")
        self.hello = self._read()
        if self.hello.get("ok") is False:
            raise UsageError(f"the recorder refused the connection: {self.hello.get('error')}")
        if self.hello.get("protocol") != protocol.PROTOCOL:
            raise ChannelError(f"the recorder speaks control protocol {self.hello.get('protocol')!r}, "
                               f"this client {protocol.PROTOCOL}")
        self.next_id = 0

    def _read(self) -> dict[str, Any]:
        try:
            line = self.reader.readline(protocol.MAX_LINE * 16)
        except (socket.timeout, OSError) as exc:
            raise ChannelError(f"the recorder for profile '{self.profile}' did not answer: {exc}") from None
        if not line:
            raise ChannelError(f"the recorder for profile '{self.profile}' closed the connection")
        return json.loads(line)

    def request(self, command: str, **args: Any) -> Any:
        self.next_id += 1
        self.sock.sendall(protocol.encode({"id": self.next_id, "command": command, **args}))
        while True:
            answer = self._read()
            if answer.get("id") == self.next_id:
                break
        if not answer.get("ok"):
            raise UsageError(f"recorder ({self.profile}): {answer.get('error')}")
        return answer.get("result")

    def stream(self, history: bool = False, idle: float | None = None) -> Iterator[dict[str, Any]]:
        """Every message after subscribing, until the session ends (``ended``), the connection
        does, or (with ``idle``) nothing has come for that many seconds."""
        self.request("subscribe", history=history)
        self.sock.settimeout(idle)
        while True:
            try:
                message = self._read()
            except ChannelError:
                return
            yield message
            if message.get("type") in ("ended", "dropped"):
                return

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
